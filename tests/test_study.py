"""The engine end to end: a study on tiny data, its records, resume, and trial states."""

import json

import numpy as np
import optuna
import pytest
import torch
import yaml
from torch import nn

from sweep.registry import backbones
from sweep.study import load_checkpoint, run_study
from tests.conftest import tiny_spec

STATES = optuna.trial.TrialState


def test_a_study_records_everything_and_tests_best_and_reference(tmp_path, tiny_root):
    spec = tiny_spec(tmp_path, tiny_root)
    outcome = run_study(spec, tmp_path / "results")
    study, folder = outcome.study, outcome.folder
    assert [t.state for t in study.trials] == [STATES.COMPLETE] * 3
    reference = study.trials[0]
    assert reference.user_attrs["reference"] is True
    assert reference.params == {"model.backbone_params.hidden_size": 8, "training.lr": 1e-2}
    for name in ("spec.yaml", "environment.json", "split.json", "test.json", "optuna.journal"):
        assert (folder / name).is_file(), name
    env = json.loads((folder / "environment.json").read_text())
    assert env["packages"]["torch"] and env["packages"]["optuna"]
    split = json.loads((folder / "split.json").read_text())
    assert len(split["train"]) + len(split["validation"]) == 20 and len(split["test"]) == 6
    for trial in study.trials:
        trial_dir = folder / "trials" / str(trial.number)
        curves = json.loads((trial_dir / "curves.json").read_text())
        assert [c["epoch"] for c in curves] == list(range(1, len(curves) + 1))
        assert {"train_loss", "val_loss", "val", "seconds"} <= set(curves[0])
        assert trial.value == max(c["val"]["accuracy"] for c in curves)  # the best epoch's
        assert trial.user_attrs["best_epoch"] >= 1 and trial.user_attrs["wall_seconds"] > 0
        config = yaml.safe_load((trial_dir / "config.yaml").read_text())
        assert (
            config["model"]["backbone_params"]["hidden_size"]
            == trial.params["model.backbone_params.hidden_size"]
        )
        model, ckpt = load_checkpoint(trial_dir / "checkpoint.pt")
        assert ckpt["class_names"] == ["Classical", "Electronic", "Rock"]
        assert ckpt["best_epoch"] == trial.user_attrs["best_epoch"]
    test = json.loads((folder / "test.json").read_text())
    assert test["reference"]["trial"] == 0 and test["best"]["trial"] == study.best_trial.number
    assert test["best"]["n"] == 6 and 0 <= test["best"]["accuracy"] <= 1
    assert len(test["best"]["confusion_matrix"]) == 3
    assert outcome.test == test


def test_running_again_continues_the_study(tmp_path, tiny_root):
    spec = tiny_spec(tmp_path, tiny_root)
    first = run_study(spec, tmp_path / "results")
    values = [t.value for t in first.study.trials]
    again = run_study(spec, tmp_path / "results")  # budget already met: nothing to do
    assert len(again.study.trials) == 3
    more = run_study(spec, tmp_path / "results", n_trials=5)
    trials = more.study.trials
    assert len(trials) == 5 and [t.value for t in trials[:3]] == values
    assert sum(bool(t.user_attrs.get("reference")) for t in trials) == 1
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 5  # no replayed trials


def test_a_changed_spec_does_not_mix_into_an_existing_study(tmp_path, tiny_root):
    from sweep.errors import SpecError

    run_study(tiny_spec(tmp_path, tiny_root), tmp_path / "results")
    changed = tiny_spec(tmp_path, tiny_root, training={"max_epochs": 4})
    with pytest.raises(SpecError, match="was run with a different spec"):
        run_study(changed, tmp_path / "results")


def test_same_spec_same_numbers(tmp_path, tiny_root):
    spec = tiny_spec(tmp_path, tiny_root)
    a = run_study(spec, tmp_path / "a").study
    b = run_study(spec, tmp_path / "b").study
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert [t.value for t in a.trials] == [t.value for t in b.trials]
    curves = [
        json.loads((tmp_path / r / "tiny/trials/1/curves.json").read_text()) for r in ("a", "b")
    ]
    assert [c["train_loss"] for c in curves[0]] == [c["train_loss"] for c in curves[1]]


class _Explodes(nn.Module):
    """A backbone that goes wrong on purpose: NaN outputs or out of memory."""

    def __init__(self, n_features: int, failure: str) -> None:
        super().__init__()
        self.linear = nn.Linear(n_features, 4)
        self.out_features = 4
        self.failure = failure

    def forward(self, x, lengths):
        if self.failure == "oom":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 40 GiB")
        return self.linear(x.mean(1)) * float("nan")


@pytest.fixture
def exploding_backbone():
    """Registered for one test only: collecting tests, and tests that list the registered
    backbones, never see it."""
    backbones.register("explodes")(lambda n_features, failure="nan": _Explodes(n_features, failure))
    yield "explodes"
    del backbones._factories["explodes"]


def test_diverging_and_out_of_memory_trials_are_states_not_crashes(
    tmp_path, tiny_root, exploding_backbone
):
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        model={"backbone": "explodes", "backbone_params": {"failure": "nan"}},
        search={
            "n_trials": 3,
            "space": {"model.backbone_params.failure": {"choices": ["nan", "oom"]}},
        },
    )
    outcome = run_study(spec, tmp_path / "results")
    trials = outcome.study.trials
    assert {t.state for t in trials} <= {STATES.PRUNED, STATES.FAIL}
    nan = [t for t in trials if t.params["model.backbone_params.failure"] == "nan"]
    oom = [t for t in trials if t.params["model.backbone_params.failure"] == "oom"]
    assert nan and all(t.state == STATES.PRUNED for t in nan)
    assert nan[0].user_attrs["reason"].startswith("diverged: training loss became nan")
    if oom:
        assert all(t.state == STATES.FAIL for t in oom)
        assert oom[0].user_attrs["reason"].startswith("out of memory: CUDA out of memory")
    assert outcome.test == {}  # nothing completed, nothing tested


def test_the_pruner_prunes(tmp_path, tiny_root):
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        training={"max_epochs": 6, "patience": None},
        search={
            "n_trials": 8,
            "pruner": {
                "name": "percentile",
                "percentile": 50,
                "n_startup_trials": 1,
                "n_warmup_steps": 0,
            },
            "sampler": {"name": "random", "seed": 1},
        },
    )
    trials = run_study(spec, tmp_path / "results").study.trials
    pruned = [t for t in trials if t.state == STATES.PRUNED]
    assert pruned, [t.state for t in trials]
    assert all(t.user_attrs["reason"] == "pruned by the pruner" for t in pruned)
    assert all(len(t.intermediate_values) < 6 for t in pruned)


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


def test_regression_studies_score_spearman(tmp_path, tiny_root):
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        data={"dataset": "multitask"},
        task={"kind": "regression", "targets": ["valence", "energy"]},
        search={"n_trials": 2},
    )
    outcome = run_study(spec, tmp_path / "results")
    test = outcome.test["best"]
    assert set(test["per_target"]) == {"valence", "energy"}
    assert np.isclose(
        test["spearman"], np.mean([v["spearman"] for v in test["per_target"].values()])
    )


def test_a_configuration_the_component_refuses_is_a_failed_trial(tmp_path, tiny_root):
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        model={"backbone": "cnn", "backbone_params": {"channels": [4], "kernel_sizes": [3]}},
        search={
            "n_trials": 4,
            "sampler": {"name": "random", "seed": 0},
            "space": {"model.backbone_params.kernel_sizes": {"choices": [[3], [3, 3]]}},
        },
    )
    trials = run_study(spec, tmp_path / "results").study.trials
    bad = [t for t in trials if t.params["model.backbone_params.kernel_sizes"] == "[3, 3]"]
    assert bad and all(t.state == STATES.FAIL for t in bad)
    assert bad[0].user_attrs["reason"].startswith("invalid configuration: ")
    assert trials[0].state == STATES.COMPLETE  # the reference, and the study went on


def test_per_target_runs_one_study_per_target(tmp_path, tiny_root):
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        data={"dataset": "multitask"},
        task={"kind": "regression", "targets": ["valence", "energy"], "per_target": True},
        training={"max_epochs": 1},
        search={"n_trials": 1},
    )
    studies = spec.per_target_specs()
    assert [s.study for s in studies] == ["tiny_valence", "tiny_energy"]
    assert [s.task.targets for s in studies] == [["valence"], ["energy"]]
    for one in studies:
        outcome = run_study(one, tmp_path / "results")
        assert list(outcome.test["best"]["per_target"]) == one.task.targets


def test_windowed_evaluation_averages_a_tracks_windows(tmp_path, tiny_root):
    from sweep.data import prepare
    from sweep.study import build
    from sweep.train import _raw_outputs, predict, windows

    spec = tiny_spec(tmp_path, tiny_root, data={"crop_frames": 6, "eval_windows": True})
    data = prepare(spec.resolved_data)
    model = build(spec, data).eval()
    outputs, _ = predict(model, data, data.validation, 4, torch.device("cpu"))
    wins, owner = windows(data.validation.tracks, 6)
    raw = _raw_outputs(model, data, wins, 4, torch.device("cpu"))
    expected = np.stack([raw[owner == i].mean(0) for i in range(len(data.validation))])
    probabilities = torch.softmax(torch.from_numpy(expected), dim=1).numpy()
    assert np.allclose(outputs, probabilities, atol=1e-5)
