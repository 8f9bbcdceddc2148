"""The paired bootstrap interval the report puts beside a margin over the baseline."""

import numpy as np

from sweep.metrics import paired_interval


def _one_hot(classes: np.ndarray, n_classes: int = 4) -> np.ndarray:
    return np.eye(n_classes)[classes]


def test_the_same_predictions_differ_by_nothing_on_any_draw():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 4, 80)
    outputs = rng.dirichlet(np.ones(4), 80)
    assert paired_interval("classification", "accuracy", outputs, outputs, targets) == (0.0, 0.0)
    values = rng.normal(size=(64, 3))
    ranks_kept = np.exp(values)  # the same order: the same Spearman on every draw
    assert paired_interval("regression", "spearman", ranks_kept, values, values) == (0.0, 0.0)


def test_right_everywhere_against_wrong_everywhere_is_one_on_every_draw():
    targets = np.arange(80) % 4
    right, wrong = _one_hot(targets), _one_hot((targets + 1) % 4)
    assert paired_interval("classification", "accuracy", right, wrong, targets) == (1.0, 1.0)


def test_one_track_of_eighty_is_inside_the_noise_and_twenty_are_not():
    targets = np.zeros(80, dtype=int)
    base = np.where(np.arange(80) < 55, 0, 1)  # right on 55 of 80
    one_more = base.copy()
    one_more[55] = 0  # right on 56: one track more
    low, high = paired_interval(
        "classification", "accuracy", _one_hot(one_more), _one_hot(base), targets
    )
    assert low <= 0 < high and high < 0.05
    twenty_more = np.where(np.arange(80) < 75, 0, 1)
    low, high = paired_interval(
        "classification", "accuracy", _one_hot(twenty_more), _one_hot(base), targets
    )
    assert 0 < low <= 0.25 <= high
    # seeded: the same draws give the same interval
    assert paired_interval(
        "classification", "accuracy", _one_hot(twenty_more), _one_hot(base), targets, seed=3
    ) == paired_interval(
        "classification", "accuracy", _one_hot(twenty_more), _one_hot(base), targets, seed=3
    )
