"""`sweep run` end to end on tiny data: a study's records, resuming it, determinism."""

import json

import optuna
import yaml

from sweep.checkpoints import load_checkpoint
from sweep.run import run_study
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
