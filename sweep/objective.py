"""One trial: its configuration trained (on one split or k folds), recorded, within budget.

    objective = Objective(spec, folder, budget=20, folds=5)
    study.optimize(objective, n_trials=1, catch=(TrialFailed,))

This is where a trial's outcome becomes a state, in one place: a trial the pruner or the
CPU budget stops is pruned, one whose loss diverges is pruned with that reason, one that
runs out of memory or draws a configuration its component refuses is failed, and a trial
over the budget (workers racing for the last one) is dropped before it trains. Each state
carries its reason (`sweep.trials.REASON`). Whatever the outcome, the trial's curves are
written; a complete trial leaves its best weights (and, where it may be tested, its fold
models) in `trials/<n>/` (see sweep.results).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna
import torch

from sweep import selection, space, trials
from sweep.checkpoints import build, check_task, save_checkpoint
from sweep.data import PreparedData, prepare
from sweep.pruning import FOLD_STEP
from sweep.results import StudyFolder
from sweep.signals import signal_name
from sweep.spec import DataSpec, Spec
from sweep.specfile import dump_spec
from sweep.storage import worker_id
from sweep.train import Diverged, EpochRecord, FitResult, fit
from sweep.transfer import load_backbone


class TrialFailed(Exception):
    """A trial that could not run to the end (out of memory...): recorded, the study goes on."""


class OverBudget(TrialFailed):
    """Workers started more trials at once than the budget had left: the later one is
    dropped before it trains (failed, tagged `surplus`, and never counted)."""


class Objective:
    """Trains one trial's configuration; records its curves and best weights."""

    def __init__(
        self,
        spec: Spec,
        folder: Path,
        on_epoch: Callable | None = None,
        on_note: Callable[[str], None] | None = None,
        init_from: Path | None = None,
        budget: int | None = None,
        folds: int = 1,
        cpu_budget: float | None = None,
        keep_fold_models: str = "none",
    ) -> None:
        self.spec = spec
        self.folder = folder
        # progress: (trial number, record, value, fold "k/K" or None, the trial's max_epochs)
        self.on_epoch = on_epoch
        self.on_note = on_note  # what the user must hear now, in a line (the budget's estimate)
        self.init_from = init_from  # transfer: the checkpoint the backbone starts from
        self.budget = budget  # trials of the whole study, all workers together
        self.folds = folds  # cross-validation folds per trial (1: the validation split)
        self.cpu_budget = cpu_budget  # CPU seconds of the whole study
        # whose fold models are saved: "none", "best" or "every" (selection.fold_models_kept)
        self.keep_fold_models = keep_fold_models
        self.dropped = 0  # trials dropped before training (OverBudget)
        self.worker = worker_id()
        self._data: dict[str, PreparedData] = {}
        self._folds: dict[tuple, list[PreparedData]] = {}
        self._cpu_started = 0.0

    def data_for(self, data_spec: DataSpec) -> PreparedData:
        key = data_spec.model_dump_json()
        if key not in self._data:  # one load per distinct data configuration, not per trial
            self._data[key] = prepare(data_spec)
        return self._data[key]

    def keep_data(self, data_spec: DataSpec, data: PreparedData) -> None:
        """Data the caller has prepared already, for trials whose data spec is `data_spec`."""
        self._data[data_spec.model_dump_json()] = data

    def __call__(self, trial: optuna.Trial) -> float:
        try:
            return self._trial(trial)
        except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (sweep.signals): Optuna fails it.
            # At any moment of the trial (drawing, loading, building, training, saving), so
            # that a failed trial always says why.
            trial.set_user_attr(trials.REASON, f"interrupted ({signal_name(e)})")
            raise

    def _trial(self, trial: optuna.Trial) -> float:
        started = time.perf_counter()
        self._cpu_started = cpu_started = time.process_time()
        trial.set_user_attr(trials.WORKER, self.worker)  # tells a live trial from a dead worker's
        if self.budget is not None and not within_budget(trial, self.budget):
            trial.set_user_attr(trials.SURPLUS, True)
            trial.set_user_attr(trials.REASON, "over budget: other workers started the last trials")
            self.dropped += 1
            raise OverBudget(f"trial {trial.number} is over the budget of {self.budget}")
        if trials.is_reference(trial) and _measured_elsewhere(trial):
            trial.set_user_attr(trials.SURPLUS, True)  # two runs started the study at once
            trial.set_user_attr(trials.REASON, "the reference is measured by another worker")
            self.dropped += 1
            raise OverBudget(f"trial {trial.number} repeats the reference trial")
        params = space.suggest(trial, self.spec.search.space)
        keep = self.spec.search.selection.keep
        if keep is not None and not trials.is_reference(trial):
            params["training.keep"] = keep  # the reference is judged as its spec says
            if keep == "last":  # to max_epochs: where early stopping stops is a choice too
                params["training.patience"] = None
        resolved = space.apply(self.spec, params)
        data = self.data_for(resolved.resolved_data)
        check_task(resolved, data)
        trial_dir = StudyFolder(self.folder).trial(trial.number)
        trial_dir.path.mkdir(parents=True, exist_ok=True)
        trial_dir.config.write_text(dump_spec(resolved))
        torch.manual_seed(resolved.training.seed)  # initial weights depend on the seed alone
        try:
            model = build(resolved, data)
        except (ValueError, TypeError) as e:  # a combination the component refuses
            trial.set_user_attr(trials.REASON, f"invalid configuration: {str(e).splitlines()[0]}")
            raise TrialFailed(str(e)) from e
        if self.init_from is not None:
            load_backbone(model, self.init_from, data)

        curves: list[dict] = []  # written whatever the outcome, pruned trials' too
        held_out: list[tuple] = []  # (validation split, its outputs at the best epoch) per fit
        fold_models: list[dict] = []
        try:
            if self.folds > 1:
                result, model, fold_models = self._cross_validate(
                    trial, resolved, data, model, curves, held_out
                )
            else:
                result = self._fit(trial, resolved, data, model, curves, None, held_out)
        except optuna.TrialPruned:
            if trials.REASON not in trial.user_attrs:
                trial.set_user_attr(trials.REASON, "pruned by the pruner")
            raise
        except Diverged as e:
            trial.set_user_attr(trials.REASON, f"diverged: {e}")
            raise optuna.TrialPruned(str(e)) from e
        except (torch.OutOfMemoryError, MemoryError) as e:
            trial.set_user_attr(trials.REASON, f"out of memory: {str(e).splitlines()[0][:200]}")
            raise TrialFailed(str(e)) from e
        finally:
            trial.set_user_attr(trials.WALL_SECONDS, time.perf_counter() - started)
            trial.set_user_attr(trials.CPU_SECONDS, time.process_time() - cpu_started)
            trial.set_user_attr(trials.EPOCHS, len(curves))  # every epoch trained, all folds
            trial_dir.curves.write_text(json.dumps(curves, indent=1))
        save_checkpoint(trial_dir.checkpoint, resolved, data, model, result)
        _save_validation_outputs(trial_dir.validation_outputs, held_out)
        if fold_models and (
            self.keep_fold_models == "every" or _may_be_tested(trial, result, resolved.direction)
        ):
            save_checkpoint(trial_dir.fold_models, resolved, data, model, result, fold_models)
        trial.set_user_attr(trials.BEST_EPOCH, result.best_epoch)
        trial.set_user_attr(trials.STOPPED_EARLY, result.stopped_early)
        return result.best_value

    def _fit(
        self,
        trial: optuna.Trial,
        spec: Spec,
        data: PreparedData,
        model: torch.nn.Module,
        curves: list[dict],
        fold: int | None,
        held_out: list[tuple],
    ) -> FitResult:
        """Train one model. With one validation split, and in the first fold, every epoch
        is a pruner report (see sweep.pruning); `_cross_validate` reports each fold's result.
        The validation split and its outputs at the best epoch go to `held_out`."""

        def report(record: EpochRecord, value: float) -> None:
            curves.append({**vars(record), **({} if fold is None else {"fold": fold})})
            spent = time.process_time() - self._cpu_started
            if self.cpu_budget is not None:  # other workers, and the progress, count it now
                trial.set_user_attr(trials.CPU_SECONDS_SO_FAR, spent)
            if self.on_epoch is not None:
                where = None if fold is None else f"{fold + 1}/{self.folds}"
                self.on_epoch(trial.number, record, value, where, spec.training.max_epochs)
            if not fold:  # None (one split) or the first fold
                trial.report(value, record.epoch)
                # the reference is the comparison every study owes: it reports and is judged
                # like any trial (successive halving and Hyperband keep a rung's values only
                # from the trials they judged), but is never pruned, as it is never stopped
                # by the budget; nor is a spec's enqueued configuration (slow starters,
                # chosen on purpose)
                if _pruned(trial, record.epoch):
                    where = "" if fold is None else " of the first fold"
                    raise optuna.TrialPruned(f"pruned at epoch {record.epoch}{where}")
            if self.cpu_budget is not None:
                if record.epoch == 1 and not fold and trials.is_reference(trial):
                    self._warn_if_the_reference_needs_the_budget(spec, spent)
                # the budget holds to an epoch: a trial running when it is spent stops
                # (pruned), except the reference, which is always measured to its end
                if not trials.is_reference(trial) and (
                    trials.cpu_spent(trial.study) >= self.cpu_budget
                ):
                    trial.set_user_attr(trials.REASON, "stopped: the study's CPU budget is spent")
                    raise optuna.TrialPruned("the study's CPU budget is spent")

        result = fit(model, data, spec.training, spec.metric, spec.direction, on_epoch=report)
        held_out.append((data.validation, result.best_outputs))
        return result

    def _warn_if_the_reference_needs_the_budget(self, spec: Spec, first_epoch: float) -> None:
        """Said after the reference's first epoch, not hours later: the reference always
        runs to its end, so a budget it alone exceeds buys no search."""
        most = first_epoch * spec.training.max_epochs * max(1, self.folds)
        if self.on_note is None or most <= self.cpu_budget:
            return
        folds = f" x {self.folds} folds" if self.folds > 1 else ""
        cheaper = (
            "fewer folds or epochs"
            if spec.data.crop_frames
            else ("train on crops: data.crop_frames, or fewer folds or epochs")
        )
        self.on_note(
            f"the reference trial may need up to {most / 60:.1f} CPU minutes (its first epoch "
            f"took {first_epoch:.0f} CPU s; {spec.training.max_epochs} epochs{folds}), more "
            f"than the budget of {self.cpu_budget / 60:g}: it runs to its end, and little is "
            f"left to search ({cheaper})"
        )

    def _cross_validate(
        self,
        trial: optuna.Trial,
        spec: Spec,
        data: PreparedData,
        model: torch.nn.Module,
        curves: list[dict],
        held_out: list[tuple],
    ) -> tuple[FitResult, torch.nn.Module, list[dict]]:
        """One model per fold, each from the same initial weights; the trial's value is the
        mean of the folds' best values. Returns the best fold's result and model, and every
        fold's best weights where they are kept (`keep_fold_models`; else an empty list)."""
        initial = {k: v.clone() for k, v in model.state_dict().items()}
        values, epochs, best, weights_per_fold = [], [], None, []
        for fold, fold_data in enumerate(self.folds_of(data)):
            if fold:
                model.load_state_dict(initial)
            result = self._fit(trial, spec, fold_data, model, curves, fold, held_out)
            values.append(result.best_value)
            epochs.append(result.best_epoch)
            trial.report(result.best_value, FOLD_STEP + fold)
            trial.set_user_attr(trials.FOLD_VALUES, values)
            trial.set_user_attr(trials.FOLD_BEST_EPOCHS, epochs)
            better = best is None or _better(spec.direction, result.best_value, best[0].best_value)
            keep = self.keep_fold_models != "none"
            if keep or better:
                weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                if keep:
                    weights_per_fold.append(weights)
                if better:
                    best = (result, weights)
            last = fold == self.folds - 1
            if not last and _pruned(trial, FOLD_STEP + fold):
                raise optuna.TrialPruned(f"pruned after fold {fold + 1} of {self.folds}")
        result, weights = best
        model.load_state_dict(weights)
        return (
            dataclasses.replace(
                result,
                best_value=float(np.mean(values)),
                best_epoch=int(round(np.mean(epochs))),
            ),
            model,
            weights_per_fold,
        )

    def folds_of(self, data: PreparedData) -> list[PreparedData]:
        key = (id(data), self.folds)
        if key not in self._folds:
            self._folds[key] = selection.folds(data, self.folds)
        return self._folds[key]


def _save_validation_outputs(path: Path, held_out: list[tuple]) -> None:
    """The trial's outputs on every track it was validated on, at the best epoch of the fit
    that held it out: the out-of-fold predictions an ensemble of trials is chosen on."""
    held_out = [(split, outputs) for split, outputs in held_out if outputs is not None]
    if not held_out:
        return
    np.savez(
        path,
        ids=np.concatenate([np.asarray(split.tracks.ids).astype(str) for split, _ in held_out]),
        outputs=np.concatenate([outputs for _, outputs in held_out]).astype(np.float32),
        targets=np.concatenate([split.targets for split, _ in held_out]),
    )


def _pruned(trial: optuna.Trial, step: int) -> bool:
    """Whether the pruner stops the trial now. A trial exempt from pruning runs on, but the
    first step at which it would have stopped is recorded (said when it ends; TPE sees the
    reference pruned there: sweep.sampling)."""
    if not trial.should_prune():
        return False
    if not trials.exempt_from_pruning(trial):
        return True
    if trials.WOULD_PRUNE_AT not in trial.user_attrs:
        trial.set_user_attr(trials.WOULD_PRUNE_AT, step)
    return False


def _better(direction: str, a: float, b: float) -> bool:
    return a > b if direction == "maximize" else a < b


def _may_be_tested(trial: optuna.Trial, result: FitResult, direction: str) -> bool:
    """Whether a trial ending now could be the one tested: the reference, or better than
    every trial complete so far (so the study's best always keeps its fold models)."""
    if trials.is_reference(trial):
        return True
    try:
        best = trial.study.best_value
    except ValueError:  # nothing complete yet
        return True
    return not _better(direction, best, result.best_value)


def _measured_elsewhere(trial: optuna.Trial) -> bool:
    """Whether a reference trial numbered before this one is running or done: runs that
    open a new study at once each enqueue the reference, and the first one measures it."""
    return any(
        t.number < trial.number and trials.is_reference(t) and t.state != trials.STATES.FAIL
        for t in trial.study.get_trials(deepcopy=False)
    )


def within_budget(trial: optuna.Trial, budget: int) -> bool:
    """Whether fewer than `budget` trials numbered before this one count (complete, pruned
    or running): trial numbers are handed out by the storage, so every worker agrees."""
    ahead = trial.study.get_trials(deepcopy=False, states=trials.IN_BUDGET)
    return sum(t.number < trial.number for t in ahead) < budget
