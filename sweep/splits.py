"""Carving validation and test splits from labelled tracks, seeded and recorded.

A split is recorded as ids per split (`split.json`), so any result can be traced back to the
exact tracks it saw, and reused with `data.split_file` to reproduce it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

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
    kept, carved = train_test_split(
        positions, test_size=n_carved, random_state=seed, shuffle=True, stratify=stratify
    )
    return np.sort(kept), np.sort(carved), stratify is not None


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
