"""The study: one per spec (a changed spec is refused), and every sampler."""

import optuna
import pytest

from sweep.run import run_study
from tests.conftest import tiny_spec

STATES = optuna.trial.TrialState


def test_a_changed_spec_does_not_mix_into_an_existing_study(tmp_path, tiny_root):
    from sweep.errors import SpecError

    run_study(tiny_spec(tmp_path, tiny_root), tmp_path / "results")
    changed = tiny_spec(tmp_path, tiny_root, training={"max_epochs": 4})
    with pytest.raises(SpecError, match="was run with a different spec"):
        run_study(changed, tmp_path / "results")


@pytest.mark.parametrize("sampler", ["random", "cmaes", "gp", "tpe"])
def test_every_sampler_runs(tmp_path, tiny_root, sampler):
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        training={"max_epochs": 1},
        search={"n_trials": 2, "sampler": {"name": sampler, "seed": 0, "n_startup_trials": 1}},
    )
    trials = run_study(spec, tmp_path / "results").study.trials
    assert len(trials) == 2 and all(t.state == STATES.COMPLETE for t in trials)


def test_grid_sampler_walks_the_grid(tmp_path, tiny_root):
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        training={"max_epochs": 1},
        search={
            "n_trials": 4,
            "sampler": {"name": "grid"},
            "space": {
                "model.backbone_params.hidden_size": {"choices": [4, 8]},
                "training.lr": {"low": 0.01, "high": 0.02, "step": 0.01},
            },
        },
    )
    trials = run_study(spec, tmp_path / "results").study.trials
    assert sorted(
        (t.params["model.backbone_params.hidden_size"], t.params["training.lr"]) for t in trials
    ) == [(4, 0.01), (4, 0.02), (8, 0.01), (8, 0.02)]
