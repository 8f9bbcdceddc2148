"""A trial's record in the study: its states, the attribute names sweep stores, the counts.

Every module that reads or writes what sweep keeps on an Optuna trial (or on the study)
uses the names here, so a record has one spelling:

    trial.user_attrs.get(trials.REASON)
    trials.shown(study.trials)          # without the surplus trials dropped before training
    trials.state_counts(study.trials)   # {"complete": 7, "pruned": 13, "fail": 0, ...}

Reading this module costs nothing (no torch): the report, the progress display and the
CLI use it as much as the objective that writes the records.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import optuna

STATES = optuna.trial.TrialState
FINISHED = (STATES.COMPLETE, STATES.PRUNED)  # what counts for the trial budget
IN_BUDGET = (STATES.COMPLETE, STATES.PRUNED, STATES.RUNNING)  # what a new trial counts

# ---------------------------------------------------------------- a trial's user attributes
REFERENCE = "reference"  # True on the spec's own configuration (the study's first trial)
SURPLUS = "surplus"  # True on a trial dropped before it trained (see sweep.objective)
REASON = "reason"  # why it was pruned or failed, in words
WORKER = "worker"  # the process running it: {"host", "pid", "started"} (sweep.storage)
RETRY_OF = "retry_of"  # the number of the dead worker's trial it repeats
ENQUEUED = "enqueued"  # the index of the spec's search.enqueue configuration it tries
WOULD_PRUNE_AT = "would_be_pruned_at"  # exempt from pruning: the first step the pruner said stop
WALL_SECONDS = "wall_seconds"
CPU_SECONDS = "cpu_seconds"  # when it ended
CPU_SECONDS_SO_FAR = "cpu_seconds_so_far"  # while it runs, for the study's CPU budget
COST_RUNG = "cost_rung_{}"  # system attribute: its best value at CostHalving's rung k
EPOCHS = "epochs"  # every epoch trained, all folds together
BEST_EPOCH = "best_epoch"  # the mean of its folds' with cross-validation
STOPPED_EARLY = "stopped_early"
FOLD_VALUES = "fold_values"  # each fold's best value, so far
FOLD_BEST_EPOCHS = "fold_best_epochs"

# ---------------------------------------------------------------- the study's user attributes
SPEC_FINGERPRINT = "spec_fingerprint"  # what makes two runs the same study (sweep.study)
METRIC = "metric"
SPEC = "spec"  # the spec as run, so that a report from any machine has it
FOLDS = "folds"  # cross-validation folds per trial, fixed when the study is created
INIT_FROM = "init_from"  # transfer: the checkpoint the backbones started from
TEST = "test"  # the test results (test.json's content), for reports from any machine


def is_reference(trial: Any) -> bool:
    return bool(trial.user_attrs.get(REFERENCE))


def exempt_from_pruning(trial: Any) -> bool:
    """The reference and the spec's enqueued configurations run to their end (early
    stopping and, except the reference, the CPU budget still apply)."""
    return is_reference(trial) or ENQUEUED in trial.user_attrs


def is_surplus(trial: Any) -> bool:
    return bool(trial.user_attrs.get(SURPLUS))


def shown(of: Iterable[Any]) -> list[Any]:
    """The trials a person is shown: all but the surplus ones, dropped before they trained
    (a second reference, or a trial past the budget that two workers started at once)."""
    return [t for t in of if not is_surplus(t)]


def state_counts(of: Iterable[Any]) -> dict[str, int]:
    """How many shown trials are in each state, by lower-case state name (every state)."""
    counts = {state.name.lower(): 0 for state in STATES}
    for trial in shown(of):
        counts[trial.state.name.lower()] += 1
    return counts


def counted(study: optuna.Study) -> int:
    """Trials that count for the budget: complete or pruned."""
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def cpu_spent(study: optuna.Study | list[optuna.trial.FrozenTrial]) -> float:
    """CPU seconds the study has used: finished trials, plus running trials so far (of a
    study, or of all its trials read already)."""
    every = study.get_trials(deepcopy=False) if isinstance(study, optuna.Study) else study
    total = 0.0
    for t in every:
        if t.state == STATES.RUNNING:
            total += t.user_attrs.get(CPU_SECONDS_SO_FAR, 0.0)
        else:
            total += t.user_attrs.get(CPU_SECONDS, 0.0)
    return total
