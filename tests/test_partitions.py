"""sweep's numpy partitions and validation metrics against scikit-learn's, which they replace
on the training path (so that `sweep run` reaches its first step without importing it)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from sweep import metrics, splits


@st.composite
def labelled(draw, min_per_class: int):
    n_classes = draw(st.integers(1, 6))
    counts = draw(st.lists(st.integers(min_per_class, 25), min_size=n_classes, max_size=n_classes))
    classes = np.repeat(np.arange(n_classes), counts)
    order = draw(st.permutations(range(len(classes))))
    return classes[np.asarray(order, dtype=int)]


@settings(max_examples=150, deadline=None)
@given(labelled(min_per_class=2), st.floats(0.05, 0.6), st.integers(0, 2**32 - 1))
def test_stratified_holdout_is_train_test_split(classes, fraction, seed):
    n = len(classes)
    n_test = int(round(n * fraction))
    n_classes = len(np.unique(classes))
    if n_test < n_classes or n - n_test < n_classes:
        return  # scikit-learn refuses; carve falls back to a plain split there
    want_train, want_test = train_test_split(
        np.arange(n), test_size=n_test, random_state=seed, shuffle=True, stratify=classes
    )
    train, test = splits.stratified_holdout(classes, n_test, seed)
    np.testing.assert_array_equal(train, want_train)
    np.testing.assert_array_equal(test, want_test)


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 200), st.floats(0.05, 0.9), st.integers(0, 2**32 - 1))
def test_holdout_is_train_test_split(n, fraction, seed):
    n_test = min(max(1, int(round(n * fraction))), n - 1)
    want_train, want_test = train_test_split(
        np.arange(n), test_size=n_test, random_state=seed, shuffle=True
    )
    train, test = splits.holdout(n, n_test, seed)
    np.testing.assert_array_equal(train, want_train)
    np.testing.assert_array_equal(test, want_test)


@settings(max_examples=100, deadline=None)
@given(labelled(min_per_class=5), st.integers(2, 5), st.integers(0, 2**32 - 1))
def test_stratified_kfold_is_sklearns(classes, k, seed):
    want = [
        v
        for _, v in StratifiedKFold(k, shuffle=True, random_state=seed).split(
            np.zeros(len(classes)), classes
        )
    ]
    got = splits.stratified_kfold(classes, k, seed)
    assert len(got) == k
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, np.sort(b))


@settings(max_examples=100, deadline=None)
@given(st.integers(5, 200), st.integers(2, 5), st.integers(0, 2**32 - 1))
def test_kfold_is_sklearns(n, k, seed):
    want = [v for _, v in KFold(k, shuffle=True, random_state=seed).split(np.zeros(n))]
    got = splits.kfold(n, k, seed)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 60), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_validation_metrics_are_sklearns(n, n_classes, seed):
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, n_classes, n)
    outputs = rng.random((n, n_classes))
    predicted = outputs.argmax(axis=1)
    scores = metrics.validation_scores("classification", outputs, targets)
    assert scores["accuracy"] == accuracy_score(targets, predicted)
    want = f1_score(targets, predicted, average="macro", zero_division=0)
    assert abs(scores["macro_f1"] - want) < 1e-12


def test_carve_keeps_every_position_once():
    classes = np.arange(103) % 4
    kept, carved, stratified = splits.carve(103, 0.2, 7, classes)
    assert stratified
    assert len(carved) == 21
    np.testing.assert_array_equal(np.sort(np.concatenate([kept, carved])), np.arange(103))
