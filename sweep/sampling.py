"""What TPE sees: the reference as the pruner would have left it, unless it is the best so far.

The reference is never pruned (`sweep.objective`): it completes whatever its value. TPE
ranks every complete trial above every pruned one, so while few trials complete, a poor
reference is among its good trials and it keeps proposing the reference's family
(genre_full: the lab's CNN, 29-31 draws of 40 after 11 and 14 trials; multitask: 19 lab
CNNs, 329 of 900 CPU seconds; README "Performance"). The objective records the first step
at which the pruner would have stopped it (`trials.WOULD_PRUNE_AT`); TPE is shown it pruned
at that step, with its intermediate values up to it, as any trial the pruner judged the
same, unless it is the best trial so far (its value at least every complete trial's and
every pruned trial's last). The spec's enqueued configurations, also never pruned, are
shown as they are: they are the spec's chosen starting points, and hidden (tried: shown
pruned like the reference) multitask's searched pooled MLPs lost their key and validated
0.432 against 0.476. The trial itself, the pruner and every report are unchanged. Only TPE
is wrapped: GP and CMA-ES ignore pruned trials, so showing one pruned would hide its value.

    sampler = PrunerView(optuna.samplers.TPESampler(seed=0))
"""

from __future__ import annotations

import copy
import math
from collections.abc import Container, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial

from sweep import trials

STATES = optuna.trial.TrialState


def as_the_sampler_sees_them(every: Sequence[FrozenTrial], maximize: bool) -> list[FrozenTrial]:
    """Every trial of a study (in order) as TPE is shown them (above): a complete reference
    that the pruner would have stopped at step s, unless the best so far, becomes a pruned
    copy whose intermediate values end at s. Any other trial is itself."""
    judged = [
        t
        for t in every
        if trials.is_reference(t)
        and t.state == STATES.COMPLETE
        and trials.WOULD_PRUNE_AT in t.user_attrs
    ]
    if not judged:  # most calls: TPE asks for the trials several times per trial
        return list(every)
    scores = [v for v in map(_score, every) if v is not None]
    best = max(scores) if maximize else min(scores)
    shown = {t.number: _pruned_copy(t) for t in judged if t.value != best}
    return [shown.get(t.number, t) for t in every]


def _score(trial: FrozenTrial) -> float | None:
    """A complete trial's value, a pruned trial's last reported value (as TPE ranks them)."""
    if trial.state == STATES.COMPLETE:
        return trial.value
    if trial.state != STATES.PRUNED or not trial.intermediate_values:
        return None
    value = trial.intermediate_values[max(trial.intermediate_values)]
    return None if math.isnan(value) else value


def _pruned_copy(trial: FrozenTrial) -> FrozenTrial:
    """The trial as pruned at its `trials.WOULD_PRUNE_AT` step; the trial itself unchanged."""
    step = trial.user_attrs[trials.WOULD_PRUNE_AT]
    seen = copy.copy(trial)
    seen.state = STATES.PRUNED
    seen.values = None
    seen.intermediate_values = {s: v for s, v in trial.intermediate_values.items() if s <= step}
    return seen


class _StudyAsThePrunerLeftIt:
    """The study, its trials read through `as_the_sampler_sees_them`; all else is the study's."""

    def __init__(self, study: optuna.Study) -> None:
        self._study = study

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(
        self,
        deepcopy: bool = True,
        states: Container[optuna.trial.TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        every = self._study._get_trials(deepcopy=deepcopy, states=None, use_cache=use_cache)
        if len(self._study.directions) > 1:  # sweep's studies have one objective
            seen = every
        else:
            maximize = self._study.direction == optuna.study.StudyDirection.MAXIMIZE
            seen = as_the_sampler_sees_them(every, maximize)
        return seen if states is None else [t for t in seen if t.state in states]

    def get_trials(
        self,
        deepcopy: bool = True,
        states: Container[optuna.trial.TrialState] | None = None,
    ) -> list[FrozenTrial]:
        return self._get_trials(deepcopy=deepcopy, states=states)

    @property
    def trials(self) -> list[FrozenTrial]:
        return self.get_trials()


class PrunerView(optuna.samplers.BaseSampler):
    """`sampler`, shown the study's trials as the pruner would have left them (above);
    its trials' own hooks (`before_trial`, `after_trial`) see the study itself."""

    def __init__(self, sampler: optuna.samplers.BaseSampler) -> None:
        self.sampler = sampler

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self.sampler.infer_relative_search_space(_StudyAsThePrunerLeftIt(study), trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self.sampler.sample_relative(_StudyAsThePrunerLeftIt(study), trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self.sampler.sample_independent(
            _StudyAsThePrunerLeftIt(study), trial, param_name, param_distribution
        )

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.sampler.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: optuna.trial.TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self.sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.sampler.reseed_rng()
