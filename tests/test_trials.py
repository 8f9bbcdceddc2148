"""A trial's record: the states shown and counted, and the CPU a study has spent."""

from __future__ import annotations

import optuna

from sweep import trials

STATES = optuna.trial.TrialState


def _study(*records: tuple[STATES, dict]) -> optuna.Study:
    study = optuna.create_study()
    for state, attrs in records:
        value = 0.5 if state == STATES.COMPLETE else None
        study.add_trial(optuna.trial.create_trial(state=state, value=value, user_attrs=attrs))
    return study


def test_surplus_trials_are_neither_shown_nor_counted_in_the_states():
    study = _study(
        (STATES.COMPLETE, {trials.REFERENCE: True}),
        (STATES.PRUNED, {}),
        (STATES.FAIL, {trials.SURPLUS: True, trials.REASON: "over budget"}),
        (STATES.FAIL, {trials.REASON: "out of memory"}),
    )
    shown = trials.shown(study.trials)
    assert [t.number for t in shown] == [0, 1, 3]
    counts = trials.state_counts(study.trials)
    assert (counts["complete"], counts["pruned"], counts["fail"]) == (1, 1, 1)
    assert counts["running"] == counts["waiting"] == 0
    assert [trials.is_reference(t) for t in study.trials] == [True, False, False, False]


def test_the_budget_counts_complete_and_pruned_trials():
    study = _study((STATES.COMPLETE, {}), (STATES.PRUNED, {}), (STATES.FAIL, {}))
    assert trials.counted(study) == 2


def test_cpu_spent_adds_finished_trials_and_running_ones_so_far():
    study = _study(
        (STATES.COMPLETE, {trials.CPU_SECONDS: 10.0}),
        (STATES.PRUNED, {trials.CPU_SECONDS: 2.5}),
        (STATES.FAIL, {}),  # failed before it recorded anything
    )
    running = study.ask()
    running.set_user_attr(trials.CPU_SECONDS_SO_FAR, 4.0)
    assert trials.cpu_spent(study) == 16.5
