"""Turn a user's own audio files and labels into the lab's Kaggle layout.

The label table (CSV or TSV, header required) names each clip in a `file` column and gives
either a `genre` column (-> `fma_genre_spectrograms[_beat]/`, other columns ignored) or
numeric target columns such as valence, energy, danceability (-> `multitask_dataset[_beat]/`).
Optional columns: `id` (else the file's stem) and `split` (train/test). Column names are
case-insensitive. Features follow the lab's recipe (`sweep.lab.audio_features`), computed over
all cores. Genres other than the 20 FMA names need the genre reader's class merge off.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sweep.errors import DataError
from sweep.lab import layout
from sweep.lab.audio_features import features_from_file, parallel_map

AUDIO_EXTENSIONS = (".wav", ".mp3", ".ogg", ".flac")
SPLITS = ("train", "test")
# Columns with a meaning of their own; in a table without `genre`, every other column is a
# numeric target.
RESERVED = ("file", "id", "split")
# An id becomes part of file names and of comma- and tab-separated label files.
ID_PATTERN = re.compile(r"[\w-]+")


@dataclass(frozen=True)
class _Row:
    """One labelled clip: where the table names it, its audio file, id, split and label."""

    line: int
    path: Path
    tid: str
    split: str | None  # None: decided by the seeded split (genre) or train (multitask)
    genre: str | None
    values: tuple[float, ...] | None  # targets; None for multitask test rows


def extract_features(
    audio_dir: Path,
    labels: Path,
    out: Path,
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
    workers: int | None = None,
    skip_bad: bool = False,
    show_progress: bool = True,
) -> dict:
    """Compute the lab's features of labelled audio files and write them in the Kaggle layout.

    Genre tables go to `out/fma_genre_spectrograms[_beat]/` with train and test labels; the
    split comes from a `split` column, else a seeded split stratified by genre (every genre
    keeps at least one train track). Target tables go to `out/multitask_dataset[_beat]/`:
    rows whose split is test go to `test/` unlabelled, as on Kaggle (their targets are not
    read), all others to `train/` with labels. Each data set folder also gets `sources.tsv`
    (Id, File: the absolute path of the audio file).

    Files are matched case-sensitively by path relative to `audio_dir` with or without
    extension, or, for a bare name, by stem anywhere under `audio_dir`. A track's id is the
    `id` column, else the file's stem with every character other than a letter, digit, '_'
    or '-' replaced by '_'.

    Args:
        audio_dir: Folder of .wav/.mp3/.ogg/.flac files (searched recursively, never written).
        labels: The label table; its delimiter (tab or comma) is read from the header line.
        out: Root of the layout to write; the data set's folders must be new or empty.
        test_fraction: Share of each genre held out for test when there is no split column.
        seed: Seeds that split.
        workers: Processes decoding audio and computing features; default `os.cpu_count()`.
        skip_bad: Skip rows whose audio file is missing or cannot be decoded, and report
            them in the summary, instead of stopping at the first.
        show_progress: Draw a progress bar.

    Returns:
        A summary: kind, folders written, tracks per split, classes (genre: track counts)
        or targets, skipped files with reasons (`skipped`, one message each) and how many
        for each problem (`skipped_problems`: "not found", "not decodable", "silent",
        ...), frame counts and wall seconds.

    Raises:
        DataError: one line naming the file (and line of the table) at fault.
        ValueError: test_fraction outside [0, 1).
    """
    start = time.perf_counter()
    audio_dir, labels, out = Path(audio_dir), Path(labels), Path(out)
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    if not audio_dir.is_dir():
        raise DataError(f"{audio_dir}: audio folder not found")
    if not labels.is_file():
        raise DataError(f"{labels}: label file not found")
    header, records = _read_table(labels)
    if "genre" in header:
        kind, targets = "genre", ()
    else:
        kind, targets = "multitask", tuple(c for c in header if c not in RESERVED)
        if not targets:
            raise DataError(
                f"{labels}: needs a 'genre' column or numeric target columns "
                f"(e.g. valence,energy,danceability) besides {', '.join(header)}"
            )
    folders = [layout.dataset_dir(out, kind, beat) for beat in (False, True)]
    _check_output(out, folders, audio_dir)

    rows, skipped = _rows(labels, header, records, audio_dir, targets, skip_bad)
    if rows:  # a table error should surface before the long part, not after it
        _splits(labels, rows, kind, test_fraction, seed)
    made = parallel_map(
        features_from_file,
        [row.path for row in rows],
        workers=workers,
        description="Extracting features",
        show_progress=show_progress,
        stop_on_error=not skip_bad,
    )
    failed = [arrays for arrays in made if isinstance(arrays, DataError)]
    problems = Counter(["not found"] * len(skipped))  # rows naming no file in the folder
    problems.update(getattr(error, "problem", "not decodable") for error in failed)
    skipped += [str(error) for error in failed]
    good = [(row, a) for row, a in zip(rows, made, strict=True) if not isinstance(a, DataError)]
    if not good:
        raise DataError(f"{labels}: no audio file could be read ({len(skipped)} skipped)")
    split_of = _splits(labels, [row for row, _ in good], kind, test_fraction, seed)
    _write(folders, good, split_of, kind, targets)

    full_frames = [full.shape[1] for _, (full, _) in good]
    beat_frames = [beat.shape[1] for _, (_, beat) in good]
    summary = {
        "kind": kind,
        "folders": [str(folder) for folder in folders],
        "tracks": {split: sum(s == split for s in split_of.values()) for split in SPLITS},
        "skipped": skipped,
        "n_skipped": len(skipped),
        "skipped_problems": dict(problems.most_common()),
        "frames_full": (min(full_frames), max(full_frames)),
        "frames_beat": (min(beat_frames), max(beat_frames)),
        "seconds": round(time.perf_counter() - start, 1),
    }
    if kind == "genre":
        summary["classes"] = dict(sorted(Counter(row.genre for row, _ in good).items()))
    else:
        summary["targets"] = list(targets)
    return summary


def _read_table(path: Path) -> tuple[tuple[str, ...], list[tuple[int, dict[str, str]]]]:
    """Header (lower-cased names) and (line, {column: value}) per non-blank row."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a UTF-8 text file ({e.reason} at byte {e.start})") from e
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise DataError(f"{path}: label file is empty")
    # A tab in the header means TSV: file names may well contain commas.
    delimiter = "\t" if "\t" in lines[first] else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: tuple[str, ...] | None = None
    records = []
    for line_no, fields in enumerate(reader, start=1):
        fields = [f.strip() for f in fields]
        if not any(fields):
            continue
        if header is None:
            header = tuple(f.lower() for f in fields)
            repeated = sorted(c for c, n in Counter(header).items() if n > 1)
            if "file" not in header or "" in header or repeated:
                raise DataError(
                    f"{path}:{line_no}: header must name distinct columns, one of them "
                    f"'file' (comma- or tab-separated), got {fields!r}"
                )
            continue
        if len(fields) < len(header) or any(fields[len(header) :]):
            raise DataError(
                f"{path}:{line_no}: expected {len(header)} columns ({', '.join(header)}), "
                f"got {len(fields)}: {fields!r}"
            )
        records.append((line_no, dict(zip(header, fields, strict=False))))
    return header, records


def _rows(
    labels: Path,
    header: tuple[str, ...],
    records: list[tuple[int, dict[str, str]]],
    audio_dir: Path,
    targets: tuple[str, ...],
    skip_bad: bool,
) -> tuple[list[_Row], list[str]]:
    """Validate every record and find its audio file; returns rows and skipped messages."""
    find = _AudioIndex(audio_dir)
    rows: list[_Row] = []
    skipped: list[str] = []
    first_line: dict[str, int] = {}
    for line, record in records:
        where = f"{labels}:{line}"
        split = record["split"].lower() if "split" in header else None
        if split is not None and split not in SPLITS:
            raise DataError(f"{where}: split must be train or test, got {record['split']!r}")
        genre = record.get("genre")
        if genre == "":
            raise DataError(f"{where}: empty genre")
        values = None
        if targets and split != "test":
            values = tuple(_number(where, column, record[column]) for column in targets)
        if not record["file"]:
            raise DataError(f"{where}: empty file name")
        path = find(where, record["file"])
        if path is None:
            message = (
                f"{where}: no audio file {record['file']!r} in {audio_dir} (looked for "
                f"{'/'.join(AUDIO_EXTENSIONS)} files by relative path, with or without "
                f"extension, and by name)"
            )
            if not skip_bad:
                raise DataError(message)
            skipped.append(message)
            continue
        tid = record.get("id") or re.sub(r"[^\w-]", "_", path.stem)
        if not ID_PATTERN.fullmatch(tid):
            raise DataError(
                f"{where}: id {tid!r} may hold only letters, digits, '_' and '-' (it becomes "
                f"part of file names and label files)"
            )
        if tid in first_line:
            raise DataError(f"{where}: duplicate id {tid} (first on line {first_line[tid]})")
        first_line[tid] = line
        rows.append(_Row(line, path, tid, split, genre, values))
    return rows, skipped


def _number(where: str, column: str, text: str) -> float:
    value = layout.finite_float(text)
    if value is None:
        raise DataError(
            f"{where}: {column} must be a finite number, got {text!r} (without a 'genre' "
            f"column, every column other than {', '.join(RESERVED)} is a numeric target)"
        )
    return value


class _AudioIndex:
    """Finds the audio file a table names: by relative path, with or without extension,
    else (for a bare name) by stem anywhere below the audio folder."""

    def __init__(self, audio_dir: Path) -> None:
        self.audio_dir = audio_dir
        self.by_path: dict[str, Path] = {}
        self.by_base: dict[str, list[Path]] = {}  # relative path without extension
        self.by_stem: dict[str, list[Path]] = {}
        for path in sorted(audio_dir.rglob("*")):
            if path.suffix.lower() not in AUDIO_EXTENSIONS or not path.is_file():
                continue
            rel = path.relative_to(audio_dir).as_posix()
            self.by_path[rel] = path
            self.by_base.setdefault(rel[: -len(path.suffix)], []).append(path)
            self.by_stem.setdefault(path.stem, []).append(path)

    def __call__(self, where: str, name: str) -> Path | None:
        """The file `name` denotes; None if none; DataError if it could be several."""
        name = name.removeprefix("./")
        if name in self.by_path:
            return self.by_path[name]
        found = self.by_base.get(name) or ([] if "/" in name else self.by_stem.get(name, []))
        if len(found) > 1:
            names = ", ".join(p.relative_to(self.audio_dir).as_posix() for p in found)
            raise DataError(f"{where}: {name!r} matches several audio files ({names}): say which")
        return found[0] if found else None


def _check_output(out: Path, folders: list[Path], audio_dir: Path) -> None:
    """Refuse to write into the audio folder, or into anything that already holds files."""
    resolved, audio = out.resolve(), audio_dir.resolve()
    if resolved == audio or audio in resolved.parents:
        raise DataError(
            f"{out}: inside the audio folder {audio_dir}; choose an output folder outside it"
        )
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: not a folder")
    for folder in folders:
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise DataError(f"{folder}: folder is not empty; choose a new folder")


def _splits(
    labels: Path, rows: list[_Row], kind: str, test_fraction: float, seed: int
) -> dict[str, str]:
    """Split per track id: as the table says, else seeded and stratified by genre.

    The stratified split holds out `test_fraction` of each genre, rounded, keeping one train
    track per genre. Where that rounds to no test track at all (a few clips per genre), it
    holds out one track of each genre that has two or more, largest genres first, until
    the test split has `test_fraction` of the tracks (at least one); where every genre has a
    single clip, no test split can be made, and that is an error rather than an empty one.
    """
    if kind == "multitask" or rows[0].split is not None:  # rows have a split iff a column says
        split_of = {row.tid: row.split or "train" for row in rows}
    else:
        rng = np.random.default_rng(seed)
        split_of, order_of = {}, {}
        for genre in sorted({row.genre for row in rows}):
            ids = [row.tid for row in rows if row.genre == genre]
            n_test = min(round(len(ids) * test_fraction), len(ids) - 1)
            order_of[genre] = [ids[i] for i in rng.permutation(len(ids))]
            for rank, tid in enumerate(order_of[genre]):
                split_of[tid] = "test" if rank < n_test else "train"
        if test_fraction > 0 and "test" not in split_of.values():
            _hold_out_across_genres(labels, split_of, order_of, test_fraction)
    if "train" not in split_of.values():
        raise DataError(f"{labels}: no track for train (every readable row says test)")
    if kind == "genre":
        trained = {row.genre for row in rows if split_of[row.tid] == "train"}
        for row in rows:
            if row.genre not in trained:
                raise DataError(
                    f"{labels}:{row.line}: genre {row.genre!r} has test tracks but no train track"
                )
    return split_of


def _hold_out_across_genres(
    labels: Path, split_of: dict[str, str], order_of: dict[str, list[str]], test_fraction: float
) -> None:
    """One test track from each of the largest genres with two or more tracks, until the
    test split has `test_fraction` of all tracks (at least one)."""
    wanted = max(1, round(len(split_of) * test_fraction))
    candidates = sorted(
        (g for g, ids in order_of.items() if len(ids) >= 2), key=lambda g: (-len(order_of[g]), g)
    )
    if not candidates:
        raise DataError(
            f"{labels}: every genre has a single clip, so no test track can be held out "
            f"without leaving its genre untrained (add clips, or a 'split' column)"
        )
    for genre in candidates[:wanted]:
        split_of[order_of[genre][0]] = "test"


def _write(
    folders: list[Path],
    good: list[tuple[_Row, tuple[np.ndarray, np.ndarray]]],
    split_of: dict[str, str],
    kind: str,
    targets: tuple[str, ...],
) -> None:
    """Write arrays, label files (named as on disk) and sources.tsv into both folders."""
    for folder, beat in zip(folders, (False, True), strict=True):
        for split in SPLITS:
            (folder / split).mkdir(parents=True, exist_ok=True)
        for row, (full, beat_sync) in good:
            path = layout.npy_path(folder / split_of[row.tid], row.tid)
            layout.write_track(path, beat_sync if beat else full)
        if kind == "genre":
            for split in SPLITS:
                layout.write_genre_labels(
                    folder / f"{split}_labels.txt",
                    [(row.tid, row.genre) for row, _ in good if split_of[row.tid] == split],
                    style="disk",
                )
        else:
            layout.write_multitask_labels(
                folder / "train_labels.txt",
                [(row.tid, row.values) for row, _ in good if split_of[row.tid] == "train"],
                targets=targets,
            )
        sources = ["Id\tFile"] + [f"{row.tid}\t{row.path.resolve()}" for row, _ in good]
        (folder / "sources.tsv").write_text("\n".join(sources) + "\n")
