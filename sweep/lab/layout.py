"""The lab's on-disk format (the Kaggle `patreco3-multitask-affective-music` layout).

```
ROOT/
  fma_genre_spectrograms[_beat]/  train/<id>.fused.full.npy  test/<id>.fused.full.npy
                                  train_labels.txt  test_labels.txt      (TSV: Id, Genre)
  multitask_dataset[_beat]/       train/  test/  train_labels.txt          (CSV: Id, targets)
```

Each `.npy` holds a float array of shape (140, T): 128 mel rows in dB, then 12 chroma rows
(`ARRAYS`, what the engine is told to read). Names in label files do not match names on disk
(`.npy.gz`, `beatsync.fused`, `full.fused`): the one robust rule is that a track's id is the
part of a name before the first dot (`sweep.track_files.track_id`).

This module reads and writes that format and nothing else; which folders make a data set,
and what the labels mean, belongs to the data set components.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sweep.dataset_api import StoredArrays
from sweep.errors import DataError
from sweep.track_files import track_id

GENRE_DIR = "fma_genre_spectrograms"
MULTITASK_DIR = "multitask_dataset"
BEAT_SUFFIX = "_beat"
N_MEL = 128
N_CHROMA = 12
N_ROWS = N_MEL + N_CHROMA
MEL_FLOOR_DB = -80.0  # power_to_db(ref=max) with the default top_db=80
DISK_SUFFIX = ".fused.full.npy"
# Every array of every lab data set, as the engine reads it.
ARRAYS = StoredArrays(N_ROWS, f"{N_MEL} mel + {N_CHROMA} chroma rows")

# How label files name a track, as the Kaggle copy ships them (every file on disk is
# `<id>.fused.full.npy` whatever its label file says).
LABEL_NAME_STYLES = {
    "disk": "{id}.fused.full.npy",
    "npy.gz": "{id}.fused.full.npy.gz",
    "beatsync": "{id}.beatsync.fused.npy",
    "full.fused": "{id}.full.fused.npy.gz",
    "bare": "{id}",
}


def dataset_dir(root: Path, kind: str, beat: bool) -> Path:
    """The folder of one data set under a Kaggle-style root (`kind` is genre or multitask)."""
    base = {"genre": GENRE_DIR, "multitask": MULTITASK_DIR}[kind]
    return Path(root) / (base + (BEAT_SUFFIX if beat else ""))


def npy_path(folder: Path, tid: str) -> Path:
    return Path(folder) / f"{tid}{DISK_SUFFIX}"


# ----------------------------------------------------------------------------- label files


@dataclass(frozen=True)
class LabelRow:
    """One data row of a label file: where it is, the track id and its raw values."""

    line: int
    track_id: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class LabelFile:
    path: Path
    columns: tuple[str, ...]  # header names after the id column
    rows: tuple[LabelRow, ...]


def read_label_file(path: Path, delimiter: str, min_columns: int = 2) -> LabelFile:
    """Read a label file: header, then one row per track; first column is the id.

    Tolerates a UTF-8 BOM, Windows line endings, blank lines and stray spaces around
    fields. Raises DataError, naming the file and line, for a missing file, a header
    without enough columns, a short row, an empty id or a duplicate id.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: label file not found")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a UTF-8 text file ({e.reason} at byte {e.start})") from e
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[LabelRow] = []
    seen: dict[str, int] = {}
    for line_no, fields in enumerate(reader, start=1):
        fields = [f.strip() for f in fields]
        if not any(fields):
            continue
        if header is None:
            header = fields
            if len(header) < min_columns:
                sep = "tab" if delimiter == "\t" else repr(delimiter)
                raise DataError(
                    f"{path}:{line_no}: header must have at least {min_columns} "
                    f"{sep}-separated columns, got {fields!r}"
                )
            continue
        if len(fields) < len(header):
            raise DataError(
                f"{path}:{line_no}: expected {len(header)} columns ({', '.join(header)}), "
                f"got {len(fields)}: {fields!r}"
            )
        tid = track_id(fields[0])
        if not tid:
            raise DataError(f"{path}:{line_no}: empty track id in {fields[0]!r}")
        if tid in seen:
            raise DataError(f"{path}:{line_no}: duplicate id {tid} (first on line {seen[tid]})")
        seen[tid] = line_no
        rows.append(LabelRow(line_no, tid, tuple(fields[1 : len(header)])))
    if header is None:
        raise DataError(f"{path}: label file is empty")
    return LabelFile(path, tuple(header[1:]), tuple(rows))


def finite_float(text: str) -> float | None:
    """A label value as a number, or None where it is not a finite one ("", "high", "nan")."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def write_genre_labels(path: Path, entries: Iterable[tuple[str, str]], style: str) -> None:
    """Write a genre label file (`Id<TAB>Genre`), naming tracks in one of LABEL_NAME_STYLES."""
    fmt = LABEL_NAME_STYLES[style]
    lines = ["Id\tGenre"] + [f"{fmt.format(id=tid)}\t{genre}" for tid, genre in entries]
    Path(path).write_text("\n".join(lines) + "\n")


def write_multitask_labels(
    path: Path,
    entries: Iterable[tuple[str, Sequence[float]]],
    targets: Sequence[str] = ("valence", "energy", "danceability"),
) -> None:
    """Write a multitask label file (`Id,valence,energy,danceability`, bare ids)."""
    lines = [",".join(["Id", *targets])]
    for tid, values in entries:
        if len(values) != len(targets):
            raise ValueError(f"track {tid}: {len(values)} values for {len(targets)} targets")
        lines.append(",".join([tid, *(f"{float(v):.6f}" for v in values)]))
    Path(path).write_text("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------- arrays
# Reading them is the engine's: `sweep.track_files.read_track(path, ARRAYS)`.


def write_track(path: Path, features: np.ndarray) -> None:
    """Write one (140, T) feature array as the layout stores it (float32 `.npy`)."""
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or features.shape[0] != N_ROWS:
        raise ValueError(f"expected shape ({N_ROWS}, T), got {features.shape}")
    np.save(path, features)
