"""Selection on small data (folds, Wilcoxon pruning, refit) and the CPU-minute budget."""

from __future__ import annotations

import json

import numpy as np
import optuna
import torch
from conftest import tiny_spec

from sweep import selection
from sweep.data import prepare
from sweep.model import build_model
from sweep.spec import SelectionSpec
from sweep.study import make_pruner, run_study
from sweep.train import fit

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


def test_auto_folds_and_refit_follow_the_size_of_the_data(tmp_path, tiny_root):
    data = prepare(tiny_spec(tmp_path, tiny_root).data)  # 24 tracks: small
    auto = SelectionSpec()
    assert selection.n_folds(auto, data) == selection.AUTO_FOLDS and selection.refits(auto, data)
    one = SelectionSpec(folds=1)
    assert selection.n_folds(one, data) == 1 and not selection.refits(one, data)
    assert selection.refits(SelectionSpec(folds=1, refit=True), data)


def test_a_cross_validated_study_reports_folds_prunes_by_wilcoxon_and_refits(tmp_path, tiny_root):
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        search={"n_trials": 3, "pruner": {"name": "auto"}, "selection": {"folds": 3}},
    )
    outcome = run_study(spec, tmp_path / "results")
    assert isinstance(outcome.study.pruner, optuna.pruners.WilcoxonPruner)
    complete = [t for t in outcome.study.trials if t.state == STATES.COMPLETE]
    assert complete
    for t in complete:
        folds = t.user_attrs["fold_values"]
        assert len(folds) == 3 and t.value == float(np.mean(folds))
        assert sorted(t.intermediate_values) == [0, 1, 2]  # one report per fold
    for role in ("best", "reference"):
        tested = outcome.test[role]
        assert tested["refit"] is True
        trial_dir = outcome.folder / "trials" / str(tested["trial"])
        assert (trial_dir / "refit.pt").is_file()
    assert json.loads((outcome.folder / "test.json").read_text())["best"]["refit"] is True


def test_without_folds_nor_refit_the_search_model_is_tested(tmp_path, tiny_root):
    outcome = run_study(tiny_spec(tmp_path, tiny_root), tmp_path / "results")
    assert outcome.test["best"]["refit"] is False
    assert not list(outcome.folder.glob("trials/*/refit.pt"))
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
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        training={"max_epochs": 20, "patience": None, "threads": 1},
        search={"n_trials": 200, "budget": 0.05},  # 3 CPU seconds
    )
    outcome = run_study(spec, tmp_path / "results")
    trials = outcome.study.trials
    assert 1 <= len(trials) < 200
    spent = sum(t.user_attrs.get("cpu_seconds", 0.0) for t in trials)
    longest = max(t.user_attrs.get("cpu_seconds", 0.0) for t in trials)
    # no trial starts once the budget is spent; the one running then finishes
    assert 3.0 <= spent <= 3.0 + longest + 1.0
    assert all(t.state in (STATES.COMPLETE, STATES.PRUNED) for t in trials)
