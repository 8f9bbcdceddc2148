"""The lab's two data sets, read exactly as the Kaggle copy ships them.

- `fma_genre`: `fma_genre_spectrograms[_beat]/`, genre classification with the official test
  set, the 20 FMA genres merged to 10 classes by default.
- `multitask`: `multitask_dataset[_beat]/`, valence / energy / danceability regression; the
  test folder is unlabelled, so the engine carves validation and test from train.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sweep.dataset_api import DataSource, Part
from sweep.errors import DataError
from sweep.lab import layout
from sweep.registry import datasets

# The report's 20 -> 10 class merge. Genres mapped to nothing are dropped.
GENRE_MERGE: dict[str, str] = {
    "Rock": "Rock", "Psych-Rock": "Rock", "Post-Rock": "Rock",
    "Psych-Folk": "Folk", "Folk": "Folk",
    "Metal": "Metal", "Punk": "Metal",
    "Electronic": "Electronic", "Chiptune": "Electronic",
    "Trip-Hop": "Trip-Hop", "Pop": "Pop", "Hip-Hop": "Hip-Hop",
    "Classical": "Classical", "Blues": "Blues", "Jazz": "Jazz",
}  # fmt: skip
GENRES_DROPPED = frozenset({"Indie-Rock", "Post-Punk", "Soundtrack", "International", "Old-Time"})


def _folder(root: Path, kind: str, beat: bool) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data root not found")
    folder = layout.dataset_dir(root, kind, beat)
    if not folder.is_dir():
        present = sorted(p.name for p in root.iterdir() if p.is_dir())
        raise DataError(
            f"{root}: no folder {folder.name}/ (the Kaggle layout; found: "
            f"{', '.join(present) or 'nothing'})"
        )
    return folder


@datasets.register("fma_genre", default_features="fused")
def fma_genre(root: Path, beat: bool, merge_classes: bool | str = "auto") -> DataSource:
    """FMA genre spectrograms: genre classification with the official test set.

    Args:
        root: the Kaggle `data/` folder.
        beat: beat-synchronised arrays (`fma_genre_spectrograms_beat`) or full ones.
        merge_classes: true: merge the 20 FMA genres into the report's 10 classes and drop
            five; false: the genres in the label files are the classes; auto (the
            default): merge where the label files name any of the lab's FMA genres, and
            keep them as they are where they name none (your own audio's genres, as
            `sweep data extract` writes them).
    """
    folder = _folder(root, "genre", beat)
    raw = {name: _genre_rows(folder / f"{name}_labels.txt") for name in ("train", "test")}
    if merge_classes == "auto":
        named = {row.values[0] for rows in raw.values() for row in rows}
        merge_classes = bool(named & (set(GENRE_MERGE) | set(GENRES_DROPPED)))
    elif not isinstance(merge_classes, bool):
        raise DataError(f"merge_classes must be true, false or auto, got {merge_classes!r}")
    dropped: dict[str, dict[str, int]] = {}
    kept: dict[str, list[tuple[layout.LabelRow, str]]] = {}
    for name, rows in raw.items():
        kept[name], counts = [], Counter()
        for row in rows:
            genre = row.values[0]
            if not merge_classes:
                kept[name].append((row, genre))
            elif genre in GENRE_MERGE:
                kept[name].append((row, GENRE_MERGE[genre]))
            elif genre in GENRES_DROPPED:
                counts[genre] += 1
            else:
                raise DataError(
                    f"{folder / f'{name}_labels.txt'}:{row.line}: genre {genre!r} is neither "
                    f"merged nor dropped by the 20->10 class merge (merge_classes: false "
                    f"keeps the genres as they are)"
                )
        dropped[name] = dict(sorted(counts.items()))

    classes = tuple(sorted({cls for _, cls in kept["train"]}))
    index = {cls: i for i, cls in enumerate(classes)}
    parts = {}
    for name, rows in kept.items():
        label_file = folder / f"{name}_labels.txt"
        for row, cls in rows:
            if cls not in index:
                raise DataError(
                    f"{label_file}:{row.line}: class {cls!r} has no track in the training labels"
                )
        parts[name] = Part(
            name=name,
            folder=folder / name,
            arrays=layout.ARRAYS,
            label_file=label_file,
            ids=tuple(row.track_id for row, _ in rows),
            lines=tuple(row.line for row, _ in rows),
            targets=np.array([index[cls] for _, cls in rows], dtype=np.int64),
        )
    return DataSource(
        "fma_genre",
        "classification",
        parts,
        class_names=classes,
        notes={"dropped": dropped, "merged": merge_classes},
    )


def _genre_rows(path: Path) -> tuple[layout.LabelRow, ...]:
    labels = layout.read_label_file(path, delimiter="\t")
    for row in labels.rows:
        if not row.values[0]:
            raise DataError(f"{path}:{row.line}: empty genre for id {row.track_id}")
    return labels.rows


@datasets.register("multitask", default_features="fused")
def multitask(root: Path, beat: bool, targets: Sequence[str] | None = None) -> DataSource:
    """Multitask emotion data: valence, energy and danceability in [0, 1], regression.

    Args:
        root: the Kaggle `data/` folder.
        beat: beat-synchronised arrays (`multitask_dataset_beat`) or full ones.
        targets: the label columns to predict, in order; default all of them.
    """
    folder = _folder(root, "multitask", beat)
    label_file = folder / "train_labels.txt"
    labels = layout.read_label_file(label_file, delimiter=",")
    available = labels.columns
    chosen = tuple(targets) if targets else available
    missing = [t for t in chosen if t not in available]
    if missing or not chosen:
        raise DataError(
            f"{label_file}: no target column {', '.join(map(repr, missing))} "
            f"(columns: {', '.join(available)})"
        )
    columns = [available.index(t) for t in chosen]
    values = np.empty((len(labels.rows), len(columns)), dtype=np.float32)
    for r, row in enumerate(labels.rows):
        for c, col in enumerate(columns):
            text = row.values[col]
            value = layout.finite_float(text)
            if value is None:
                raise DataError(
                    f"{label_file}:{row.line}: {available[col]} must be a finite number, "
                    f"got {text!r}"
                )
            values[r, c] = value
    parts = {
        "train": Part(
            name="train",
            folder=folder / "train",
            arrays=layout.ARRAYS,
            label_file=label_file,
            ids=tuple(row.track_id for row in labels.rows),
            lines=tuple(row.line for row in labels.rows),
            targets=values,
        )
    }
    if (folder / "test").is_dir():  # as on Kaggle: arrays without public labels
        parts["test"] = Part(name="test", folder=folder / "test", arrays=layout.ARRAYS)
    return DataSource("multitask", "regression", parts, target_names=chosen)
