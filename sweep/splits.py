"""Carving validation and test splits from labelled tracks, seeded and recorded.

A split is recorded as ids per split (`split.json`), so any result can be traced back to the
exact tracks it saw, and reused with `data.split_file` to reproduce it.

The random partitions are written here in numpy, and reproduce scikit-learn's
`train_test_split`, `StratifiedKFold` and `KFold` (shuffled, seeded) exactly, which the tests
check: the same seed gives the same tracks as before, whatever scikit-learn's version, and
`sweep run` does not import scikit-learn (with scipy and pandas, most of a second) before
its first training step.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sweep.errors import DataError


def carve(
    n: int, fraction: float, seed: int, classes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Split positions 0..n-1 into (kept, carved), a `fraction` of them carved.

    Classification splits are stratified by class where every class has at least two
    tracks and the carved part can hold one of each; otherwise the split is plain random.

    Returns:
        kept and carved positions (sorted) and whether the split was stratified.
    """
    positions = np.arange(n)
    n_carved = int(round(n * fraction))
    if n_carved < 1 or n - n_carved < 1:
        raise DataError(
            f"cannot carve a {fraction:g} share from {n} tracks: one side would be empty"
        )
    stratify = None
    if classes is not None:
        counts = np.bincount(classes)
        present = counts[counts > 0]
        if present.min() >= 2 and n_carved >= len(present) and n - n_carved >= len(present):
            stratify = classes
    if stratify is None:
        kept, carved = holdout(n, n_carved, seed)
    else:
        kept, carved = stratified_holdout(stratify, n_carved, seed)
    return np.sort(positions[kept]), np.sort(positions[carved]), stratify is not None


# ----------------------------------------------------------------------------- partitions


def holdout(n: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) positions: `train_test_split(range(n), test_size=n_test,
    random_state=seed)` without `stratify`."""
    permutation = np.random.RandomState(seed).permutation(n)
    return permutation[n_test:], permutation[:n_test]


def stratified_holdout(
    classes: np.ndarray, n_test: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) positions, `n_test` of them test, each class in proportion: scikit-learn's
    `train_test_split(..., stratify=classes, random_state=seed)` (StratifiedShuffleSplit).
    Every class needs two tracks, and each side one track per class."""
    rng = np.random.RandomState(seed)
    _, y, counts = np.unique(classes, return_inverse=True, return_counts=True)
    n_train = len(classes) - n_test
    by_class = np.split(np.argsort(y, kind="stable"), np.cumsum(counts)[:-1])
    n_i = _approximate_mode(counts, n_train, rng)
    t_i = _approximate_mode(counts - n_i, n_test, rng)
    train: list[int] = []
    test: list[int] = []
    for i, members in enumerate(by_class):
        shuffled = members.take(rng.permutation(counts[i]), mode="clip")
        train.extend(shuffled[: n_i[i]])
        test.extend(shuffled[n_i[i] : n_i[i] + t_i[i]])
    return rng.permutation(train), rng.permutation(test)


def _approximate_mode(counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """Tracks to draw per class: the share of `n_draws` rounded down, the rest given to the
    largest remainders, ties broken at random (scikit-learn's `_approximate_mode`)."""
    continuous = counts / counts.sum() * n_draws
    floored = np.floor(continuous)
    need = int(n_draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (tied,) = np.where(remainder == value)
            add = min(len(tied), need)
            floored[rng.choice(tied, size=add, replace=False)] += 1
            need -= add
            if need == 0:
                break
    return floored.astype(int)


def kfold(n: int, k: int, seed: int) -> list[np.ndarray]:
    """Validation positions of each of k folds: scikit-learn's shuffled, seeded `KFold`."""
    indices = np.arange(n)
    np.random.RandomState(seed).shuffle(indices)
    sizes = np.full(k, n // k, dtype=int)
    sizes[: n % k] += 1
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    return [np.sort(indices[bounds[i] : bounds[i + 1]]) for i in range(k)]


def stratified_kfold(classes: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """Validation positions of each of k folds, each class spread evenly over the folds:
    scikit-learn's shuffled, seeded `StratifiedKFold`. Every class needs k tracks."""
    rng = np.random.RandomState(seed)
    _, first, inverse = np.unique(classes, return_index=True, return_inverse=True)
    _, order = np.unique(first, return_inverse=True)
    y = order[inverse]  # classes numbered by first appearance
    sorted_y = np.sort(y)
    allocation = np.asarray([np.bincount(sorted_y[i::k], minlength=len(first)) for i in range(k)])
    fold_of = np.empty(len(y), dtype="i")
    for c in range(len(first)):
        assigned = np.arange(k).repeat(allocation[:, c])
        rng.shuffle(assigned)
        fold_of[y == c] = assigned
    return [np.flatnonzero(fold_of == i) for i in range(k)]


def write_split(path: Path, record: dict) -> None:
    Path(path).write_text(json.dumps(record, indent=1) + "\n")


def read_split(path: Path) -> dict[str, list[str]]:
    """Ids per split from a recorded `split.json` (train and validation required)."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise DataError(f"{path}: split file not found") from e
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a split file ({e})") from e
    splits = {}
    for name in ("train", "validation", "test"):
        ids = record.get(name) if isinstance(record, dict) else None
        if ids is None and name == "test":
            continue
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise DataError(f"{path}: {name!r} must be a list of track ids")
        splits[name] = ids
    return splits
