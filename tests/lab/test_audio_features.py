"""The lab's feature recipe on synthetic audio: shapes, ranges, the no-beat gotcha, decoding."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from sweep.errors import DataError
from sweep.lab import layout
from sweep.lab.audio_features import (
    HOP,
    N_FFT,
    SR,
    features_from_audio,
    features_from_file,
    load_audio,
    parallel_map,
)


def clicks(bpm: float, seconds: float) -> tuple[np.ndarray, int]:
    """A click track: a short 1 kHz burst on every beat; returns samples and click count."""
    y = np.zeros(int(seconds * SR), dtype=np.float32)
    burst = np.sin(2 * np.pi * 1000 * np.arange(400) / SR) * np.exp(-np.arange(400) / 80)
    starts = np.arange(0, y.size - burst.size, 60 / bpm * SR).astype(int)
    for start in starts:
        y[start : start + burst.size] += burst
    return y, len(starts)


def chord_with_clicks(seconds: float = 4.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    chord = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0))
    return (chord + clicks(120, seconds)[0]).astype(np.float32)


def test_shapes_and_ranges() -> None:
    y = chord_with_clicks()
    full, beat = features_from_audio(y)
    assert full.dtype == beat.dtype == np.float32
    assert full.shape == (layout.N_ROWS, 1 + y.size // HOP)
    assert beat.shape[0] == layout.N_ROWS and 1 <= beat.shape[1] < full.shape[1]
    for arr in (full, beat):
        mel, chroma = arr[: layout.N_MEL], arr[layout.N_MEL :]
        assert mel.max() == 0.0  # dB relative to the loudest bin
        assert mel.min() >= layout.MEL_FLOOR_DB
        assert chroma.min() >= 0.0 and chroma.max() <= 1.0
    assert full[: layout.N_MEL].min() == layout.MEL_FLOOR_DB  # the floor is reached
    # C major: C, E and G are the strongest chroma bins.
    assert set(np.argsort(full[layout.N_MEL :].mean(axis=1))[-3:]) == {0, 4, 7}


def test_same_audio_same_bytes() -> None:
    y = chord_with_clicks(3.0)
    first, second = features_from_audio(y), features_from_audio(y.copy())
    for a, b in zip(first, second, strict=True):
        assert a.tobytes() == b.tobytes()


@pytest.mark.filterwarnings("ignore:Trying to estimate tuning from empty frequency set")
@pytest.mark.parametrize("audio", ["silence", "sustained tone"])
def test_no_beat_gives_one_column(audio: str) -> None:
    """Beat tracking finds no beat: the beat version is one column over the whole clip."""
    t = np.arange(3 * SR) / SR
    y = np.zeros_like(t) if audio == "silence" else 0.2 * np.sin(2 * np.pi * 440 * t)
    full, beat = features_from_audio(y.astype(np.float32))
    assert beat.shape == (layout.N_ROWS, 1)
    assert np.isfinite(full).all() and np.isfinite(beat).all()
    median = np.median(full[layout.N_MEL :], axis=1)
    np.testing.assert_allclose(beat[layout.N_MEL :, 0], median, atol=1e-6)


def test_beat_columns_follow_the_clicks() -> None:
    y, n_clicks = clicks(bpm=120, seconds=10)
    _, beat = features_from_audio(y)
    # One column per beat interval, plus the stretches before the first and after the last.
    assert abs(beat.shape[1] - n_clicks) <= 3


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="mono"):
        features_from_audio(np.zeros((2, 4096), dtype=np.float32))
    with pytest.raises(ValueError, match="mono"):
        features_from_audio(np.array([0.0, np.nan] * 2048, dtype=np.float32))


def test_load_audio_resamples_to_mono_22050(tmp_path) -> None:
    t = np.arange(3 * 44100) / 44100
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)], axis=1)
    path = tmp_path / "stereo.flac"
    sf.write(path, 0.3 * stereo, 44100)
    y = load_audio(path)
    assert y.dtype == np.float32 and y.shape == (3 * SR,)
    full, _ = features_from_file(path)
    assert full.shape == (layout.N_ROWS, 1 + 3 * SR // HOP)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "file not found"),
        (b"RIFF\x00\x00garbage, not audio at all" * 10, "cannot decode audio"),
        (np.zeros(0), "only 0 samples"),
        (np.zeros(N_FFT // 2), f"need at least {N_FFT}"),
        (np.zeros(SR), "silent"),
    ],
    ids=["missing", "garbage", "empty", "too short", "digital silence"],
)
def test_load_audio_errors_name_the_file(tmp_path, content, reason) -> None:
    path = tmp_path / "clip.wav"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        sf.write(path, content, SR)
    with pytest.raises(DataError, match=reason) as info:
        load_audio(path)
    message = str(info.value)
    assert message.startswith(f"{path}: cannot decode audio (") and "\n" not in message


def half(x: int) -> float:
    if x < 0:
        raise DataError(f"item {x}: negative")
    return x / 2


@pytest.mark.parametrize("workers", [1, 2])
def test_parallel_map_keeps_order_and_collects_errors(workers: int) -> None:
    items = [4, -1, 2, -3, 8]
    results = parallel_map(half, items, workers=workers, show_progress=False, stop_on_error=False)
    assert results[0::2] == [2.0, 1.0, 4.0]
    assert [str(r) for r in results[1::2]] == ["item -1: negative", "item -3: negative"]
    with pytest.raises(DataError, match="negative"):
        parallel_map(half, items, workers=workers, show_progress=False)
    with pytest.raises(ValueError, match="workers"):
        parallel_map(half, items, workers=0)
