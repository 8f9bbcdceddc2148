"""Variable-length tracks stored back to back in one array, and batches made from them.

A `TrackSet` holds n tracks as one (total_frames, n_features) float32 array plus offsets:
track i is `frames[offsets[i]:offsets[i + 1]]`, time first. One array (not n small ones)
loads from the cache in one read, slices without copying and standardises in one operation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrackSet:
    ids: np.ndarray  # (n,) str
    frames: np.ndarray  # (total_frames, n_features) float32; may be a read-only memmap
    offsets: np.ndarray  # (n + 1,) int64, offsets[0] == 0, offsets[-1] == total_frames

    def __post_init__(self) -> None:
        if len(self.offsets) != len(self.ids) + 1 or self.offsets[-1] != len(self.frames):
            raise ValueError(
                f"inconsistent TrackSet: {len(self.ids)} ids, {len(self.offsets)} offsets, "
                f"{len(self.frames)} frames"
            )

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def n_features(self) -> int:
        return self.frames.shape[1]

    def track(self, i: int) -> np.ndarray:
        return self.frames[self.offsets[i] : self.offsets[i + 1]]

    def take(
        self,
        indices: np.ndarray,
        rows: np.ndarray | None = None,
        max_length: int | None = None,
    ) -> TrackSet:
        """A new, contiguous TrackSet of some tracks, optionally some feature rows only and
        each track cut to its first `max_length` frames; one copy, whatever is asked."""
        indices = np.asarray(indices, dtype=np.int64)
        starts = self.offsets[indices]
        lengths = self.offsets[indices + 1] - starts
        if max_length is not None:
            lengths = np.minimum(lengths, max_length)
        offsets = np.zeros(len(indices) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # One gather over frame indices: faster than a Python loop over tracks.
        frame_index = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        cols = _as_slice(rows)
        if isinstance(cols, slice):
            frames = self.frames[frame_index, cols]
        else:  # fancy indices on both axes would broadcast, not select a block
            frames = self.frames[frame_index][:, cols]
        frames = frames.astype(np.float32, copy=False)
        return TrackSet(self.ids[indices], np.ascontiguousarray(frames), offsets)

    def with_frames(self, frames: np.ndarray) -> TrackSet:
        """The same tracks with frames replaced (e.g. standardised)."""
        return TrackSet(self.ids, frames, self.offsets)


def _as_slice(rows: np.ndarray | None) -> slice | np.ndarray:
    """Contiguous rows as a slice, so that gathering frames and rows is a single copy."""
    if rows is None:
        return slice(None)
    rows = np.asarray(rows)
    if len(rows) and np.array_equal(rows, np.arange(rows[0], rows[0] + len(rows))):
        return slice(int(rows[0]), int(rows[0]) + len(rows))
    return rows


def pad_batch(
    tracks: TrackSet,
    indices: np.ndarray,
    pad_value: np.ndarray,
    pad_to: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Stack some tracks into a (B, T, F) batch padded with `pad_value` (per feature).

    T is the longest track of the batch, or `pad_to` if given (longer tracks are cut).
    Returns the batch and the true lengths (after cutting), for packed sequences.
    """
    indices = np.asarray(indices, dtype=np.int64)
    lengths = tracks.lengths[indices]
    width = int(lengths.max()) if pad_to is None else pad_to
    lengths = np.minimum(lengths, width)
    batch = np.empty((len(indices), width, tracks.n_features), dtype=np.float32)
    batch[:] = pad_value
    for row, (i, n) in enumerate(zip(indices, lengths, strict=True)):
        start = tracks.offsets[i]
        batch[row, :n] = tracks.frames[start : start + n]
    return batch, lengths


def random_crops(
    tracks: TrackSet,
    indices: np.ndarray,
    width: int,
    pad_value: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """One random window of `width` frames from each track, as a (B, width, F) batch.

    Tracks shorter than `width` are taken whole and padded. Training on random crops of
    full-resolution spectrograms is what makes a CNN on 1,293 frames affordable on a CPU.
    """
    indices = np.asarray(indices, dtype=np.int64)
    lengths = tracks.lengths[indices]
    starts = rng.integers(0, np.maximum(lengths - width, 0) + 1)
    out_lengths = np.minimum(lengths, width)
    batch = np.empty((len(indices), width, tracks.n_features), dtype=np.float32)
    batch[:] = pad_value
    for row, (i, s, n) in enumerate(zip(indices, starts, out_lengths, strict=True)):
        begin = tracks.offsets[i] + s
        batch[row, :n] = tracks.frames[begin : begin + n]
    return batch, out_lengths


def windows(tracks: TrackSet, width: int) -> tuple[TrackSet, np.ndarray]:
    """Every track cut into windows of `width` frames, for evaluating crop-trained models.

    Windows start every `width` frames; the last one is aligned to the track's end so no frame
    is left out, and a track shorter than `width` is one window. Returns the windows and, for
    each, the index of its track.
    """
    lengths = tracks.lengths
    per_track = np.maximum(1, -(-lengths // width))  # ceil(length / width), at least one
    owner = np.repeat(np.arange(len(tracks)), per_track)
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(per_track) - per_track, per_track)
    starts = np.minimum(rank * width, np.maximum(lengths[owner] - width, 0))
    window_lengths = np.minimum(lengths[owner], width)
    offsets = np.zeros(len(owner) + 1, dtype=np.int64)
    np.cumsum(window_lengths, out=offsets[1:])
    source = tracks.offsets[owner] + starts
    frame_index = np.repeat(source - offsets[:-1], window_lengths) + np.arange(offsets[-1])
    frames = np.ascontiguousarray(tracks.frames[frame_index], dtype=np.float32)
    return TrackSet(tracks.ids[owner], frames, offsets), owner
