"""The practitioner's baseline as a backbone: per-feature statistics over a track, then an MLP.

A linear model on the mean and standard deviation (and maximum) of each mel band or chroma
bin over a track is the classic baseline of music classification (the summary features of
Tzanetakis and Cook 2002, "Musical genre classification of audio signals": means and
variances of frame features over a window). `pooled_mlp` is its neural twin: the same
statistics, optionally standardised by batch normalisation, then an MLP that may have no
hidden layer (with the `classifier` head's `hidden_size: 0`, the whole model is a linear
model on the statistics). It ignores the order of frames, so it costs almost nothing and
shows what a model that reads time must beat.

This module also defines the two masked 1-D building blocks the sequence backbones share:
`masked_stats`, the statistics over each track's valid frames, and `MaskedBatchNorm1d`,
batch normalisation over valid frames only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sweep.model import check_batch, check_dropout, check_positive, is_integer, valid_steps
from sweep.registry import backbones

STATS = ("mean", "std", "max")


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
) -> PooledMLPBackbone:
    """Statistics of each feature over a track's valid frames, then an MLP.

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

    Returns:
        A module mapping (x (B, T, n_features), lengths (B,)) to (B, out_features), with
        out_features = hidden_sizes[-1], or n_features * len(stats) without hidden layers.

    Raises:
        ValueError: A size below 1, unknown or repeated statistics, dropout outside [0, 1).
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
    return PooledMLPBackbone(n_features, stats, batch_norm, hidden_sizes, dropout)


class PooledMLPBackbone(nn.Module):
    """The module `pooled_mlp` builds; see there for the arguments."""

    def __init__(
        self,
        n_features: int,
        stats: Sequence[str],
        batch_norm: bool,
        hidden_sizes: Sequence[int],
        dropout: float,
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.stats = tuple(stats)
        width = n_features * len(self.stats)
        self.norm = MaskedBatchNorm1d(width) if batch_norm else None
        layers: list[nn.Module] = []
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        self.mlp = nn.Sequential(*layers) if layers else nn.Dropout(dropout)
        self.out_features = int(width)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        check_batch(x, lengths, self.n_features)
        pooled = masked_stats(x, lengths, self.stats)
        if self.norm is not None:
            pooled = self.norm(pooled)
        return self.mlp(pooled)
