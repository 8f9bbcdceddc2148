"""Pruners: which trials stop early, from what the trials report.

A trial with one validation split reports its validation metric every epoch (step = epoch),
and the spec's pruner (median, percentile, hyperband, successive halving) compares it with
other trials at the same epoch.

A cross-validated trial (`search.selection.folds` > 1) reports two kinds of steps:
- the epochs of its *first fold*, at step = epoch, as above: an epoch pruner stops a bad
  configuration after a few epochs of one fold, before it costs k full trainings;
- each fold's result, at step `FOLD_STEP + fold`: between folds, a trial is judged on its
  folds so far. Successive halving and Hyperband use `FoldHalving`, successive halving with
  folds as the resource (after 1 fold, then after `reduction_factor`, ... folds, only the
  best 1/`reduction_factor` of the trials' means, rounded up, go on: most trials cost one
  fold, not k).
  The Wilcoxon pruner compares them with the best trial's, fold by fold, and stops a trial
  that is worse on the folds so far (with 5 folds it can first stop a trial after 4).

`CrossValidationPruner` gives each pruner only its own steps. The `auto` pruner is the median
pruner per epoch, plus, with folds, the Wilcoxon pruner between folds.

With `search.pruner.min_cpu_seconds`, `CostHalving` also judges the epochs by what they cost:
successive halving whose resource is a trial's CPU seconds, not its epochs.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import optuna
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial

from sweep import trials
from sweep.spec import Spec

FOLD_STEP = 1_000_000  # a fold's result is reported at FOLD_STEP + fold


def make_pruner(spec: Spec, folds: int = 1) -> BasePruner:
    """The spec's pruner, for trials of `folds` cross-validation folds."""
    p = spec.search.pruner
    if p.name == "none":
        return optuna.pruners.NopPruner()
    epochs = None if p.name == "wilcoxon" else _epoch_pruner(spec, p.name, folds)
    first = min_cpu_seconds(spec)
    if first is not None:
        cost = CostHalving(first, p.reduction_factor)
        epochs = cost if epochs is None else AnyOf(epochs, cost)
    if folds <= 1:
        return epochs if epochs is not None else optuna.pruners.NopPruner()
    between: BasePruner | None = None
    if p.name in ("auto", "wilcoxon"):
        between = _wilcoxon(p.p_threshold)
    elif p.name in ("successive_halving", "hyperband"):
        between = FoldHalving(p.reduction_factor, folds)
    return CrossValidationPruner(epochs, between)


def min_resource(spec: Spec, folds: int) -> int:
    """The epochs before Hyperband's or successive halving's first cut. `auto`: 2 on one
    validation split; with folds, `training.patience` + 1, so that a configuration whose
    first epochs are erratic is not cut before its early stopping could have stopped it
    (halving over folds saves the most there, and replayed on genre_all_beat's curves the
    cut at epoch 2 lost the best trial, a short-chunk CNN at 0.39, 0.30, 0.27, 0.64...)."""
    given = spec.search.pruner.min_resource
    if given != "auto":
        return given
    patience = spec.training.patience
    return patience + 1 if folds > 1 and patience else 2


def min_cpu_seconds(spec: Spec) -> float | None:
    """`CostHalving`'s first rung in CPU seconds, or None when it is off. `auto`: a 50th of
    `search.budget` (18 s of 15 minutes)."""
    given = spec.search.pruner.min_cpu_seconds
    if given == "none":
        return None
    if given == "auto":
        return spec.search.budget * 60 / 50  # the spec requires a budget with it
    return float(given)


def _epoch_pruner(spec: Spec, name: str, folds: int) -> BasePruner:
    p = spec.search.pruner
    pruner: BasePruner
    if name in ("auto", "median"):
        pruner = optuna.pruners.MedianPruner(p.n_startup_trials, p.n_warmup_steps)
    elif name == "percentile":
        pruner = optuna.pruners.PercentilePruner(p.percentile, p.n_startup_trials, p.n_warmup_steps)
    elif name == "hyperband":
        pruner = optuna.pruners.HyperbandPruner(
            min_resource(spec, folds), spec.training.max_epochs, p.reduction_factor
        )
    else:
        pruner = optuna.pruners.SuccessiveHalvingPruner(
            min_resource(spec, folds), p.reduction_factor
        )
    if not p.patience:
        return pruner
    with warnings.catch_warnings():  # "experimental" since Optuna 2.8
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.pruners.PatientPruner(pruner, p.patience)


def _wilcoxon(p_threshold: float) -> BasePruner:
    with warnings.catch_warnings():  # "experimental" since Optuna 3.6
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return OnFolds(optuna.pruners.WilcoxonPruner(p_threshold=p_threshold, n_startup_steps=2))


class FoldHalving(BasePruner):
    """Successive halving with folds as the resource ("fewer folds for early rungs").

    A rung is a number of folds done: 1, `reduction_factor`, `reduction_factor`^2, ... below
    `folds` (with 5 folds and a factor of 3: after 1 fold and after 3). At a rung, a trial
    goes on only if the mean of its folds so far is among the best 1/`reduction_factor`,
    rounded up, of the means, at that many folds, of every trial that has reached the rung
    (itself and the reference included), as in asynchronous successive halving (Li et al.
    2020). It reads the study and the trial as they are (each fold's result at
    `FOLD_STEP + fold`).

    Rounded up, not down as in Optuna's epoch rungs: few trials reach a fold rung (3-8 of
    20 in genre_all_beat's 5-fold studies), and rounded down, a third of 4 or 5 is 1, so a
    trial went on only if it beat the best so far, on folds of 64 tracks where one track
    is 0.016 (seed 3 cut its best configuration so, after 3 folds: README "Performance").
    """

    def __init__(self, reduction_factor: int, folds: int) -> None:
        self.reduction_factor = reduction_factor
        self.rungs = set()
        rung = 1
        while rung < folds:
            self.rungs.add(rung)
            rung *= reduction_factor

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        done = _fold_values(trial)
        if len(done) not in self.rungs:
            return False
        k = len(done)
        mine = float(np.mean(done))
        competing = [
            float(np.mean(values[:k]))
            for other in study.get_trials(deepcopy=False)
            if other.number != trial.number and len(values := _fold_values(other)) >= k
        ]
        competing.append(mine)
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        return _cut_at_rung(mine, competing, self.reduction_factor, maximize)


def _cut_at_rung(
    value: float, competing: list[float], reduction_factor: int, maximize: bool
) -> bool:
    """A halving rung's verdict: whether `value` falls outside the best 1/`reduction_factor`,
    rounded up (at least one), of `competing` (which holds it)."""
    kept = -(-len(competing) // reduction_factor)
    threshold = sorted(competing, reverse=maximize)[kept - 1]
    return value < threshold if maximize else value > threshold


def _fold_values(trial: FrozenTrial) -> list[float]:
    """A trial's folds' results so far, in fold order (from any trial: the fold steps)."""
    return [v for step, v in sorted(trial.intermediate_values.items()) if step >= FOLD_STEP]


class CostHalving(BasePruner):
    """Successive halving on CPU seconds: a trial is judged by what it found for its cost.

    Epoch rungs compare trials at the same epoch, so a model whose epoch costs 30 times
    another's (the lab's CNN against a temporal CNN at full resolution) costs 30 times as
    much to judge, and one that keeps up epoch for epoch runs on whatever it costs. Here a
    rung is a trial's CPU seconds: `first`, `first` x `reduction_factor`, ... When a
    trial's CPU seconds (`trials.CPU_SECONDS_SO_FAR`, recorded every epoch in a study with a
    budget) first reach a rung, its best value so far is recorded there, and it goes on only
    if that value is among the best 1/`reduction_factor`, rounded up (as `FoldHalving`), of
    the values at that rung: every other trial's recorded there, and the value of every
    complete trial that finished in fewer CPU seconds (it found its value for less). A
    trial crossing several rungs in one epoch is judged at each. Only the epochs of one
    split, or of the first fold, are judged (as an epoch pruner is); the reference and the
    enqueued configurations are judged, but never stopped (`sweep.objective`).
    """

    def __init__(self, first: float, reduction_factor: int) -> None:
        self.first = first
        self.reduction_factor = reduction_factor

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        spent = trial.user_attrs.get(trials.CPU_SECONDS_SO_FAR)
        values = [v for step, v in trial.intermediate_values.items() if step < FOLD_STEP]
        if spent is None or not values:
            return False
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        best = max(values) if maximize else min(values)
        stop, rung = False, 0
        while self.first * self.reduction_factor**rung <= spent:
            key = trials.COST_RUNG.format(rung)
            if key not in trial.system_attrs:
                # where Optuna's own successive halving keeps its rungs (private, as there)
                study._storage.set_trial_system_attr(trial._trial_id, key, best)
                stop = stop or self._cut(study, trial.number, rung, best, maximize)
            rung += 1
        return stop

    def _cut(
        self, study: optuna.Study, number: int, rung: int, best: float, maximize: bool
    ) -> bool:
        key, cost = trials.COST_RUNG.format(rung), self.first * self.reduction_factor**rung
        competing = [best]
        for other in study.get_trials(deepcopy=False):
            if other.number == number:
                continue
            if key in other.system_attrs:
                competing.append(other.system_attrs[key])
            elif (
                other.state == trials.STATES.COMPLETE
                and other.value is not None
                and other.user_attrs.get(trials.CPU_SECONDS, np.inf) < cost
            ):
                competing.append(other.value)
        return _cut_at_rung(best, competing, self.reduction_factor, maximize)


class AnyOf(BasePruner):
    """Stops a trial when any of its pruners would; each is asked every time (they keep
    their rungs as they are asked)."""

    def __init__(self, *pruners: BasePruner) -> None:
        self.pruners = pruners

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        verdicts = [p.prune(study, trial) for p in self.pruners]
        return any(verdicts)


class OnFolds(BasePruner):
    """An Optuna pruner shown only the folds' results, as steps 0, 1, ... (`folds_only`),
    and a best trial that is so too: the Wilcoxon pruner, comparing fold with fold."""

    def __init__(self, pruner: BasePruner) -> None:
        self.pruner = pruner

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        return self.pruner.prune(_FoldsView(study), folds_only(trial))


class CrossValidationPruner(BasePruner):
    """An epoch pruner on the first fold's epochs and a fold pruner between folds, once the
    first is done (either may be None: that kind of step is never pruned). The epoch pruner
    sees its own steps only; the fold pruner, `FoldHalving` or `OnFolds`, reads the folds'."""

    def __init__(self, epochs: BasePruner | None, folds: BasePruner | None) -> None:
        self.epochs = epochs
        self.folds = folds

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        if not trial.intermediate_values:
            return False
        if max(trial.intermediate_values) < FOLD_STEP:  # still in the first fold
            # the epoch steps are below FOLD_STEP in every trial, so other trials' fold
            # results never share a step with them: the epoch pruner needs no filtering
            return self.epochs is not None and self.epochs.prune(study, trial)
        return self.folds is not None and self.folds.prune(study, trial)


def folds_only(trial: FrozenTrial) -> FrozenTrial:
    """A copy of `trial` whose intermediate values are its folds' results, at step = fold."""
    view = copy.copy(trial)  # shallow: the new dict below is the copy's alone
    view.intermediate_values = {
        step - FOLD_STEP: value
        for step, value in trial.intermediate_values.items()
        if step >= FOLD_STEP
    }
    return view


class _FoldsView:
    """What the Wilcoxon pruner reads of a study, with the best trial's folds only."""

    def __init__(self, study: optuna.Study) -> None:
        self._study = study

    @property
    def best_trial(self) -> FrozenTrial:
        return folds_only(self._study.best_trial)

    def __getattr__(self, name: str):
        return getattr(self._study, name)
