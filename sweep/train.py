"""One trial's training: epochs, early stopping on the validation metric, pruning reports.

    result = fit(model, data, spec.training, metric="accuracy", direction="maximize",
                 on_epoch=report_to_optuna)

The loop is deliberately one function. What it does beyond the textbook, and why:
- the best weights (by the validation metric) are kept and restored at the end, so a trial
  is judged and checkpointed at its best epoch, not its last (`training.keep: last`: its
  last epoch, judged by that epoch's value);
- a NaN/inf training loss stops the trial with `Diverged`, a state rather than a crash;
- `on_epoch` is where a study reports to Optuna and may raise `optuna.TrialPruned`;
- options of `TrainingSpec` beyond the reference: a learning-rate schedule (`LRSchedule`),
  SpecAugment masks and mixup on training batches (`sweep.augment`, from a random stream of
  their own, so turning them on leaves the batches as they were), batches bucketed by length,
  and weight averaging (`WeightAverage`: the moving average of the weights is what is
  validated, checkpointed and kept).

Evaluation (`predict`) feeds tracks sorted by length in batches of up to EVAL_BATCH_FACTOR
training batches: less padding, fewer and larger matrix products, the same outputs (a model
in eval mode treats each track alone; padding never changes its output).

For benchmarks: with `SWEEP_MARK_FIRST_STEP=path` set, a fit writes `time.time()` to that
file right after its first optimizer step (benchmarks/engine.py measures start-up with it).
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from sweep.augment import mask_batch, mixup
from sweep.data import PreparedData, Split
from sweep.metrics import validation_scores
from sweep.spec import TrainingSpec
from sweep.tracks import TrackSet, pad_batch, windows

EVAL_BATCH_FACTOR = 2  # an evaluation batch: up to 2 training batches' tracks and frames


class Diverged(Exception):
    """The training loss became NaN or infinite."""


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float
    val: dict[str, float]  # validation metrics
    seconds: float
    lr: float = float("nan")  # the learning rate of the epoch's last step


@dataclass
class FitResult:
    best_epoch: int
    best_value: float
    history: list[EpochRecord] = field(default_factory=list)
    stopped_early: bool = False
    state_dict: dict | None = None  # the best weights, on the CPU
    best_outputs: np.ndarray | None = None  # validation outputs at the best epoch


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def set_threads(threads: int | None) -> None:
    """Torch's threads: `threads`, else every core this process may use (sweep.cores)."""
    from sweep.cores import usable_cores

    torch.set_num_threads(threads or usable_cores())


def predict(
    model: torch.nn.Module, data: PreparedData, split: Split, batch_size: int, device: torch.device
) -> tuple[np.ndarray, float]:
    """Model outputs (probabilities or values) for a whole split, and its mean loss.

    A model trained on random crops with `data.eval_windows` sees each track as windows of
    the crop width; its raw outputs are averaged over a track's windows.
    """
    model.eval()
    spec = data.spec
    if spec.crop_frames and spec.eval_windows:
        tracks, owner = windows(split.tracks, spec.crop_frames)
        raw = _raw_outputs(model, data, tracks, batch_size, device)
        summed = np.zeros((len(split), raw.shape[1]), dtype=np.float64)
        np.add.at(summed, owner, raw)
        raw = (summed / np.bincount(owner, minlength=len(split))[:, None]).astype(np.float32)
    else:
        raw = _raw_outputs(model, data, split.tracks, batch_size, device)
    with torch.inference_mode():
        raw_t = torch.from_numpy(raw).to(device)
        loss = float("nan")
        if split.targets is not None:
            loss = float(model.loss(raw_t, torch.from_numpy(split.targets).to(device)))
        outputs = model.head.predict(raw_t).float().cpu().numpy()
    return outputs, loss


def _raw_outputs(
    model: torch.nn.Module,
    data: PreparedData,
    tracks: TrackSet,
    batch_size: int,
    device: torch.device,
) -> np.ndarray:
    """The model's raw outputs (logits or values) for every track, in order."""
    spec = data.spec
    width = spec.crop_frames or spec.max_length or int(tracks.lengths.max(initial=1))
    out = None
    with torch.inference_mode():
        for idx in eval_batches(tracks.lengths, batch_size, width, spec.max_length):
            x, lengths = pad_batch(tracks, idx, data.pad_value, spec.max_length)
            raw = model(torch.from_numpy(x).to(device), torch.from_numpy(lengths))
            raw = raw.float().cpu().numpy()
            if out is None:
                out = np.empty((len(tracks), *raw.shape[1:]), dtype=np.float32)
            out[idx] = raw
    return out


def eval_batches(
    lengths: np.ndarray, batch_size: int, width: int, pad_to: int | None = None
) -> list[np.ndarray]:
    """Index batches for evaluation: the tracks sorted by length, cut into batches of at
    least `batch_size` tracks and at most EVAL_BATCH_FACTOR times as many tracks and as many
    padded frames as a training batch of `width` frames (`pad_to`: every batch that wide)."""
    order = np.argsort(lengths, kind="stable")
    padded = np.full(len(order), pad_to) if pad_to else lengths[order]  # each batch's width
    most_tracks = EVAL_BATCH_FACTOR * batch_size
    frames = most_tracks * width  # the most padded frames of a batch
    batches, start, n = [], 0, len(order)
    while start < n:
        end = min(start + batch_size, n)
        while end < n and end - start < most_tracks and (end + 1 - start) * padded[end] <= frames:
            end += 1
        batches.append(order[start:end])
        start = end
    return batches


def fit(
    model: torch.nn.Module,
    data: PreparedData,
    training: TrainingSpec,
    metric: str,
    direction: str,
    on_epoch: Callable[[EpochRecord, float], None] | None = None,
    validate: bool = True,
    epochs: int | None = None,
) -> FitResult:
    """Train with early stopping on the validation `metric`; the best weights are restored
    (with `training.ema_epochs`, the averaged weights: those are validated and kept), or
    with `training.keep: last` the last epoch's, the result's best epoch and value that
    epoch's.

    `validate=False` (refitting a chosen configuration on train+validation): exactly
    `epochs` epochs (default `training.max_epochs`), no validation, the last weights kept.
    The learning-rate schedule is laid out over `training.max_epochs` either way, so a refit
    stopped at the search's best epoch has the warm-up and cosine learning rates the
    search's model had up to that epoch, not a cosine squeezed into fewer epochs (a plateau
    schedule, with no validation, cuts on the training loss instead).

    Raises:
        ValueError: `epochs` above `training.max_epochs` (the schedule ends there).
    """
    if epochs is not None and not 1 <= epochs <= training.max_epochs:
        raise ValueError(f"epochs {epochs} is not within 1..max_epochs {training.max_epochs}")
    torch.manual_seed(training.seed)
    rng = np.random.default_rng(training.seed)
    augment_rng = np.random.default_rng([1, training.seed])  # masks and mixup: their own stream
    masks = training.time_mask > 0 or training.freq_mask > 0
    n_classes = len(data.class_names) if data.task == "classification" else None
    device = pick_device(training.device)
    model.to(device)
    optimizer = _optimizer(model, training)
    steps = steps_per_epoch(len(data.train), training.batch_size)
    schedule = LRSchedule(training, steps)
    average = WeightAverage(model, training.ema_epochs, steps) if training.ema_epochs else None
    judged = average.model if average else model  # the weights validated and kept
    step = 0
    sign = 1.0 if direction == "maximize" else -1.0
    result = FitResult(best_epoch=0, best_value=float("nan"))
    best_score, waited = -np.inf, 0
    mark_first_step = os.environ.get("SWEEP_MARK_FIRST_STEP")

    for epoch in range(1, (epochs or training.max_epochs) + 1):
        started = time.perf_counter()
        model.train()
        # Transfer: the new head learns alone first, the backbone (and its BatchNorm
        # statistics) untouched; then everything is fine-tuned.
        frozen = epoch <= training.freeze_epochs
        for p in model.backbone.parameters():
            p.requires_grad_(not frozen)
        if frozen:
            model.backbone.eval()
        total, seen = 0.0, 0
        for x, lengths, y in data.batches(
            data.train, training.batch_size, rng=rng, bucket=training.length_buckets
        ):
            if len(x) == 1 and len(data.train) > 1:
                continue  # a last batch of one breaks BatchNorm statistics; skip it
            if masks:
                x = mask_batch(
                    x,
                    lengths,
                    data.pad_value,
                    augment_rng,
                    training.time_mask,
                    training.time_masks,
                    training.freq_mask,
                    training.freq_masks,
                )
            if training.mixup > 0:
                x, lengths, y = mixup(x, lengths, y, training.mixup, augment_rng, n_classes)
            outputs = model(torch.from_numpy(x).to(device), torch.from_numpy(lengths))
            loss = model.loss(outputs, torch.from_numpy(y).to(device))
            if not torch.isfinite(loss):
                raise Diverged(f"training loss became {loss.item()} at epoch {epoch}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if training.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), training.grad_clip)
            if not schedule.constant:
                for group in optimizer.param_groups:
                    group["lr"] = schedule.lr(step)
            optimizer.step()
            if average:
                average.update()
            step += 1
            if mark_first_step:
                Path(mark_first_step).write_text(repr(time.time()))
                mark_first_step = None
            total += loss.detach().item() * len(x)
            seen += len(x)

        if not validate:
            seconds = time.perf_counter() - started
            lr = optimizer.param_groups[0]["lr"]
            result.history.append(EpochRecord(epoch, total / max(seen, 1), np.nan, {}, seconds, lr))
            schedule.epoch_end(-total / max(seen, 1))  # no validation: plateau on train loss
            result.best_epoch = epoch
            continue
        outputs, val_loss = predict(judged, data, data.validation, training.batch_size, device)
        scores = {
            "loss": val_loss,
            **validation_scores(data.task, outputs, data.validation.targets),
        }
        record = EpochRecord(
            epoch,
            total / max(seen, 1),
            val_loss,
            scores,
            time.perf_counter() - started,
            optimizer.param_groups[0]["lr"],
        )
        result.history.append(record)
        value = scores[metric]
        if not np.isfinite(value):
            raise Diverged(f"validation {metric} became {value} at epoch {epoch}")
        schedule.epoch_end(sign * value)
        if sign * value > best_score + training.min_delta:
            best_score, waited = sign * value, 0
            if training.keep == "best":
                result.best_epoch, result.best_value = epoch, value
                result.state_dict = _cpu_copy(judged)
                result.best_outputs = outputs
        else:
            waited += 1
        if training.keep == "last":  # the weights are copied once, after the loop
            result.best_epoch, result.best_value, result.best_outputs = epoch, value, outputs
        if on_epoch is not None:
            on_epoch(record, value)  # may raise optuna.TrialPruned
        if training.patience is not None and waited >= training.patience:
            result.stopped_early = True
            break

    if training.keep == "last" and validate:
        result.state_dict = _cpu_copy(judged)
    if result.state_dict is not None:
        model.load_state_dict(result.state_dict)
    elif average:  # a refit keeps its last weights: the average's
        model.load_state_dict(average.model.state_dict())
    return result


def _cpu_copy(model: torch.nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def steps_per_epoch(n_tracks: int, batch_size: int) -> int:
    """Optimizer steps in an epoch: one per batch, less a last batch of one (skipped)."""
    steps = -(-n_tracks // batch_size)
    return steps - 1 if n_tracks % batch_size == 1 and n_tracks > 1 else steps


class WeightAverage:
    """An exponential moving average of a model's weights (Polyak averaging with exponential
    weights, as timm's ModelEmaV2 and torch's AveragedModel keep it), updated after every
    optimizer step. The average spans about `epochs` epochs: its decay is 1 - 1 / (epochs *
    steps_per_epoch), and after step t (from 0) it is min(decay, (1 + t) / (10 + t)) (the
    `num_updates` rule of TensorFlow's ExponentialMovingAverage), so the first steps'
    weights do not linger in it. Floating-point buffers (BatchNorm's running statistics)
    are averaged too; integer ones (its batch count) are copied. Meant for small data,
    where validation ranks epochs by chance; measured on genre_full (README "Performance")
    it smoothed the validation curve but was no better where a cosine schedule anneals.
    """

    def __init__(self, model: torch.nn.Module, epochs: float, steps_per_epoch: int) -> None:
        self.model = copy.deepcopy(model)
        self.model.requires_grad_(False)
        for module in self.model.modules():
            if isinstance(module, torch.nn.RNNBase):
                module.flatten_parameters()  # a copy's weights are not one block (CUDA)
        self.decay = 1.0 - 1.0 / max(epochs * steps_per_epoch, 1.0)
        self.updates = 0
        source = [*model.parameters(), *model.buffers()]
        target = [*self.model.parameters(), *self.model.buffers()]
        pairs = list(zip(target, source, strict=True))
        self._averaged = [t for t, _ in pairs if t.is_floating_point()]
        self._current = [s for t, s in pairs if t.is_floating_point()]
        self._copied = [(t, s) for t, s in pairs if not t.is_floating_point()]

    @torch.no_grad()
    def update(self) -> None:
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        torch._foreach_lerp_(self._averaged, self._current, 1.0 - decay)
        for target, source in self._copied:
            target.copy_(source)


class LRSchedule:
    """The learning rate of every optimizer step, from `training`:

    - warm-up: over the first `warmup_epochs`, step i (from 0) of W gets lr * (i + 1) / W;
    - cosine: then lr * (1 + cos(pi * p)) / 2, p going from 0 at the end of the warm-up to
      1 at the end of `max_epochs` (early stopping may end it sooner);
    - plateau: lr times `plateau_factor` for every `plateau_patience` epochs in a row whose
      metric was not better than the best by more than `min_delta` (ReduceLROnPlateau's rule,
      counted like early stopping); `epoch_end` hands it each epoch's metric;
    - none (the reference): lr throughout, and the optimizer's lr is never touched.
    """

    def __init__(self, training: TrainingSpec, steps_per_epoch: int) -> None:
        self.base, self.kind = training.lr, training.lr_schedule
        self.warmup = training.warmup_epochs * steps_per_epoch
        self.total = max(training.max_epochs * steps_per_epoch, 1)
        self.factor, self.patience = training.plateau_factor, training.plateau_patience
        self.min_delta = training.min_delta
        self.scale, self.best, self.waited = 1.0, -math.inf, 0

    @property
    def constant(self) -> bool:
        return self.kind == "none" and self.warmup == 0

    def lr(self, step: int) -> float:
        """The learning rate of optimizer step `step` (0, 1, ...)."""
        lr = self.base * self.scale
        if step < self.warmup:
            return lr * (step + 1) / self.warmup
        if self.kind == "cosine":
            progress = min((step - self.warmup) / max(self.total - self.warmup, 1), 1.0)
            lr *= 0.5 * (1.0 + math.cos(math.pi * progress))
        return lr

    def epoch_end(self, score: float) -> None:
        """Plateau bookkeeping; `score` is signed so that higher is better."""
        if self.kind != "plateau":
            return
        if score > self.best + self.min_delta:
            self.best, self.waited = score, 0
            return
        self.waited += 1
        if self.waited >= self.patience:
            self.scale *= self.factor
            self.waited = 0


def _optimizer(model: torch.nn.Module, training: TrainingSpec) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if training.optimizer == "adam":
        return torch.optim.Adam(params, lr=training.lr, weight_decay=training.weight_decay)
    if training.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=training.lr, weight_decay=training.weight_decay)
    return torch.optim.SGD(params, lr=training.lr, momentum=0.9, weight_decay=training.weight_decay)
