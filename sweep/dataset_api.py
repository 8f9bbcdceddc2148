"""What data set and feature set components hand to the engine.

A data set component reads label files (cheap) and says which folders hold the arrays and
what shape they have; the engine loads, caches, splits and standardises them. A feature set
component says which rows of the stored (rows, T) arrays it uses and what "silence" is for
each row.

    @datasets.register("my_set")
    def my_set(root: Path, beat: bool) -> DataSource: ...

    @feature_sets.register("mel")
    def mel() -> FeatureSet: ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class StoredArrays:
    """What a folder's `.npy` files hold: one array of shape (rows, T) per track.

    Rows are features, T (the columns) is time. A track's file is `<id>.<anything>.npy`
    (see `sweep.track_files`).

    Attributes:
        rows: the rows of every stored array. The cache key includes it, and a file with
            any other number of rows is a bad track.
        described: what the rows are, for error messages ("128 mel + 12 chroma rows");
            empty, the messages give the expected shape alone.
    """

    rows: int
    described: str = ""

    def __post_init__(self) -> None:
        if self.rows < 1:
            raise ValueError(f"stored arrays need at least one row, got rows={self.rows}")


@dataclass(frozen=True)
class Part:
    """One folder of `.npy` tracks and, where known, their labels.

    Attributes:
        name: "train" or "test".
        folder: the folder holding one `<id>.<anything>.npy` file per track.
        arrays: what those files hold (how many rows).
        label_file: where the labels came from; None for an unlabelled folder.
        ids: the labelled track ids in label-file order (None: unlabelled, every file).
        lines: the label-file line of each id, for error messages.
        targets: class indices, shape (n,), for classification; values, shape (n, k),
            for regression. None for an unlabelled folder.
    """

    name: str
    folder: Path
    arrays: StoredArrays
    label_file: Path | None = None
    ids: tuple[str, ...] | None = None
    lines: tuple[int, ...] = ()
    targets: np.ndarray | None = None

    @property
    def labelled(self) -> bool:
        return self.ids is not None


@dataclass(frozen=True)
class DataSource:
    """A data set as its component describes it, before any array is loaded.

    Attributes:
        name: the registered name (e.g. "fma_genre").
        task: classification (integer classes) or regression (float targets).
        class_names: class index -> name, for classification.
        target_names: column index -> name, for regression.
        parts: "train" (labelled, required) and optionally "test" (labelled or not).
        notes: facts worth reporting, e.g. {"dropped": {"Soundtrack": 3}}.
    """

    name: str
    task: Task
    parts: dict[str, Part]
    class_names: tuple[str, ...] = ()
    target_names: tuple[str, ...] = ()
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def has_test_labels(self) -> bool:
        return "test" in self.parts and self.parts["test"].labelled


@dataclass(frozen=True)
class FeatureSet:
    """Which rows of the stored arrays a model sees, and each row's silence value.

    Attributes:
        name: the registered name (e.g. "mel").
        rows: indices into the rows of the stored arrays (`StoredArrays.rows`).
        floor: per selected row, the value that means "nothing here" (the dB floor for mel
            rows, 0 for chroma): used to pad sequences when features are not standardised.
    """

    name: str
    rows: np.ndarray
    floor: np.ndarray

    def __post_init__(self) -> None:
        if len(self.rows) != len(self.floor) or len(self.rows) == 0:
            raise ValueError(
                f"feature set {self.name!r}: rows and floor must be non-empty "
                f"and of equal length, got {len(self.rows)} and {len(self.floor)}"
            )

    @property
    def n_features(self) -> int:
        return len(self.rows)
