"""One trial's training: epochs, early stopping on the validation metric, pruning reports.

    result = fit(model, data, spec.training, metric="accuracy", direction="maximize",
                 on_epoch=report_to_optuna)

The loop is deliberately one function. What it does beyond the textbook, and why:
- the best weights (by the validation metric) are kept and restored at the end, so a trial
  is judged and checkpointed at its best epoch, not its last;
- a NaN/inf training loss stops the trial with `Diverged`, a state rather than a crash;
- `on_epoch` is where a study reports to Optuna and may raise `optuna.TrialPruned`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from sweep.data import PreparedData, Split
from sweep.metrics import validation_scores
from sweep.spec import TrainingSpec
from sweep.tracks import TrackSet, pad_batch, windows


class Diverged(Exception):
    """The training loss became NaN or infinite."""


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float
    val: dict[str, float]  # validation metrics
    seconds: float


@dataclass
class FitResult:
    best_epoch: int
    best_value: float
    history: list[EpochRecord] = field(default_factory=list)
    stopped_early: bool = False
    state_dict: dict | None = None  # the best weights, on the CPU


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def set_threads(threads: int | None) -> None:
    """Use every core for one process unless told otherwise (set once, not per trial)."""
    torch.set_num_threads(threads or os.cpu_count() or 1)


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
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(tracks), batch_size):
            idx = np.arange(start, min(start + batch_size, len(tracks)))
            x, lengths = pad_batch(tracks, idx, data.pad_value, data.spec.max_length)
            raw = model(torch.from_numpy(x).to(device), torch.from_numpy(lengths))
            chunks.append(raw.float().cpu().numpy())
    return np.concatenate(chunks)


def fit(
    model: torch.nn.Module,
    data: PreparedData,
    training: TrainingSpec,
    metric: str,
    direction: str,
    on_epoch: Callable[[EpochRecord, float], None] | None = None,
) -> FitResult:
    """Train with early stopping on the validation `metric`; the best weights are restored."""
    torch.manual_seed(training.seed)
    rng = np.random.default_rng(training.seed)
    device = pick_device(training.device)
    model.to(device)
    optimizer = _optimizer(model, training)
    sign = 1.0 if direction == "maximize" else -1.0
    result = FitResult(best_epoch=0, best_value=float("nan"))
    best_score, waited = -np.inf, 0

    for epoch in range(1, training.max_epochs + 1):
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
        for x, lengths, y in data.batches(data.train, training.batch_size, rng=rng):
            if len(x) == 1 and len(data.train) > 1:
                continue  # a last batch of one breaks BatchNorm statistics; skip it
            outputs = model(torch.from_numpy(x).to(device), torch.from_numpy(lengths))
            loss = model.loss(outputs, torch.from_numpy(y).to(device))
            if not torch.isfinite(loss):
                raise Diverged(f"training loss became {loss.item()} at epoch {epoch}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if training.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), training.grad_clip)
            optimizer.step()
            total += loss.detach().item() * len(x)
            seen += len(x)

        outputs, val_loss = predict(model, data, data.validation, training.batch_size, device)
        scores = {
            "loss": val_loss,
            **validation_scores(data.task, outputs, data.validation.targets),
        }
        record = EpochRecord(
            epoch, total / max(seen, 1), val_loss, scores, time.perf_counter() - started
        )
        result.history.append(record)
        value = scores[metric]
        if not np.isfinite(value):
            raise Diverged(f"validation {metric} became {value} at epoch {epoch}")
        if sign * value > best_score + training.min_delta:
            best_score, waited = sign * value, 0
            result.best_epoch, result.best_value = epoch, value
            result.state_dict = {
                k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()
            }
        else:
            waited += 1
        if on_epoch is not None:
            on_epoch(record, value)  # may raise optuna.TrialPruned
        if training.patience is not None and waited >= training.patience:
            result.stopped_early = True
            break

    model.load_state_dict(result.state_dict)
    return result


def _optimizer(model: torch.nn.Module, training: TrainingSpec) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if training.optimizer == "adam":
        return torch.optim.Adam(params, lr=training.lr, weight_decay=training.weight_decay)
    if training.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=training.lr, weight_decay=training.weight_decay)
    return torch.optim.SGD(params, lr=training.lr, momentum=0.9, weight_decay=training.weight_decay)
