"""Which of the lab's data sets a data root holds, by their folders in the Kaggle layout."""

from __future__ import annotations

from pathlib import Path

from sweep.errors import DataError
from sweep.lab import layout

# The lab's data sets and the layout kind each one lives in.
LAB_DATASETS = {"fma_genre": "genre", "multitask": "multitask"}


def present_datasets(
    root: Path, names: list[str] | None, beat: bool | None
) -> list[tuple[str, bool]]:
    """(data set, beat) pairs to summarise: those asked for, or every lab folder present."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data root not found")
    resolutions = [True, False] if beat is None else [beat]
    if names:
        return [
            (n, b)
            for n in names
            for b in resolutions
            if n not in LAB_DATASETS
            or layout.dataset_dir(root, LAB_DATASETS[n], b).is_dir()
            or beat is not None
        ]
    found = [
        (n, b)
        for n, kind in LAB_DATASETS.items()
        for b in resolutions
        if layout.dataset_dir(root, kind, b).is_dir()
    ]
    if not found:
        raise DataError(
            f"{root}: no data set folder (expected fma_genre_spectrograms[_beat] or "
            f"multitask_dataset[_beat])"
        )
    return found
