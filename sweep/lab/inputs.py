"""New tracks to predict on (`sweep predict`): the lab's `.npy` arrays, or audio by its recipe.

A folder of `.npy` arrays in the lab layout ((140, T), id = the name before its first dot)
goes through the loader training uses; audio files (wav/mp3/ogg/flac, id = the file name
without its extension) through the lab's feature recipe first. Either way the tracks are
(T, 140) frames, ready for `sweep.predict.prepare_tracks`.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

import numpy as np

from sweep.cache import load_folder
from sweep.errors import DataError
from sweep.lab import layout
from sweep.track_files import index_tracks
from sweep.tracks import TrackSet

# sweep.lab.extract's list; not imported from there, which would load librosa for .npy too.
AUDIO_EXTENSIONS = (".wav", ".mp3", ".ogg", ".flac")


def read_inputs(
    input_dir: Path,
    beat: bool,
    skip_bad: bool = False,
    cache: bool = True,
    workers: int | None = None,
    show_progress: bool = False,
) -> tuple[TrackSet, dict[str, str]]:
    """Every track of a folder of `.npy` arrays or audio files, as (T, 140) frames.

    `.npy` files go through the loader training uses (same parsing, same checks, the same
    cache); audio files through the lab's feature recipe, the full or the beat-synchronised
    version as the model was trained on.

    Args:
        input_dir: the folder (not searched recursively).
        beat: take the beat-synchronised features of audio files (else the full ones).
        skip_bad: skip unreadable files instead of stopping at the first.
        cache: cache parsed `.npy` arrays as the data commands do.
        workers: processes computing audio features (default: all cores).
        show_progress: draw a progress bar while computing audio features.

    Returns:
        The tracks (ids sorted) and the skipped files: file -> one-line reason.

    Raises:
        DataError: a missing folder, no usable file, a bad file (without skip_bad), an id
            used twice.
    """
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise DataError(f"{input_dir}: input folder not found")
    files = [p for p in sorted(input_dir.iterdir()) if p.is_file()]
    npy = [p for p in files if p.suffix == ".npy"]
    audio = [p for p in files if p.suffix.lower() in AUDIO_EXTENSIONS]
    if not npy and not audio:
        subfolders = sorted(p.name for p in input_dir.iterdir() if p.is_dir())
        hint = f" (it has sub-folders: {', '.join(subfolders)})" if subfolders else ""
        raise DataError(
            f"{input_dir}: no .npy or {'/'.join(e[1:] for e in AUDIO_EXTENSIONS)} files{hint}"
        )

    parts: list[TrackSet] = []
    skipped: dict[str, str] = {}
    if npy:
        loaded = load_folder(input_dir, layout.ARRAYS, use_cache=cache)
        if loaded.bad and not skip_bad:
            more = f" (and {len(loaded.bad) - 1} more)" if len(loaded.bad) > 1 else ""
            raise DataError(f"{next(iter(loaded.bad.values()))}{more}; --skip-bad skips such files")
        named = index_tracks(input_dir)  # the files' own names, whatever their style
        skipped.update({str(named[t]): reason for t, reason in loaded.bad.items()})
        parts.append(loaded.tracks)
    if audio:
        tracks, bad = _audio_tracks(audio, beat, skip_bad, workers, show_progress)
        skipped.update(bad)
        parts.append(tracks)
    tracks = _concatenate(parts, input_dir)
    if len(tracks) == 0:
        raise DataError(f"{input_dir}: no usable file ({len(skipped)} skipped as bad)")
    return tracks, skipped


def _audio_features(path: Path, beat: bool) -> np.ndarray:
    """One audio file's full or beat-synchronised features, (T, 140) like a read `.npy`.

    Module-level (and the choice made here, in the worker) so that only the array the model
    needs travels back from the worker process.
    """
    from sweep.lab.audio_features import features_from_file

    full, beat_sync = features_from_file(path)
    return np.ascontiguousarray((beat_sync if beat else full).T, dtype=np.float32)


def _audio_tracks(
    paths: list[Path], beat: bool, skip_bad: bool, workers: int | None, show_progress: bool
) -> tuple[TrackSet, dict[str, str]]:
    from sweep.lab.audio_features import parallel_map

    ids = [_audio_id(p) for p in paths]
    seen: dict[str, Path] = {}
    for tid, path in zip(ids, paths, strict=True):
        if tid in seen:
            raise DataError(f"{path}: id {tid} is also used by {seen[tid].name}")
        seen[tid] = path
    try:
        made = parallel_map(
            functools.partial(_audio_features, beat=beat),
            paths,
            workers=workers,
            description="Computing features",
            show_progress=show_progress,
            stop_on_error=not skip_bad,
        )
    except DataError as e:
        raise DataError(f"{e}; --skip-bad skips such files") from e
    skipped = {str(p): str(a) for p, a in zip(paths, made, strict=True) if isinstance(a, Exception)}
    good = [(t, a) for t, a in zip(ids, made, strict=True) if not isinstance(a, Exception)]
    return _trackset([t for t, _ in good], [a for _, a in good]), skipped


def _audio_id(path: Path) -> str:
    # An audio name has no layout suffix to strip: its id is the name without the extension.
    return path.name[: -len(path.suffix)]


def _trackset(ids: list[str], arrays: list[np.ndarray]) -> TrackSet:
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum([len(a) for a in arrays], out=offsets[1:])
    frames = np.concatenate(arrays) if arrays else np.empty((0, layout.N_ROWS), dtype=np.float32)
    return TrackSet(np.array(ids, dtype=str), frames, offsets)


def _concatenate(parts: list[TrackSet], input_dir: Path) -> TrackSet:
    if len(parts) == 1:
        return parts[0]
    ids = [str(t) for p in parts for t in p.ids]
    duplicated = sorted(t for t, n in Counter(ids).items() if n > 1)
    if duplicated:
        raise DataError(
            f"{input_dir}: id {duplicated[0]} is both a .npy file and an audio file "
            f"({len(duplicated)} such ids)"
        )
    return _trackset(ids, [p.track(i) for p in parts for i in range(len(p))])
