"""Selection on small data (folds, pruning of cross-validated trials, what is tested) and the
CPU-minute budget."""

from __future__ import annotations

import json
import time

import numpy as np
import optuna
import pytest
import torch
from conftest import tiny_spec

from sweep import selection
from sweep.checkpoints import load_checkpoint
from sweep.data import prepare
from sweep.errors import SpecError
from sweep.model import build_model
from sweep.pruning import FOLD_STEP, CrossValidationPruner, make_pruner
from sweep.results import TrialFolder
from sweep.run import run_study
from sweep.spec import SelectionSpec
from sweep.train import fit, predict

STATES = optuna.trial.TrialState


def test_folds_partition_train_and_validation_and_are_stratified(tmp_path, tiny_root):
    data = prepare(tiny_spec(tmp_path, tiny_root).data)
    folds = selection.folds(data, 3)
    pool = {*data.train.ids, *data.validation.ids}
    pool_targets = np.concatenate([data.train.targets, data.validation.targets])
    seen = []
    for fold in folds:
        assert set(fold.train.ids) | set(fold.validation.ids) == pool
        assert not set(fold.train.ids) & set(fold.validation.ids)
        per_class = np.bincount(fold.validation.targets, minlength=3)
        assert np.all(np.abs(per_class - np.bincount(pool_targets) / 3) < 1)  # stratified
        seen += fold.validation.ids
        assert fold.mean is data.mean  # the study's standardisation, documented
    assert sorted(seen) == sorted(pool)  # each track is validated exactly once
    again = selection.folds(data, 3)
    assert [f.validation.ids for f in again] == [f.validation.ids for f in folds]


def test_auto_folds_and_final_follow_the_size_of_the_data(tmp_path, tiny_root):
    data = prepare(tiny_spec(tmp_path, tiny_root).data)  # 24 tracks: small
    auto = SelectionSpec()
    assert selection.n_folds(auto, data) == selection.AUTO_FOLDS
    assert selection.final(auto, selection.AUTO_FOLDS) == "ensemble"
    one = SelectionSpec(folds=1)
    assert selection.n_folds(one, data) == 1 and selection.final(one, 1) == "model"
    assert selection.final(SelectionSpec(final="refit"), 1) == "refit"
    with pytest.raises(SpecError, match="ensemble averages the fold models"):
        selection.final(SelectionSpec(final="ensemble"), 1)


def test_refit_is_the_older_spelling_of_final():
    assert SelectionSpec(refit=True).final == "refit"
    assert SelectionSpec(refit=False).final == "model"
    assert SelectionSpec(refit="auto").final == "auto"
    with pytest.raises(ValueError, match="not both"):
        SelectionSpec(refit=True, final="ensemble")


def test_a_cross_validated_study_prunes_epochs_then_folds_and_tests_the_fold_ensemble(
    tmp_path, tiny_root
):
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        search={"n_trials": 4, "pruner": {"name": "auto"}, "selection": {"folds": 3}},
    )
    outcome = run_study(spec, tmp_path / "results")
    pruner = outcome.study.pruner
    assert isinstance(pruner, CrossValidationPruner)
    assert isinstance(pruner.epochs, optuna.pruners.MedianPruner)
    assert isinstance(pruner.folds.pruner, optuna.pruners.WilcoxonPruner)
    complete = [t for t in outcome.study.trials if t.state == STATES.COMPLETE]
    assert complete
    for t in complete:
        folds = t.user_attrs["fold_values"]
        assert len(folds) == 3 and t.value == float(np.mean(folds))
        steps = sorted(t.intermediate_values)
        epochs_of_first_fold = [s for s in steps if s < FOLD_STEP]
        assert epochs_of_first_fold == list(range(1, len(epochs_of_first_fold) + 1))
        assert [s - FOLD_STEP for s in steps if s >= FOLD_STEP] == [0, 1, 2]
        assert t.user_attrs["epochs"] == len(
            json.loads((outcome.folder / "trials" / str(t.number) / "curves.json").read_text())
        )
    tested = {outcome.test[role]["trial"] for role in ("best", "reference")}
    for role in ("best", "reference"):
        assert outcome.test[role]["final"] == "ensemble"
    kept = {int(p.parent.name) for p in outcome.folder.glob("trials/*/folds.pt")}
    assert kept == tested  # fold models of overtaken trials are removed
    # the tested number is the mean of the three fold models' probabilities
    best_dir = outcome.folder / "trials" / str(outcome.test["best"]["trial"])
    model, ckpt = load_checkpoint(best_dir / "folds.pt")
    assert len(ckpt["fold_state_dicts"]) == 3
    data = prepare(spec.data)
    test = data.test()
    probabilities = []
    for weights in ckpt["fold_state_dicts"]:
        model.load_state_dict(weights)
        probabilities.append(predict(model, data, test, 4, torch.device("cpu"))[0])
    accuracy = np.mean(np.mean(probabilities, axis=0).argmax(axis=1) == test.targets)
    assert outcome.test["best"]["accuracy"] == pytest.approx(accuracy)
    assert TrialFolder(best_dir).tested_model() == best_dir / "folds.pt"
    saved = json.loads((outcome.folder / "test.json").read_text())
    assert saved["best"]["final"] == "ensemble"


def test_final_refit_retrains_the_best_and_the_reference(tmp_path, tiny_root):
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        search={"n_trials": 2, "selection": {"folds": 3, "final": "refit"}},
    )
    outcome = run_study(spec, tmp_path / "results")
    for role in ("best", "reference"):
        assert outcome.test[role]["final"] == "refit"
        trial_dir = outcome.folder / "trials" / str(outcome.test[role]["trial"])
        assert (trial_dir / "refit.pt").is_file()
    assert not list(outcome.folder.glob("trials/*/folds.pt"))


def test_without_folds_the_search_model_is_tested(tmp_path, tiny_root):
    outcome = run_study(tiny_spec(tmp_path, tiny_root), tmp_path / "results")
    assert outcome.test["best"]["final"] == "model"
    assert not list(outcome.folder.glob("trials/*/refit.pt"))
    assert not list(outcome.folder.glob("trials/*/folds.pt"))
    assert isinstance(make_pruner(tiny_spec(tmp_path, tiny_root)), optuna.pruners.NopPruner)


def test_refit_trains_a_fixed_number_of_epochs_without_validation(tmp_path, tiny_root):
    spec = tiny_spec(tmp_path, tiny_root, training={"max_epochs": 4, "patience": 1})
    data = prepare(spec.data)
    model = build_model("lstm", "classifier", data.n_features, 3, {"hidden_size": 8}, {})
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = fit(
        model, selection.refit_data(data), spec.training, "accuracy", "maximize", validate=False
    )
    assert len(result.history) == 4 and result.best_epoch == 4  # patience ignored
    assert all(np.isnan(r.val_loss) and r.val == {} for r in result.history)
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_the_cpu_budget_stops_the_study(tmp_path, tiny_root):
    # Speed-independent: no machine runs 1000 trials in 3 CPU seconds, so the budget is what
    # stops the study, and what is asserted is its own accounting of the trials' CPU seconds.
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        training={"max_epochs": 5, "patience": None, "threads": 1},
        search={"n_trials": 1000, "budget": 0.05},  # 3 CPU seconds
    )
    outcome = run_study(spec, tmp_path / "results")
    trials = outcome.study.trials
    assert 1 <= len(trials) < 1000
    cpu = [t.user_attrs["cpu_seconds"] for t in trials]
    assert sum(cpu) >= 3.0  # spent
    for number in range(1, len(trials)):  # no trial starts once the budget is spent
        assert sum(cpu[:number]) < 3.0, (number, cpu)
    assert all(t.state in (STATES.COMPLETE, STATES.PRUNED) for t in trials)


class EpochClock:
    """The CPU clock the objective reads (`time.process_time` in sweep.objective), moved on
    by `per_epoch` seconds as each training epoch ends and by nothing else: what the budget
    counts is then a number of epochs, the same on any machine."""

    def __init__(self, per_epoch: float) -> None:
        self.per_epoch = per_epoch
        self.now = 0.0

    def process_time(self) -> float:
        return self.now

    def __getattr__(self, name: str):  # every other clock of the time module, as it is
        return getattr(time, name)


@pytest.fixture
def epoch_clock(monkeypatch) -> EpochClock:
    import sweep.objective

    clock = EpochClock(per_epoch=0.25)  # a binary fraction: its sums are exact
    real_fit = sweep.objective.fit

    def fit(model, data, training, metric, direction, on_epoch=None, **kwargs):
        def epoch_ended(record, value):
            clock.now += clock.per_epoch
            if on_epoch is not None:
                on_epoch(record, value)  # the objective's report, and its budget check

        return real_fit(model, data, training, metric, direction, on_epoch=epoch_ended, **kwargs)

    monkeypatch.setattr(sweep.objective, "time", clock)
    monkeypatch.setattr(sweep.objective, "fit", fit)
    return clock


@pytest.mark.filterwarnings("ignore:Fixed parameter")  # the reference's 2 epochs: off-space
def test_a_trial_running_when_the_budget_is_spent_stops_at_its_next_epoch(
    tmp_path, tiny_root, epoch_clock
):
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        training={"max_epochs": 2, "patience": None, "threads": 1},
        search={
            "n_trials": 3,
            "budget": 0.05,  # 3 CPU seconds: 12 epochs of 0.25
            "space": {"training.max_epochs": {"low": 500, "high": 600}},
        },
    )
    outcome = run_study(spec, tmp_path / "results")
    reference, stopped, *rest = outcome.study.trials
    assert reference.user_attrs["reference"] and reference.state == STATES.COMPLETE
    assert reference.user_attrs["cpu_seconds"] == 2 * epoch_clock.per_epoch
    assert not rest  # the budget was spent: no third trial started
    assert stopped.state == STATES.PRUNED
    assert stopped.user_attrs["reason"] == "stopped: the study's CPU budget is spent"
    # the reference's 2 epochs and this trial's 10 spend the 12: it stops after its 10th
    # epoch of 500 or more, the first at whose end the budget is spent
    assert stopped.user_attrs["epochs"] == 10
    assert stopped.user_attrs["cpu_seconds"] == 10 * epoch_clock.per_epoch


def test_the_reference_runs_to_its_end_whatever_the_budget(tmp_path, tiny_root):
    # A budget of 60 microseconds: spent during the reference's first epoch on any machine.
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        training={"max_epochs": 20, "patience": None, "threads": 1},
        search={"n_trials": 3, "budget": 1e-6},
    )
    outcome = run_study(spec, tmp_path / "results")
    trials = outcome.study.trials
    assert len(trials) == 1 and trials[0].user_attrs["reference"]
    assert trials[0].state == STATES.COMPLETE and trials[0].user_attrs["epochs"] == 20
    assert trials[0].user_attrs["cpu_seconds"] > 60e-6
    assert outcome.test["reference"]["trial"] == 0
