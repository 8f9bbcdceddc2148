"""One `.npy` file per track: finding a folder's tracks, and reading one with its checks.

A folder holds one `<id>.<anything>.npy` file per track, a numeric array of shape (rows, T):
feature rows, then time. How many rows, and what they are, is the data set's to say
(`sweep.dataset_api.StoredArrays`). A track's id is the part of its name before the first
dot, so files and label files may name one track with any suffix (`1042.fused.full.npy`,
`1042.beatsync.fused.npy`, `1042`).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from sweep.dataset_api import StoredArrays
from sweep.errors import DataError


def track_id(name: str) -> str:
    """The id of a track from any name it goes by: the part before the first dot."""
    return name.strip().split(".", 1)[0]


def index_tracks(folder: Path) -> dict[str, Path]:
    """Map track id -> `.npy` file for every `.npy` in a folder (ids must be unique)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix != ".npy" or not path.is_file():
            continue
        tid = track_id(path.name)
        if tid in found:
            raise DataError(f"{path}: id {tid} is also used by {found[tid].name}")
        found[tid] = path
    return found


def read_track(path: Path, arrays: StoredArrays) -> np.ndarray:
    """Load one track as a float32 array of shape (T, rows): time first, features last.

    Raises DataError naming the file for an unreadable or truncated file, a shape other
    than (arrays.rows, T) with T >= 1, a non-numeric dtype, or NaN/inf values.
    """
    try:
        _check_npy_header(path)
        with NPY_LOAD_LOCK:
            arr = np.load(path, allow_pickle=False)
    except FileNotFoundError as e:
        raise DataError(f"{path}: file not found") from e
    except (ValueError, EOFError, OSError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"{path}: not a readable .npy file ({reason})") from e
    if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{path}: expected a numeric array, got dtype {arr.dtype}")
    _check_shape(path, arr.shape, arrays)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataError(f"{path}: {int(bad.sum())} NaN/inf values")
    return np.ascontiguousarray(arr.T, dtype=np.float32)


def frames_in_header(path: Path, arrays: StoredArrays) -> int:
    """T of a (rows, T) `.npy` from its header alone; a bad header is a DataError."""
    try:
        _check_npy_header(path)
        with NPY_LOAD_LOCK:
            shape = np.load(path, mmap_mode="r", allow_pickle=False).shape  # maps, reads nothing
    except (ValueError, EOFError, OSError) as e:  # truncated files fail here too
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"{path}: not a readable .npy file ({reason})") from e
    _check_shape(path, shape, arrays)
    return int(shape[1])


NPY_MAGIC = b"\x93NUMPY"
# NumPy parses a .npy header with ast.literal_eval, which CPython 3.11 cannot run in two
# threads at once (a rare "SystemError: AST constructor recursion depth mismatch"), and
# sweep.cache reads tracks in threads: one np.load at a time
NPY_LOAD_LOCK = threading.Lock()


def _check_npy_header(path: Path) -> None:
    """Refuse a file that is no `.npy` at all, whatever its name says. NumPy takes a file
    without its header for pickled data, and its message advises `allow_pickle`: unsafe,
    and not the cause (a text file or another format saved under a .npy name)."""
    with open(path, "rb") as f:
        start = f.read(len(NPY_MAGIC))
    if start != NPY_MAGIC:
        what = "it is empty" if not start else f"it starts with {start!r}"
        raise DataError(f"{path}: not a .npy file (no NumPy header: {what})")


def _check_shape(path: Path, shape: tuple[int, ...], arrays: StoredArrays) -> None:
    if len(shape) != 2 or shape[0] != arrays.rows or shape[1] < 1:
        described = f" with {arrays.described}" if arrays.described else ""
        raise DataError(f"{path}: expected shape ({arrays.rows}, T){described}, got {shape}")
