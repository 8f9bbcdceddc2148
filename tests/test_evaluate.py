"""Testing a study's models: regression scores, windowed evaluation of crop-trained models."""

import numpy as np
import optuna
import pytest
import torch

from sweep.run import run_study
from tests.conftest import tiny_spec

STATES = optuna.trial.TrialState


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


def test_windowed_evaluation_averages_a_tracks_windows(tmp_path, tiny_root):
    from sweep.checkpoints import build
    from sweep.data import prepare
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


def test_a_refit_trains_the_best_epoch_with_the_searchs_learning_rates(tmp_path, tiny_root):
    """Refitted on train+validation for its best epoch, a cosine-scheduled trial ends that
    epoch at about the learning rate the search had there (the schedule over max_epochs),
    not at the end of a cosine squeezed into the best epoch's length."""
    import yaml

    from sweep.data import prepare
    from sweep.evaluate import refit_model
    from sweep.results import StudyFolder
    from sweep.spec import Spec

    spec = tiny_spec(
        tmp_path,
        tiny_root,
        training={"max_epochs": 12, "lr": 3e-2, "lr_schedule": "cosine", "patience": None},
        search={"n_trials": 1, "space": {}},
    )
    outcome = run_study(spec, tmp_path / "results")
    trial = outcome.study.trials[0]
    trial_dir = StudyFolder(outcome.folder).trial(trial.number)
    resolved = Spec.model_validate(yaml.safe_load(trial_dir.config.read_text()))
    searched_lr = {r["epoch"]: r["lr"] for r in trial_dir.read_curves()}
    for best_epoch in (3, 6):
        _, result = refit_model(resolved, prepare(resolved.resolved_data), best_epoch)
        assert [r.epoch for r in result.history] == list(range(1, best_epoch + 1))
        # train+validation has more steps an epoch than train: the same point of the cosine
        assert result.history[-1].lr == pytest.approx(searched_lr[best_epoch], rel=0.1)
        assert result.history[-1].lr > 0.5 * 3e-2


def test_a_refit_from_before_the_searchs_schedule_was_kept_is_made_again(tmp_path, tiny_root):
    """A continued study may hold a `refit.pt` that squeezed the cosine into the best epoch
    (sweep before the refit kept the search's schedule): it is refitted, not reused."""
    from sweep.checkpoints import read_checkpoint
    from sweep.evaluate import refit_trial
    from sweep.results import StudyFolder

    spec = tiny_spec(
        tmp_path, tiny_root, search={"n_trials": 1, "selection": {"folds": 1, "final": "refit"}}
    )
    outcome = run_study(spec, tmp_path / "results")
    trial = outcome.study.trials[0]
    path = StudyFolder(outcome.folder).trial(trial.number).refit
    ckpt = read_checkpoint(path)
    assert ckpt["refit_epochs"] == trial.user_attrs["best_epoch"]
    del ckpt["refit_epochs"]  # as the older sweep saved it, with weights that show a rewrite
    ckpt["state_dict"] = {k: torch.zeros_like(v) for k, v in ckpt["state_dict"].items()}
    torch.save(ckpt, path)
    refit_trial(outcome.folder, trial, None)
    again = read_checkpoint(path)
    assert again["refit_epochs"] == trial.user_attrs["best_epoch"]
    assert any(v.abs().sum() > 0 for v in again["state_dict"].values())
    written = path.stat().st_mtime_ns
    refit_trial(outcome.folder, trial, None)  # a refit of the current kind is kept
    assert path.stat().st_mtime_ns == written
    # and a test result refitted the old way (test.json without refit_schedule) is tested
    # again when the study is continued, not kept
    folder = StudyFolder(outcome.folder)
    stored = folder.read_test()
    assert stored["best"]["refit_schedule"] == "search"
    del stored["best"]["refit_schedule"]
    stored["best"]["accuracy"] = -1.0  # a score no test gives
    folder.write_json(folder.test, stored)
    again = run_study(spec, tmp_path / "results")
    assert again.test["best"]["refit_schedule"] == "search"
    assert again.test["best"]["accuracy"] == outcome.test["best"]["accuracy"]
