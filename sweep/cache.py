"""Load a folder of `.npy` tracks once, then from a cache.

The first load of a folder parses every `.npy` (in parallel threads: reading files is I/O
and numpy releases the GIL) straight into one preallocated array, and stores it with its
offsets and ids under the cache directory. Later loads memory-map that array: no parsing,
and pages are read only when used. How many rows every array has is the data set's to say
(`sweep.dataset_api.StoredArrays`).

The cache key is a hash of that row count and of the folder's listing (every `.npy` name,
size and modification time), so adding, removing or rewriting a file invalidates the entry.
Entries are written to a temporary folder and renamed into place, so a crash or a second
process never leaves a half-written entry. The user's data folder is only ever read.

The cache lives in `$SWEEP_CACHE_DIR`, else the platform's user cache folder (for example
`~/.cache/sweep`). `sweep data cache` shows it; `sweep data cache --clear` empties it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs

from sweep.dataset_api import StoredArrays
from sweep.errors import DataError
from sweep.track_files import frames_in_header, index_tracks, read_track
from sweep.tracks import TrackSet

CACHE_FORMAT = 1  # bump when the stored format or the parsing rules change
ENTRY_PREFIX = "tracks-"


def cache_dir() -> Path:
    return Path(os.environ.get("SWEEP_CACHE_DIR") or platformdirs.user_cache_dir("sweep"))


@dataclass(frozen=True)
class FolderTracks:
    """Every readable track of one folder, and the files that could not be read."""

    tracks: TrackSet
    bad: dict[str, str]  # track id -> one-line reason (file and problem)
    from_cache: bool
    entry: Path | None  # the cache entry, None when caching is off


def folder_key(folder: Path, files: dict[str, Path], rows: int) -> str:
    digest = hashlib.sha256(f"sweep-tracks/{CACHE_FORMAT}/{rows}".encode())
    for tid, path in sorted(files.items()):
        st = path.stat()
        digest.update(f"\0{tid}\0{path.name}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]


def load_folder(
    folder: Path, arrays: StoredArrays, use_cache: bool = True, threads: int | None = None
) -> FolderTracks:
    """All `.npy` tracks of a folder as one TrackSet (ids sorted), through the cache.

    Args:
        folder: one `<id>.<anything>.npy` file per track (see `sweep.track_files`).
        arrays: what the files hold; a file of another shape is a bad track.
        use_cache: read and write the cache (else parse every file, write nothing).
        threads: threads parsing files (default: twice the cores, at most 8).
    """
    folder = Path(folder)
    files = index_tracks(folder)
    if not use_cache:
        tracks, bad = _parse_folder(files, arrays, None, threads)
        return FolderTracks(tracks, bad, from_cache=False, entry=None)

    entry = cache_dir() / f"{ENTRY_PREFIX}{folder_key(folder, files, arrays.rows)}"
    if (entry / "meta.json").is_file():
        try:
            return FolderTracks(*_read_entry(entry), from_cache=True, entry=entry)
        except (OSError, ValueError, KeyError):
            shutil.rmtree(entry, ignore_errors=True)  # damaged: rebuilt below, never trusted
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=entry.parent))
    except OSError as e:
        raise DataError(
            f"{cache_dir()}: cannot write the cache ({e.strerror}); "
            f"set SWEEP_CACHE_DIR to a writable folder"
        ) from e
    try:
        tracks, bad = _parse_folder(files, arrays, tmp, threads)
        meta = {
            "format": CACHE_FORMAT,
            "folder": str(folder.resolve()),
            "tracks": len(tracks),
            "frames": int(tracks.offsets[-1]),
            "bad": bad,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        del tracks  # release the writable memmap before the folder is renamed
        _publish(tmp, entry)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return FolderTracks(*_read_entry(entry), from_cache=False, entry=entry)


def _publish(tmp: Path, entry: Path) -> None:
    try:
        os.rename(tmp, entry)
    except OSError:
        if not (entry / "meta.json").is_file():  # lost a race to another process: fine
            shutil.rmtree(entry, ignore_errors=True)
            os.rename(tmp, entry)


def _read_entry(entry: Path) -> tuple[TrackSet, dict[str, str]]:
    meta = json.loads((entry / "meta.json").read_text())
    if meta["format"] != CACHE_FORMAT:
        raise ValueError("old cache format")
    frames = np.load(entry / "frames.npy", mmap_mode="r")
    offsets = np.load(entry / "offsets.npy")
    ids = np.load(entry / "ids.npy")
    return TrackSet(ids, frames, offsets), meta["bad"]


def _parse_folder(
    files: dict[str, Path], arrays: StoredArrays, out: Path | None, threads: int | None
) -> tuple[TrackSet, dict[str, str]]:
    """Parse every file into one array (a memmap in `out` when caching, else memory)."""
    threads = threads or min(8, 2 * (os.cpu_count() or 1))
    bad: dict[str, str] = {}
    shapes: dict[str, int] = {}
    for tid, path in files.items():  # headers first: sizes the one array, no data read
        try:
            shapes[tid] = frames_in_header(path, arrays)
        except DataError as e:
            bad[tid] = str(e)
    ids = np.array(sorted(shapes), dtype=str)
    lengths = np.array([shapes[t] for t in ids], dtype=np.int64)
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    shape = (int(offsets[-1]), arrays.rows)
    if out is None:
        frames = np.empty(shape, dtype=np.float32)
    else:
        frames = np.lib.format.open_memmap(out / "frames.npy", "w+", np.float32, shape)

    def fill(i: int) -> tuple[str, str | None]:
        tid = str(ids[i])
        try:
            frames[offsets[i] : offsets[i + 1]] = read_track(files[tid], arrays)
        except DataError as e:
            return tid, str(e)
        return tid, None

    with ThreadPoolExecutor(threads) as pool:
        failed = {tid: reason for tid, reason in pool.map(fill, range(len(ids))) if reason}
    bad.update(failed)
    keep = np.array([str(t) not in failed for t in ids], dtype=bool)
    tracks = TrackSet(ids, frames, offsets)
    if not keep.all():  # drop files whose data failed after a good header
        tracks = tracks.take(np.flatnonzero(keep))
    if out is not None:
        if not keep.all():
            del frames
            np.save(out / "frames.npy", tracks.frames)
        else:
            frames.flush()
        np.save(out / "offsets.npy", tracks.offsets)
        np.save(out / "ids.npy", tracks.ids)
    return tracks, dict(sorted(bad.items()))


def cache_entries() -> list[tuple[Path, dict]]:
    """Every cache entry with its metadata, for `sweep data cache`."""
    root = cache_dir()
    if not root.is_dir():
        return []
    found = []
    for entry in sorted(root.glob(f"{ENTRY_PREFIX}*")):
        try:
            found.append((entry, json.loads((entry / "meta.json").read_text())))
        except (OSError, ValueError):
            found.append((entry, {}))
    return found


def entry_bytes(entry: Path) -> int:
    return sum(p.stat().st_size for p in entry.iterdir() if p.is_file())


def clear_cache() -> int:
    """Delete every cache entry; returns the number of bytes freed."""
    freed = 0
    for entry, _ in cache_entries():
        freed += entry_bytes(entry)
        shutil.rmtree(entry, ignore_errors=True)
    return freed
