"""The lab's feature recipe: audio -> (140, T) arrays, full-resolution and beat-synchronised.

Rows 0-127 are a 128-band mel spectrogram in dB relative to the clip's loudest bin (so
<= 0, floor -80), rows 128-139 the 12 `chroma_cqt` bins in [0, 1]. The full version has one
column per hop of 512 samples; the beat version one column per beat interval, each the
median of the frames inside it. See ../shared/reference/datasets.md. `parallel_map` applies
the recipe (or anything else per clip) to many clips over the cores.

Decoding and the recipe print nothing: librosa's and the decoders' warnings are silenced
where the audio is read and its features computed, and a file that cannot be used raises
`UnusableAudio`, one line naming the file and the reason.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import TypeVar

import librosa
import numpy as np
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from threadpoolctl import threadpool_limits

from sweep.errors import DataError

SR = 22050
HOP = 512
N_FFT = 2048
N_MELS = 128

Item = TypeVar("Item")
Result = TypeVar("Result")


class UnusableAudio(DataError):
    """An audio file that gives no features: "<path>: cannot decode audio (<reason>)".

    `problem` says why in a few words, for counting skipped files: "not found", "not
    decodable", "too short", "silent" or "NaN/inf samples".
    """

    def __init__(self, message: str, problem: str = "not decodable") -> None:
        super().__init__(message)
        self.problem = problem  # kept when a worker process sends the error back


def load_audio(path: Path) -> np.ndarray:
    """Decode an audio file as float32 mono at `SR` Hz.

    Args:
        path: A file in any format libsndfile (wav, flac, ogg, mp3) or audioread can read.

    Returns:
        The samples, shape (n,), with n >= N_FFT.

    Raises:
        UnusableAudio: "<path>: cannot decode audio (<reason>)" when the file is missing,
            cannot be decoded, is shorter than one analysis window, or is digital silence
            (all zeros: `power_to_db(ref=max)` would turn it into a flat 0 dB, i.e. "loud").
    """
    try:
        # librosa warns when it falls back from soundfile to audioread, and C decoders
        # (libmpg123 inside libsndfile) print their own warnings about tags they skip; the
        # outcome is what matters here, and a failure is reported below as one line.
        with warnings.catch_warnings(), _stderr_silenced():
            warnings.simplefilter("ignore")
            y, _ = librosa.load(path, sr=SR, mono=True)
    except FileNotFoundError as e:
        raise UnusableAudio(f"{path}: cannot decode audio (file not found)", "not found") from e
    except Exception as e:  # soundfile, audioread and the resampler each raise their own
        raise UnusableAudio(f"{path}: cannot decode audio ({_decode_failure(e)})") from e
    if y.size < N_FFT:
        raise UnusableAudio(
            f"{path}: cannot decode audio (only {y.size} samples at {SR} Hz, need at least "
            f"{N_FFT})",
            "too short",
        )
    if not np.isfinite(y).all():
        raise UnusableAudio(f"{path}: cannot decode audio (NaN/inf samples)", "NaN/inf samples")
    if not np.any(y):
        raise UnusableAudio(f"{path}: cannot decode audio (silent: every sample is zero)", "silent")
    return y


def _decode_failure(error: Exception) -> str:
    """Why a file could not be decoded, in one line.

    librosa tries soundfile first, then audioread; audioread's NoBackendError says nothing,
    so the reason then quotes soundfile ("Format not recognised").
    """
    said = str(error).splitlines()[0] if str(error) else ""
    earlier = error.__context__
    if not said and earlier is not None:
        first = getattr(earlier, "error_string", None) or str(earlier).splitlines()[0]
        if first:
            said = f"neither soundfile nor audioread reads it; soundfile: {first.rstrip('.')}"
    return said or type(error).__name__


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the block: C libraries write their
    warnings there directly, past Python's `warnings` and `sys.stderr`."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def features_from_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """`features_from_audio(load_audio(path))`: the (full, beat) features of an audio file."""
    return features_from_audio(load_audio(path))


def features_from_audio(y: np.ndarray, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    """Compute the lab's full and beat-synchronised features of one clip.

    Beat tracking finds no beat at all in some clips (silence, quiet or rubato classical
    music), and `librosa.util.sync` then returns zero columns. Beat intervals are therefore
    always closed with the clip's first and last frame: no beat gives one column, the
    median over the whole clip, and every clip gets at least one column.

    BLAS runs on one thread: its results change in the last bits with the thread count,
    and the same audio must give byte-identical arrays (`parallel_map` already keeps every
    core busy with one clip each).

    Args:
        y: Mono samples, shape (n,).
        sr: Their sample rate (the lab's data uses `SR`).

    Returns:
        (full, beat), float32 arrays of shape (140, T) and (140, T_beat), T_beat <= T.

    Raises:
        ValueError: `y` is not a non-empty 1-D array of finite samples.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or y.size == 0 or not np.isfinite(y).all():
        raise ValueError(f"expected non-empty finite mono samples, got shape {y.shape}")
    with threadpool_limits(limits=1), warnings.catch_warnings():
        # librosa's remarks on a short or toneless clip ("n_fft=1024 is too large for input
        # signal of length=690", "Trying to estimate tuning from empty frequency set"): the
        # recipe is fixed, and its arrays are computed all the same.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"librosa(\.|$)")
        return _features(y, sr)


def _features(y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    mel_power = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, power=2.0
    )
    chroma = librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=HOP)
    full = np.vstack([librosa.power_to_db(mel_power, ref=np.max), chroma])

    _, beats = librosa.beat.beat_track(
        y=librosa.effects.percussive(y), sr=sr, hop_length=HOP, units="frames"
    )
    frames = mel_power.shape[1]
    bounds = np.unique(np.concatenate([[0], beats[(beats > 0) & (beats < frames)], [frames]]))
    beat_mel = librosa.util.sync(mel_power, bounds, aggregate=np.median, pad=False)
    beat_chroma = librosa.util.sync(chroma, bounds, aggregate=np.median, pad=False)
    beat = np.vstack([librosa.power_to_db(beat_mel, ref=np.max), beat_chroma])
    return full.astype(np.float32), beat.astype(np.float32)


def parallel_map(
    fn: Callable[[Item], Result],
    items: Sequence[Item],
    *,
    workers: int | None = None,
    description: str = "Computing features",
    show_progress: bool = True,
    stop_on_error: bool = True,
) -> list[Result | DataError]:
    """Apply `fn` to every item in worker processes, with a progress bar.

    Workers are started the platform's default way (forked on Linux up to Python 3.13,
    spawned elsewhere: there, scripts need the usual `if __name__ == "__main__":` guard).
    Before they start, this process runs the recipe once on a short click track: librosa's
    numba functions are compiled on the very first run (about 20 s) and cached on disk, and
    workers compiling them at the same time can crash each other through that cache (numba
    issues #4807, #10128). Forked workers inherit the compiled functions; spawned ones load
    them from the cache.

    Args:
        fn: A module-level function (it is sent to the workers by name).
        items: Its arguments, one call each.
        workers: Processes to use; default `os.cpu_count()`. With 1, everything runs here,
            in this process.
        description: The progress bar's label.
        show_progress: Draw the progress bar.
        stop_on_error: Raise the first DataError that `fn` raises (the first to finish when
            several items fail), after cancelling the items not started yet. Otherwise the
            DataError takes the place of the item's result.

    Returns:
        One result per item, in the order of `items`.

    Raises:
        ValueError: `workers` < 1.
        DataError: from `fn`, with stop_on_error.
    """
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    results: list[Result | DataError | None] = [None] * len(items)

    def settle(i: int, outcome: Callable[[], Result]) -> None:
        try:
            results[i] = outcome()
        except DataError as e:
            if stop_on_error:
                raise
            results[i] = e

    if workers == 1 or len(items) <= 1:
        with _progress_bar(show_progress) as progress:
            task = progress.add_task(description, total=len(items))
            for i, item in enumerate(items):
                settle(i, lambda item=item: fn(item))
                progress.advance(task)
        return results
    _warm_up()
    with ProcessPoolExecutor(min(workers, len(items))) as pool:
        # Submitting starts the workers, before the progress bar starts its refresh thread:
        # where workers are forked (Linux), a fork must not copy a thread's held locks.
        pending: dict[Future, int] = {pool.submit(fn, x): i for i, x in enumerate(items)}
        try:
            with _progress_bar(show_progress) as progress:
                task = progress.add_task(description, total=len(items))
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in sorted(done, key=pending.__getitem__):
                        settle(pending.pop(future), future.result)
                        progress.advance(task)
        finally:
            for future in pending:
                future.cancel()
    return results


def _warm_up() -> None:
    """Run the recipe on 3 s of clicks, so that librosa's numba functions are compiled."""
    y = np.zeros(3 * SR, dtype=np.float32)
    y[:: SR // 2] = 1.0
    features_from_audio(y)


def _progress_bar(show: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not show,
    )
