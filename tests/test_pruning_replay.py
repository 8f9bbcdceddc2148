"""benchmarks/pruning_replay.py: a replay of recorded curves predicts what a pruned study
trains. With a seeded random sampler the configurations do not depend on pruning, and
training is deterministic, so a real study with the pruner must match its replay exactly:
the epochs trained, the trials pruned, the best value. Cross-validated, so that both kinds
of step (the first fold's epochs, then halving over folds) are replayed."""

from __future__ import annotations

import optuna
import pytest

from benchmarks.pruning_replay import recorded_trials, replay
from benchmarks.studies import epochs_trained
from sweep.run import run_study
from tests.conftest import tiny_spec

HALVING = {"name": "successive_halving", "min_resource": 1, "reduction_factor": 2}
# Hyperband's brackets hash the study's name with the trial's number: the replay's must match
HYPERBAND = {"name": "hyperband", "min_resource": 1, "reduction_factor": 2}


@pytest.mark.parametrize(("folds", "pruner"), [(1, HALVING), (3, HALVING), (3, HYPERBAND)])
def test_a_replay_predicts_the_pruned_study_exactly(tmp_path, tiny_root, folds, pruner):
    def spec(pruner: dict):
        return tiny_spec(
            tmp_path,
            tiny_root,
            name=f"{pruner['name']}.yaml",
            training={"max_epochs": 4, "batch_size": 4, "lr": 1e-2, "patience": None},
            search={
                "n_trials": 8,
                "sampler": {"name": "random", "seed": 0},
                "pruner": pruner,
                "selection": {"folds": folds, "final": "model"},
                "space": {
                    "model.backbone_params.hidden_size": {"low": 2, "high": 16},
                    "training.lr": {"low": 1e-4, "high": 1e-1, "log": True},
                },
            },
        )

    off = run_study(spec({"name": "none"}), tmp_path / "off")
    predicted = replay(spec(pruner), recorded_trials(off.folder))
    on = run_study(spec(pruner), tmp_path / "on")

    pruned = [t for t in on.study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "the setting must prune something for the test to mean anything"
    assert predicted["pruned"] == len(pruned)
    assert predicted["epochs"] == epochs_trained(on.folder)
    assert predicted["best"] == pytest.approx(on.study.best_value)
    assert replay(spec({"name": "none"}), recorded_trials(off.folder))["epochs"] == (
        epochs_trained(off.folder)
    )
