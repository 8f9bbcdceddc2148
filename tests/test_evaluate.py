"""Testing a study's models: regression scores, windowed evaluation of crop-trained models."""

import numpy as np
import optuna
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
