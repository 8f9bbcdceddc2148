"""Training-batch augmentation: SpecAugment-style masks and mixup, on (B, T, F) batches.

    x = mask_batch(x, lengths, fill, rng, time_mask=0.1, time_masks=2, freq_mask=8)
    x, lengths, y = mixup(x, lengths, y, alpha=0.2, rng=rng, n_classes=4)

Both work on the NumPy batches `PreparedData.batches` yields, before they become tensors,
and draw every random number from the generator they are given (a fit seeds its own from
the trial's seed), so a run is reproducible. Neither is applied to validation or test
batches: `sweep.train.fit` calls them on training batches only.
"""

from __future__ import annotations

import numpy as np


def mask_batch(
    x: np.ndarray,
    lengths: np.ndarray,
    fill: np.ndarray,
    rng: np.random.Generator,
    time_mask: float = 0.0,
    time_masks: int = 1,
    freq_mask: int = 0,
    freq_masks: int = 1,
) -> np.ndarray:
    """SpecAugment masks (Park et al., 2019) written into `x` (B, T, F), which is returned.

    Each track gets `time_masks` bands of consecutive frames and `freq_masks` bands of
    consecutive feature bins set to `fill` (per feature: what padding holds, the mean of
    standardised features or the floor of raw ones). Masks lie inside each track's true
    length: padded frames are never touched and a track is never masked past its end.

    Args:
        x: The batch, changed in place.
        lengths: (B,) true lengths.
        fill: (F,) the value a masked bin takes.
        rng: Where the widths and positions come from.
        time_mask: Widest time band: a fraction of the track's true length when < 1, else
            a number of frames (rounded down). Each band's width is uniform in
            [0, widest], its start uniform where it fits. 0: no time masks.
        time_masks: Time bands per track (they may overlap).
        freq_mask: Widest band of feature bins (width uniform in [0, freq_mask]). 0: none.
        freq_masks: Feature bands per track.
    """
    b, t, f = x.shape
    masked = np.zeros((b, t, f), dtype=bool)
    steps = np.arange(t)
    valid = steps[None, :] < lengths[:, None]  # (B, T)
    if time_mask > 0 and time_masks > 0:
        widest = lengths * time_mask if time_mask < 1 else np.full(b, time_mask)
        widest = np.minimum(np.floor(widest), lengths).astype(np.int64)
        width = rng.integers(0, widest[:, None] + 1, size=(b, time_masks))
        start = rng.integers(0, (lengths[:, None] - width) + 1)
        band = (steps[None, None, :] >= start[..., None]) & (
            steps[None, None, :] < (start + width)[..., None]
        )  # (B, masks, T)
        masked |= band.any(axis=1)[:, :, None]
    if freq_mask > 0 and freq_masks > 0:
        bins = np.arange(f)
        width = rng.integers(0, min(freq_mask, f) + 1, size=(b, freq_masks))
        start = rng.integers(0, f - width + 1)
        band = (bins[None, None, :] >= start[..., None]) & (
            bins[None, None, :] < (start + width)[..., None]
        )  # (B, masks, F)
        masked |= band.any(axis=1)[:, None, :]
    masked &= valid[:, :, None]
    np.copyto(x, np.broadcast_to(fill, x.shape), where=masked)
    return x


def mixup(
    x: np.ndarray,
    lengths: np.ndarray,
    y: np.ndarray,
    alpha: float,
    rng: np.random.Generator,
    n_classes: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mixup (Zhang et al., 2018) within a batch: each track mixed with another of the batch.

    One weight lam ~ Beta(alpha, alpha) per batch and a random pairing: track i becomes
    lam * x[i] + (1 - lam) * x[j], its target the same combination of the two targets:
    class indices become (B, n_classes) class probabilities (mixed one-hot vectors) when
    `n_classes` is given; values (B, K) are mixed as they are. A mixed track is as long as
    the longer of the two; past the shorter one's end its padding is mixed in.

    Returns:
        The mixed batch, the lengths of the mixed tracks and the mixed (soft) targets.
    """
    lam = float(rng.beta(alpha, alpha))
    pair = rng.permutation(len(x))
    mixed = lam * x + (1 - lam) * x[pair]
    if n_classes is not None:
        one_hot = np.eye(n_classes, dtype=np.float32)[np.asarray(y, dtype=np.int64)]
        targets = lam * one_hot + (1 - lam) * one_hot[pair]
    else:
        targets = lam * y + (1 - lam) * y[pair]
    out_lengths = np.maximum(lengths, lengths[pair])
    return mixed.astype(np.float32, copy=False), out_lengths, targets.astype(np.float32)
