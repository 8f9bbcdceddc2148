"""Pruners: the spec's name to Optuna's pruner, and cross-validated trials' two kinds of step."""

from __future__ import annotations

import optuna
import pytest
from conftest import tiny_spec

from sweep import trials
from sweep.pruning import (
    FOLD_STEP,
    AnyOf,
    CostHalving,
    CrossValidationPruner,
    FoldHalving,
    OnFolds,
    _wilcoxon,
    folds_only,
    make_pruner,
    min_resource,
)
from sweep.run import run_study

STATES = optuna.trial.TrialState


@pytest.mark.parametrize(
    ("name", "folds", "kind"),
    [
        ("none", 1, optuna.pruners.NopPruner),
        ("none", 5, optuna.pruners.NopPruner),
        ("auto", 1, optuna.pruners.MedianPruner),
        ("median", 1, optuna.pruners.MedianPruner),
        ("percentile", 1, optuna.pruners.PercentilePruner),
        ("hyperband", 1, optuna.pruners.HyperbandPruner),
        ("successive_halving", 1, optuna.pruners.SuccessiveHalvingPruner),
        ("wilcoxon", 1, optuna.pruners.NopPruner),  # one split: no folds to compare
        ("auto", 5, CrossValidationPruner),
        ("wilcoxon", 5, CrossValidationPruner),
        ("median", 5, CrossValidationPruner),
    ],
)
def test_each_pruner_name_makes_its_pruner(tmp_path, tiny_root, name, folds, kind):
    spec = tiny_spec(tmp_path, tiny_root, search={"pruner": {"name": name}})
    assert type(make_pruner(spec, folds)) is kind


def test_with_folds_auto_prunes_epochs_and_folds_and_median_only_epochs(tmp_path, tiny_root):
    auto = make_pruner(tiny_spec(tmp_path, tiny_root, search={"pruner": {"name": "auto"}}), 5)
    assert isinstance(auto.epochs, optuna.pruners.MedianPruner)
    assert isinstance(auto.folds, OnFolds)
    assert isinstance(auto.folds.pruner, optuna.pruners.WilcoxonPruner)
    median = make_pruner(tiny_spec(tmp_path, tiny_root, search={"pruner": {"name": "median"}}), 5)
    assert isinstance(median.epochs, optuna.pruners.MedianPruner) and median.folds is None
    only = make_pruner(tiny_spec(tmp_path, tiny_root, search={"pruner": {"name": "wilcoxon"}}), 5)
    assert only.epochs is None and isinstance(only.folds.pruner, optuna.pruners.WilcoxonPruner)


def test_patience_wraps_the_epoch_pruner(tmp_path, tiny_root):
    spec = tiny_spec(tmp_path, tiny_root, search={"pruner": {"name": "median", "patience": 3}})
    assert isinstance(make_pruner(spec), optuna.pruners.PatientPruner)


def test_folds_only_keeps_the_fold_steps_renumbered_and_leaves_the_trial_alone():
    trial = _trial([0.1, 0.2], [0.7, 0.8])
    view = folds_only(trial)
    assert view.intermediate_values == {0: 0.7, 1: 0.8}
    assert trial.intermediate_values == {1: 0.1, 2: 0.2, FOLD_STEP: 0.7, FOLD_STEP + 1: 0.8}


def _trial(epoch_values: list[float], fold_values: list[float], value=None):
    intermediate = {e + 1: v for e, v in enumerate(epoch_values)}
    intermediate |= {FOLD_STEP + f: v for f, v in enumerate(fold_values)}
    return optuna.trial.create_trial(
        state=STATES.COMPLETE if value is not None else STATES.RUNNING,
        value=value,
        params={},
        distributions={},
        intermediate_values=intermediate,
    )


def test_the_wilcoxon_pruner_sees_only_the_folds_and_the_median_pruner_only_epochs():
    study = optuna.create_study(direction="maximize")
    study.add_trial(_trial([0.5, 0.6, 0.7], [0.8, 0.8, 0.8, 0.8], value=0.8))
    pruner = CrossValidationPruner(
        optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0),
        _wilcoxon(p_threshold=0.1),  # OnFolds(WilcoxonPruner(n_startup_steps=2))
    )
    # worse than the best on each of four folds: p = 1/16, pruned, though its first fold's
    # epochs were better than the best's
    assert pruner.prune(study, _trial([0.9, 0.9, 0.9], [0.5, 0.5, 0.5, 0.5]))
    # better on the folds: kept, though its epochs were worse
    assert not pruner.prune(study, _trial([0.1, 0.1, 0.1], [0.9, 0.9, 0.9, 0.9]))
    # in the first fold, epochs below the median of the complete trials' are pruned
    assert pruner.prune(study, _trial([0.1, 0.1], []))
    assert not pruner.prune(study, _trial([0.9, 0.9], []))
    assert folds_only(study.best_trial).intermediate_values == {0: 0.8, 1: 0.8, 2: 0.8, 3: 0.8}
    assert not CrossValidationPruner(None, None).prune(study, _trial([0.1], [0.1, 0.1]))


def test_successive_halving_and_hyperband_halve_over_folds_as_well(tmp_path, tiny_root):
    for name in ("successive_halving", "hyperband"):
        spec = tiny_spec(tmp_path, tiny_root, search={"pruner": {"name": name}})
        pruner = make_pruner(spec, 5)
        assert isinstance(pruner.folds, FoldHalving) and pruner.folds.rungs == {1, 3}
    assert FoldHalving(3, 10).rungs == {1, 3, 9}
    assert FoldHalving(2, 5).rungs == {1, 2, 4}
    assert FoldHalving(3, 2).rungs == {1}


def _fold_study(direction: str, done: list[list[float]]) -> optuna.Study:
    study = optuna.create_study(direction=direction)
    for values in done:
        study.add_trial(_trial([0.5], values, value=sum(values) / len(values)))
    return study


@pytest.mark.parametrize(
    ("given", "patience", "folds", "epochs"),
    [
        ("auto", 5, 1, 2),  # one split: cut from epoch 2
        ("auto", 5, 5, 6),  # folds: not before early stopping could have stopped it
        ("auto", None, 5, 2),  # no early stopping to wait for
        (3, 5, 5, 3),  # a number is kept as given
    ],
)
def test_min_resource_auto_waits_for_early_stopping_only_with_folds(
    tmp_path, tiny_root, given, patience, folds, epochs
):
    for name in ("successive_halving", "hyperband"):
        spec = tiny_spec(
            tmp_path,
            tiny_root,
            training={"patience": patience},
            search={"pruner": {"name": name, "min_resource": given}},
        )
        assert min_resource(spec, folds) == epochs
        made = make_pruner(spec, folds)
        epoch_pruner = made if folds == 1 else made.epochs
        assert epoch_pruner._min_resource == epochs  # Optuna's own setting


def test_min_resource_is_auto_unless_given(tmp_path, tiny_root):
    spec = tiny_spec(tmp_path, tiny_root, search={"pruner": {"name": "successive_halving"}})
    assert spec.search.pruner.min_resource == "auto"


def test_fold_halving_keeps_the_best_third_rounded_up_of_the_means_at_each_rung():
    # six trials have their 5 folds; their means after 1 fold: .9 .8 .7 .6 .5 .4, and
    # after 3 folds: .9 .8 .7 .6 .5 .4 as well (their later folds differ)
    done = [[v, v, v, 0.0, 0.0] for v in (0.9, 0.8, 0.7, 0.6, 0.5, 0.4)]
    study = _fold_study("maximize", done)
    halving = FoldHalving(3, 5)
    # after 1 fold, 7 trials compete: the best 7 / 3 = 2.33, rounded up 3, go on
    assert not halving.prune(study, _trial([0.5], [0.85]))  # .9 .85 .8
    assert not halving.prune(study, _trial([0.5], [0.75]))  # .9 .8 .75
    assert halving.prune(study, _trial([0.5], [0.65]))  # .9 .8 .7
    # 2 folds is no rung: never pruned there, however bad
    assert not halving.prune(study, _trial([0.5], [0.85, 0.0]))
    # after 3 folds its mean is compared with the others' first three folds' means
    assert not halving.prune(study, _trial([0.5], [0.85, 0.85, 0.85]))
    assert halving.prune(study, _trial([0.5], [0.9, 0.9, 0.0]))  # mean .6
    # 4 folds: no rung; the last fold is never judged (the objective does not ask)
    assert not halving.prune(study, _trial([0.5], [0.0, 0.0, 0.0, 0.0]))


def test_fold_halving_minimises_and_lets_the_first_trials_on_only_if_best():
    study = _fold_study("minimize", [[0.3, 0.3, 0.3, 0.3, 0.3]])
    halving = FoldHalving(3, 5)
    # two trials at the rung: 2 / 3 rounded up is 1, only the best goes on (lower is better)
    assert not halving.prune(study, _trial([0.5], [0.2]))
    assert halving.prune(study, _trial([0.5], [0.4]))
    # a study with no trial that got this far: the first goes on
    assert not halving.prune(optuna.create_study(), _trial([0.5], [0.9]))


def test_a_cross_validated_trial_is_halved_over_folds_only_after_its_first_fold():
    done = [[v] * 5 for v in (0.9, 0.8, 0.7, 0.6, 0.5, 0.4)]
    study = _fold_study("maximize", done)
    pruner = CrossValidationPruner(None, FoldHalving(3, 5))
    assert not pruner.prune(study, _trial([0.1, 0.1], []))  # in its first fold
    assert pruner.prune(study, _trial([0.1, 0.1], [0.1]))
    assert not pruner.prune(study, _trial([0.1, 0.1], [0.95]))


def test_the_exempt_trials_count_at_the_epoch_rungs_but_are_never_cut(tmp_path, tiny_root):
    # Optuna's successive halving keeps a rung's values only from the trials it is asked
    # about: the reference and an enqueued configuration are asked, and the answer ignored
    search = {
        "n_trials": 4,
        "pruner": {"name": "successive_halving", "min_resource": 1, "reduction_factor": 2},
        "enqueue": [{"training.lr": 1e-3}],
        "space": {"training.lr": {"low": 1e-3, "high": 1e-1, "log": True}},
    }
    spec = tiny_spec(tmp_path, tiny_root, training={"patience": None}, search=search)
    exempt = run_study(spec, tmp_path / "results").study.trials[:2]
    assert [trials.is_reference(t) for t in exempt] == [True, False]
    for trial in exempt:
        assert trials.exempt_from_pruning(trial)
        assert trial.state == STATES.COMPLETE
        assert "completed_rung_0" in trial.system_attrs  # its epoch-1 value is a rung's


# ----------------------------------------------------------------------------- cost halving


def _finished(study: optuna.Study, value: float, cpu: float, rungs: dict | None = None) -> None:
    study.add_trial(
        optuna.trial.create_trial(
            value=value,
            user_attrs={trials.CPU_SECONDS: cpu},
            system_attrs={trials.COST_RUNG.format(k): v for k, v in (rungs or {}).items()},
        )
    )


def _running(study: optuna.Study, values: list[float], spent: float) -> optuna.trial.FrozenTrial:
    trial = study.ask()
    for epoch, value in enumerate(values, start=1):
        trial.report(value, epoch)
    trial.set_user_attr(trials.CPU_SECONDS_SO_FAR, spent)
    return study._storage.get_trial(trial._trial_id)


def _again(study: optuna.Study, trial: optuna.trial.FrozenTrial, spent: float):
    study._storage.set_trial_user_attr(trial._trial_id, trials.CPU_SECONDS_SO_FAR, spent)
    return study._storage.get_trial(trial._trial_id)


def test_cost_halving_judges_a_trial_against_what_others_found_for_the_same_cpu_seconds():
    study = optuna.create_study(direction="maximize")
    _finished(study, 0.8, cpu=5)  # found 0.8 for less than the first rung: counts there
    _finished(study, 0.7, cpu=50, rungs={0: 0.6})  # had 0.6 at 10 s
    _finished(study, 0.5, cpu=8)
    halving = CostHalving(10, 3)  # rungs at 10, 30, 90 CPU seconds

    slow = _running(study, [0.4], spent=12)
    # at 10 s: 0.4 against 0.8, 0.6, 0.5 (itself included: 4, the best 2 go on)
    assert halving.prune(study, slow)
    assert study._storage.get_trial(slow._trial_id).system_attrs == {"cost_rung_0": 0.4}

    fast = _running(study, [0.75, 0.7], spent=12)  # its best so far, not its last
    assert not halving.prune(study, fast)  # 0.75 against 0.8, 0.6, 0.5, 0.4: second
    assert not halving.prune(study, _again(study, fast, 20))  # rung 0 is judged once
    # at 30 s: only the trials that finished for less (0.8, 0.5) and itself: the best 1 of 3
    assert halving.prune(study, _again(study, fast, 35))
    assert study._storage.get_trial(fast._trial_id).system_attrs["cost_rung_1"] == 0.75

    leap = _running(study, [0.9], spent=100)  # one slow epoch crosses three rungs
    assert not halving.prune(study, leap)
    recorded = study._storage.get_trial(leap._trial_id).system_attrs
    assert recorded == {"cost_rung_0": 0.9, "cost_rung_1": 0.9, "cost_rung_2": 0.9}


def test_cost_halving_minimises_and_waits_for_a_trials_cpu_seconds():
    study = optuna.create_study(direction="minimize")
    _finished(study, 0.2, cpu=1)
    _finished(study, 0.9, cpu=2)
    halving = CostHalving(10, 2)
    assert not halving.prune(study, _running(study, [0.3], spent=9))  # below the first rung
    assert not halving.prune(study, _running(study, [0.1], spent=11))  # lowest: goes on
    assert halving.prune(study, _running(study, [0.95], spent=11))
    unknown = study.ask()  # a study without a budget records no CPU seconds: never judged
    unknown.report(5.0, 1)
    assert not halving.prune(study, study._storage.get_trial(unknown._trial_id))


def test_min_cpu_seconds_adds_cost_halving_to_the_epoch_pruner(tmp_path, tiny_root):
    def pruner(folds=1, **given):
        search = {"budget": 5, "pruner": {"name": "successive_halving", **given}}
        return make_pruner(tiny_spec(tmp_path, tiny_root, search=search), folds)

    assert isinstance(pruner(), optuna.pruners.SuccessiveHalvingPruner)  # none: the default
    either = pruner(min_cpu_seconds="auto")
    assert isinstance(either, AnyOf)
    epochs, cost = either.pruners
    assert isinstance(epochs, optuna.pruners.SuccessiveHalvingPruner)
    assert isinstance(cost, CostHalving) and cost.first == 5 * 60 / 50  # a 50th of the budget
    assert pruner(min_cpu_seconds=7, reduction_factor=4).pruners[1].first == 7
    folds = pruner(5, min_cpu_seconds="auto")  # with folds: on the first fold's epochs
    assert isinstance(folds, CrossValidationPruner) and isinstance(folds.epochs, AnyOf)


def test_a_study_records_its_trials_at_the_cost_rungs_and_never_cuts_the_exempt(
    tmp_path, tiny_root
):
    search = {
        "n_trials": 4,
        "budget": 5,
        "pruner": {"name": "successive_halving", "min_cpu_seconds": 1e-4},
        "enqueue": [{"training.lr": 1e-3}],
        "space": {"training.lr": {"low": 1e-3, "high": 1e-1, "log": True}},
    }
    spec = tiny_spec(tmp_path, tiny_root, training={"patience": None}, search=search)
    study = run_study(spec, tmp_path / "results").study
    for trial in study.trials:  # every trial's first epoch costs more than 0.1 ms
        assert trials.COST_RUNG.format(0) in trial.system_attrs
    assert [t.state for t in study.trials[:2]] == [STATES.COMPLETE, STATES.COMPLETE]
