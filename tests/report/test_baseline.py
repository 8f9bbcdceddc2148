"""sweep.report.baseline: pooled features, and the baseline on tiny synthetic splits."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from sweep.data import Split
from sweep.report.baseline import pooled_features, run_baseline
from sweep.tracks import TrackSet


def test_pooled_features_are_mean_and_std_over_valid_frames():
    rng = np.random.default_rng(0)
    lengths = [3, 0, 5, 1]  # an empty track pools to zeros
    frames = rng.normal(size=(sum(lengths), 4)).astype(np.float32)
    tracks = TrackSet(
        np.array(["a", "b", "c", "d"]), frames, np.concatenate([[0], np.cumsum(lengths)])
    )
    pooled = pooled_features(tracks)
    for i in range(4):
        track = tracks.track(i).astype(np.float64)
        expected = np.concatenate([track.mean(0), track.std(0)]) if len(track) else np.zeros(8)
        np.testing.assert_allclose(pooled[i], expected, atol=1e-9)


def split(name: str, levels: np.ndarray, targets: np.ndarray, seed: int) -> Split:
    """Tracks of 2 features and 4-9 frames each, whose frames sit around `levels` (one
    number, or one per feature, per track)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(4, 10, size=len(levels))
    frames = np.concatenate(
        [level + rng.normal(0, 0.05, size=(n, 2)) for level, n in zip(levels, lengths, strict=True)]
    ).astype(np.float32)
    ids = np.array([f"{name}{i}" for i in range(len(levels))])
    return Split(name, TrackSet(ids, frames, np.concatenate([[0], np.cumsum(lengths)])), targets)


def prepared(task: str, parts: dict[str, Split], **names) -> SimpleNamespace:
    """What run_baseline reads of a PreparedData: the task, names and three splits."""
    return SimpleNamespace(
        task=task,
        train=parts["train"],
        validation=parts["validation"],
        test=lambda: parts["test"],
        class_names=names.get("class_names", ()),
        target_names=names.get("target_names", ()),
    )


def test_the_baseline_separates_classes_the_clip_statistics_tell_apart():
    parts = {}
    for seed, (name, n) in enumerate((("train", 30), ("validation", 9), ("test", 9))):
        classes = np.arange(n) % 3
        corners = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])[classes]
        parts[name] = split(name, corners, classes, seed)
    result = run_baseline(prepared("classification", parts, class_names=("a", "b", "c")))
    assert result.model == "LogisticRegression" and set(result.chosen) == {"C"}
    assert result.validation == {"accuracy": 1.0} and result.test["accuracy"] == 1.0
    assert result.sizes == {"train": 30, "validation": 9, "test": 9} and result.seconds > 0


def test_the_regression_baseline_is_one_ridge_per_target():
    parts = {}
    for seed, (name, n) in enumerate((("train", 30), ("validation", 10), ("test", 10))):
        levels = np.linspace(0, 1, n)
        targets = np.stack([levels, 1 - levels], axis=1)
        parts[name] = split(name, levels, targets, seed)
    data = prepared("regression", parts, target_names=("valence", "energy"))
    result = run_baseline(data, refit=False)
    assert result.model == "Ridge"
    assert set(result.chosen) == {"alpha valence", "alpha energy"}
    assert set(result.validation) == {"spearman valence", "spearman energy"}
    assert result.test["per_target"]["valence"]["spearman"] > 0.9
    assert result.test["per_target"]["energy"]["spearman"] > 0.9
