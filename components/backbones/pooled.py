"""The practitioner's baseline as a backbone: per-feature statistics over a track, then an MLP.

A linear model on the mean and standard deviation (and maximum) of each mel band or chroma
bin over a track is the classic baseline of music classification (the summary features of
Tzanetakis and Cook 2002, "Musical genre classification of audio signals": means and
variances of frame features over a window). `pooled_mlp` is its neural twin: the same
statistics, optionally standardised by batch normalisation, then an MLP that may have no
hidden layer (with the `classifier` head's `hidden_size: 0`, the whole model is a linear
model on the statistics). It ignores the order of frames, so it costs almost nothing and
shows what a model that reads time must beat.

It can also estimate the track's key, for what mode says of a track's valence (major reads
happier than minor: Gabrielsson and Lindstroem 2010; Eerola's MIRtoolbox `mirmode`). The
track's mean chromagram, in the data's own units, is correlated with the 24 key profiles of
Krumhansl and Kessler (1982), as their key-finding algorithm does, and the best correlations
with a major and with a minor key join the statistics. They do not depend on the key itself,
which a linear model on the chroma means cannot learn from a few hundred tracks.

And it can summarise the track's timbre as Tzanetakis and Cook's "timbral texture" does: the
mean and standard deviation over the track of each frame's mel-frequency cepstral
coefficients (MFCCs: the orthonormal DCT-II of a frame's log-mel bands, as
`librosa.feature.mfcc` computes them). The means are a fixed linear map of the mel means; the
standard deviations are not a function of any band's own statistics, since they also depend
on how the bands move together.

This module also defines the two masked 1-D building blocks the sequence backbones share:
`masked_stats`, the statistics over each track's valid frames, and `MaskedBatchNorm1d`,
batch normalisation over valid frames only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sweep.model import check_batch, check_dropout, check_positive, is_integer, valid_steps
from sweep.registry import backbones

STATS = ("mean", "std", "max")

# Krumhansl and Kessler's (1982) probe-tone ratings of the 12 pitch classes in C major and C
# minor (C first): the profiles of the Krumhansl-Schmuckler key-finding algorithm.
KK_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
KK_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
N_PITCH_CLASSES = 12
KEYS_KEPT = 3  # the best correlations kept per mode
N_KEY_STATS = 2 * KEYS_KEPT
MFCC_STATS = ("mean", "std")  # of each coefficient over the track


def mfcc_basis(n_mels: int, n_mfcc: int) -> Tensor:
    """(n_mels, n_mfcc): the orthonormal DCT-II, so that `log_mel @ basis` are a frame's first
    `n_mfcc` MFCCs (scipy's `dct(type=2, norm="ortho")`, as `librosa.feature.mfcc` takes)."""
    bands = torch.arange(n_mels, dtype=torch.float64)[:, None]
    order = torch.arange(n_mfcc, dtype=torch.float64)[None, :]
    basis = torch.cos(math.pi * (bands + 0.5) * order / n_mels) * math.sqrt(2.0 / n_mels)
    basis[:, 0] /= math.sqrt(2.0)
    return basis.to(torch.float32)


def key_profiles() -> Tensor:
    """(24, 12): the 12 major keys' profiles (tonic C, C#, ..., B), then the 12 minor keys',
    each standardised to mean 0 and standard deviation 1 over its 12 pitch classes."""
    rows = []
    for profile in (KK_MAJOR, KK_MINOR):
        base = torch.tensor(profile, dtype=torch.float32)
        base = (base - base.mean()) / base.std(correction=0)
        rows += [torch.roll(base, tonic) for tonic in range(N_PITCH_CLASSES)]
    return torch.stack(rows)


def key_correlations(chroma: Tensor, profiles: Tensor) -> Tensor:
    """The Krumhansl-Schmuckler correlations, kept the same under transposition.

    Args:
        chroma: (B, 12) a chromagram's profile per track, its pitch classes in ascending
            semitones from any one, in any units.
        profiles: (24, 12) as `key_profiles` gives.

    Returns:
        (B, 6): the track's 3 highest Pearson correlations with a major key's profile, highest
        first, then its 3 highest with a minor key's. A flat chroma (no pitch at all)
        correlates 0 with every key.
    """
    centred = chroma - chroma.mean(dim=1, keepdim=True)
    var = centred.square().mean(dim=1, keepdim=True)
    # Flat: no spread beyond the round-off of undoing a standardisation (1e-6 of the units,
    # or of the chroma's size when larger). sqrt is taken of the others only, so that the
    # gradient stays finite.
    scale = 1.0 + chroma.abs().mean(dim=1, keepdim=True)
    flat = var < (1e-6 * scale).square()
    z = torch.where(flat, 0.0, centred / torch.where(flat, 1.0, var).sqrt())
    corr = z @ profiles.T / N_PITCH_CLASSES  # (B, 24)
    major = corr[:, :N_PITCH_CLASSES].topk(KEYS_KEPT, dim=1).values
    minor = corr[:, N_PITCH_CLASSES:].topk(KEYS_KEPT, dim=1).values
    return torch.cat([major, minor], dim=1)


def masked_stats(x: Tensor, lengths: Tensor, stats: Sequence[str]) -> Tensor:
    """Statistics of each channel over the valid steps of each sequence, concatenated.

    Args:
        x: (B, T, C) sequences, padded at the end with any finite or non-finite values.
        lengths: (B,) valid steps of each sequence, 1 <= length <= T.
        stats: Which statistics, in the order they are concatenated: "mean", "std" (the
            population standard deviation, 0 for a single step) and "max".

    Returns:
        (B, C * len(stats)): for each statistic in turn, its C values.
    """
    valid = valid_steps(lengths, x.shape[1], x.device)[:, :, None]  # (B, T, 1)
    count = lengths.to(device=x.device, dtype=x.dtype)[:, None]
    zeroed = torch.where(valid, x, 0.0)
    mean = zeroed.sum(dim=1) / count
    out = []
    for stat in stats:
        if stat == "mean":
            out.append(mean)
        elif stat == "std":
            centred = torch.where(valid, x - mean[:, None, :], 0.0)
            var = centred.square().sum(dim=1) / count
            # sqrt has an infinite slope at 0 (a one-step track, a constant band): take it of
            # positive variances only, so that the value and the gradient there are 0.
            positive = var > 0
            out.append(torch.where(positive, torch.where(positive, var, 1.0).sqrt(), 0.0))
        elif stat == "max":
            out.append(x.masked_fill(~valid, float("-inf")).amax(dim=1))
        else:
            raise ValueError(f"stats must be among {', '.join(map(repr, STATS))}, got {stat!r}")
    return torch.cat(out, dim=1)


def check_stats(name: str, stats: Sequence[str]) -> None:
    """`stats` must be a non-empty list of distinct names from `STATS`."""
    if (
        not isinstance(stats, (list, tuple))
        or not stats
        or any(s not in STATS for s in stats)
        or len(set(stats)) != len(stats)
    ):
        raise ValueError(
            f"{name} must be a non-empty list of distinct choices from "
            f"{', '.join(map(repr, STATS))}, but got {name}={stats!r}"
        )


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d whose training statistics come from the valid (unpadded) steps only.

    Takes (B, C) vectors or (B, C, T) sequences with a mask of their valid steps. With every
    step valid it computes what `nn.BatchNorm1d` does, with the same parameters and buffers.
    When a batch has a single valid value per channel (one track of one step, or one vector)
    its variance is undefined, and `nn.BatchNorm1d` raises; this one normalises with the
    running statistics instead and leaves them as they are.
    """

    def forward(self, x: Tensor, valid: Tensor | None = None) -> Tensor:  # type: ignore[override]
        """`x` (B, C) or (B, C, T); `valid` (B, 1, T), 1.0 for valid steps, 0.0 for padded
        ones (None: every step is valid)."""
        if x.dim() == 2:
            x, valid = x[:, :, None], None
            return self._normalise(x, valid)[:, :, 0]
        return self._normalise(x, valid)

    def _normalise(self, x: Tensor, valid: Tensor | None) -> Tensor:
        if valid is None:
            valid = x.new_ones(x.shape[0], 1, x.shape[2])
        count = valid.sum()
        if not self.training or count < 2:
            return F.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias, eps=self.eps
            )
        mean = (x * valid).sum(dim=(0, 2)) / count
        centred = x - mean[:, None]
        var = (centred.square() * valid).sum(dim=(0, 2)) / count
        with torch.no_grad():
            # Running variance is unbiased, as in nn.BatchNorm1d; normalisation is not.
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var * count / (count - 1), self.momentum)
            self.num_batches_tracked.add_(1)
        scale = self.weight * torch.rsqrt(var + self.eps)
        return centred * scale[:, None] + self.bias[:, None]


@backbones.register("pooled_mlp")
def pooled_mlp(
    n_features: int,
    stats: tuple[str, ...] = ("mean", "std"),
    batch_norm: bool = True,
    hidden_sizes: tuple[int, ...] = (128,),
    dropout: float = 0.0,
    key_chroma_rows: tuple[int, int] | None = None,
    mfcc_mel_rows: tuple[int, int] | None = None,
    n_mfcc: int = 20,
) -> PooledMLPBackbone:
    """Statistics of each feature over a track's valid frames (its key, its MFCCs), then an MLP.

    The baseline of Tzanetakis and Cook (2002) and of every practitioner (a linear model on
    per-band means and standard deviations over the track), as a backbone. Changed from it:
    the statistics are standardised by batch normalisation inside the model (the baseline
    standardises them over the training set, which is what batch normalisation's running
    statistics converge to) and an MLP may follow; with `hidden_sizes: []` and the
    `classifier` head's `hidden_size: 0` it is the linear baseline itself.

    Cost (defaults, 128 mel bins): 33,408 parameters; s/epoch: 0.08 s
    (benchmarks/backbones.py: 205 tracks of 128-frame mel crops, batch 16, 2 cores, 2026-12-01).

    Args:
        n_features: Features per frame (set from the data).
        stats: Statistics of each feature over the valid frames, concatenated in this order:
            any of "mean", "std" (population standard deviation; 0 for a one-frame track)
            and "max".
        batch_norm: Standardise the statistics with batch normalisation (running statistics
            in eval mode).
        hidden_sizes: Units of each hidden layer (Linear + ReLU); empty: none, the
            statistics are the embedding.
        dropout: Dropout after each hidden layer (on the statistics when there is none).
        key_chroma_rows: [start, stop): the 12 features that hold a chromagram, its pitch
            classes in ascending semitones (from any one: only the best keys are kept), e.g.
            [128, 140] of the lab's `fused` features or [0, 12] of `chroma`.
            Given, the track's key is estimated from its mean chroma in the data's own units
            (see `key_correlations`) and 6 values join the statistics: its 3 best
            correlations with a major key and its 3 best with a minor key. null: none.
        mfcc_mel_rows: [start, stop): the features that hold a log-mel spectrogram (dB), its
            bands in ascending frequency, e.g. [0, 128] of the lab's `fused` or `mel`.
            Given, each frame's first `n_mfcc` MFCCs are computed from those bands in the
            data's own units, and their mean and standard deviation over the track's valid
            frames join the statistics (2 * n_mfcc values). null: none.
        n_mfcc: MFCCs per frame with `mfcc_mel_rows` (at most its stop - start).

    Returns:
        A module mapping (x (B, T, n_features), lengths (B,)) to (B, out_features), with
        out_features = hidden_sizes[-1], or n_features * len(stats) (+ 6 with
        `key_chroma_rows`, + 2 * n_mfcc with `mfcc_mel_rows`) without hidden layers.

    Raises:
        ValueError: A size below 1, unknown or repeated statistics, dropout outside [0, 1),
            key rows that are not 12 features of the input, mel rows outside the input or
            fewer than `n_mfcc`.
    """
    check_positive("n_features", n_features)
    check_stats("stats", stats)
    if not isinstance(batch_norm, bool):
        raise ValueError(f"batch_norm must be true or false, but got {batch_norm!r}")
    if not isinstance(hidden_sizes, (list, tuple)) or any(
        not is_integer(h) or h < 1 for h in hidden_sizes
    ):
        raise ValueError(
            "hidden_sizes must be a list of positive integers (empty: no hidden layer), "
            f"but got hidden_sizes={hidden_sizes!r}"
        )
    check_dropout(dropout)
    if key_chroma_rows is not None:
        check_key_rows("key_chroma_rows", key_chroma_rows, n_features)
        key_chroma_rows = (int(key_chroma_rows[0]), int(key_chroma_rows[1]))
    check_positive("n_mfcc", n_mfcc)
    if mfcc_mel_rows is not None:
        check_mel_rows("mfcc_mel_rows", mfcc_mel_rows, n_features, n_mfcc)
        mfcc_mel_rows = (int(mfcc_mel_rows[0]), int(mfcc_mel_rows[1]))
    return PooledMLPBackbone(
        n_features,
        stats,
        batch_norm,
        hidden_sizes,
        dropout,
        key_chroma_rows,
        mfcc_mel_rows,
        int(n_mfcc),
    )


def rows_span(rows, n_features: int) -> int | None:
    """How many features [start, stop) spans, if `rows` is such a pair of integers with
    0 <= start and stop <= `n_features`; else None."""
    if (
        not isinstance(rows, (list, tuple))
        or len(rows) != 2
        or not all(is_integer(r) for r in rows)
        or rows[0] < 0
        or rows[1] > n_features
    ):
        return None
    return rows[1] - rows[0]


def check_key_rows(name: str, rows: Sequence[int], n_features: int) -> None:
    """`rows` must be [start, stop) of 12 features among `n_features`."""
    if rows_span(rows, n_features) != N_PITCH_CLASSES:
        raise ValueError(
            f"{name} must be [start, stop) of the {N_PITCH_CLASSES} chroma rows among the "
            f"{n_features} features (stop = start + {N_PITCH_CLASSES} <= {n_features}), "
            f"but got {name}={rows!r}"
        )


def check_mel_rows(name: str, rows: Sequence[int], n_features: int, n_mfcc: int) -> None:
    """`rows` must be [start, stop) of at least `n_mfcc` features among `n_features`."""
    span = rows_span(rows, n_features)
    if span is None or span < n_mfcc:
        raise ValueError(
            f"{name} must be [start, stop) of the mel bands among the {n_features} features, "
            f"at least n_mfcc={n_mfcc} of them (0 <= start, start + {n_mfcc} <= stop <= "
            f"{n_features}), but got {name}={rows!r}"
        )


class PooledMLPBackbone(nn.Module):
    """The module `pooled_mlp` builds; see there for the arguments."""

    def __init__(
        self,
        n_features: int,
        stats: Sequence[str],
        batch_norm: bool,
        hidden_sizes: Sequence[int],
        dropout: float,
        key_chroma_rows: tuple[int, int] | None = None,
        mfcc_mel_rows: tuple[int, int] | None = None,
        n_mfcc: int = 20,
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.stats = tuple(stats)
        self.key_chroma_rows = key_chroma_rows
        self.mfcc_mel_rows = mfcc_mel_rows
        width = n_features * len(self.stats)
        if key_chroma_rows is not None:
            self.register_buffer("key_profiles", key_profiles())
            # The chroma rows' standardisation, undone before the key is estimated: the
            # identity until the engine tells it (set_input_standardisation); in checkpoints.
            self.register_buffer("chroma_mean", torch.zeros(N_PITCH_CLASSES))
            self.register_buffer("chroma_std", torch.ones(N_PITCH_CLASSES))
            width += N_KEY_STATS
        if mfcc_mel_rows is not None:
            start, stop = mfcc_mel_rows
            self.register_buffer("mfcc_basis", mfcc_basis(stop - start, n_mfcc))
            # as for the chroma: the mel rows' standardisation, undone before the DCT
            self.register_buffer("mel_mean", torch.zeros(stop - start))
            self.register_buffer("mel_std", torch.ones(stop - start))
            width += len(MFCC_STATS) * n_mfcc
        self.norm = MaskedBatchNorm1d(width) if batch_norm else None
        layers: list[nn.Module] = []
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        self.mlp = nn.Sequential(*layers) if layers else nn.Dropout(dropout)
        self.out_features = int(width)

    def set_input_standardisation(self, mean, std) -> None:
        """The per-feature mean and std the inputs were standardised with ((n_features,)
        arrays): the key and the MFCCs are computed from the data's own units."""
        if self.key_chroma_rows is None and self.mfcc_mel_rows is None:
            return
        if len(mean) != self.n_features or len(std) != self.n_features:
            raise ValueError(
                f"pooled_mlp: the standardisation must give {self.n_features} means and "
                f"standard deviations, one per feature, but got {len(mean)} and {len(std)}"
            )
        if self.key_chroma_rows is not None:
            start, stop = self.key_chroma_rows
            self.chroma_mean.copy_(torch.as_tensor(mean[start:stop]))
            self.chroma_std.copy_(torch.as_tensor(std[start:stop]))
        if self.mfcc_mel_rows is not None:
            start, stop = self.mfcc_mel_rows
            self.mel_mean.copy_(torch.as_tensor(mean[start:stop]))
            self.mel_std.copy_(torch.as_tensor(std[start:stop]))

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        check_batch(x, lengths, self.n_features)
        pooled = masked_stats(x, lengths, self.stats)
        if self.key_chroma_rows is not None:
            start, stop = self.key_chroma_rows
            if "mean" in self.stats:  # the chroma rows' means are among the statistics
                at = self.stats.index("mean") * self.n_features
                standardised = pooled[:, at + start : at + stop]
            else:
                standardised = masked_stats(x[:, :, start:stop], lengths, ("mean",))
            # a mean of standardised frames, in the data's units: the standardisation undone
            chroma = standardised * self.chroma_std + self.chroma_mean
            pooled = torch.cat([pooled, key_correlations(chroma, self.key_profiles)], 1)
        if self.mfcc_mel_rows is not None:
            start, stop = self.mfcc_mel_rows
            mel = x[:, :, start:stop] * self.mel_std + self.mel_mean  # in dB again
            cepstra = mel @ self.mfcc_basis  # (B, T, n_mfcc); padded frames masked below
            pooled = torch.cat([pooled, masked_stats(cepstra, lengths, MFCC_STATS)], 1)
        if self.norm is not None:
            pooled = self.norm(pooled)
        return self.mlp(pooled)
