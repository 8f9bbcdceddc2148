"""A 1-D CNN over time: the feature bins of a frame are the channels of one time step.

Convolving over time only, with every mel band (or chroma bin) as an input channel, is the
spectrogram model of Dieleman and Schrauwen 2014 ("End-to-end learning for music audio",
ICASSP) and of the "frame-level" mel-spectrogram CNNs of music tagging (the baselines of
Lee, Park, Kim and Nam 2017, "Sample-level deep convolutional neural networks for music
auto-tagging using raw waveforms", SMC: 1-D convolutions over mel frames). It is far
cheaper than a 2-D CNN on the same image: each step is one matrix product over all bins.

As in `components.backbones.cnn`, every block is blind to the frames past a track's end:
they are set to 0 before each convolution ("same" padding then sees what it sees at the end
of the unpadded track), batch normalisation counts valid steps only, pooling halves the
valid length (floor, at least 1, `ceil_mode`) and reads valid steps only, and the global
pooling is `masked_stats` over the valid steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from components.backbones.pooled import MaskedBatchNorm1d, masked_stats
from sweep.model import (
    check_batch,
    check_choice,
    check_dropout,
    check_positive,
    check_sizes,
    is_integer,
    valid_steps,
)
from sweep.registry import backbones

POOLS = ("max", "avg")
# Each global pooling and the statistics of `masked_stats` it concatenates.
GLOBAL_POOLS = {
    "mean": ("mean",),
    "max": ("max",),
    "meanmax": ("mean", "max"),
    "meanstd": ("mean", "std"),
    "meanstdmax": ("mean", "std", "max"),
}


@backbones.register("temporal_cnn")
def temporal_cnn(
    n_features: int,
    channels: tuple[int, ...] = (64, 64, 128, 128),
    kernel_size: int | tuple[int, ...] = 5,
    batch_norm: bool = True,
    pool: str = "max",
    global_pool: str = "meanmax",
    dropout: float = 0.0,
) -> TemporalCNNBackbone:
    """1-D CNN over time with the feature bins as channels (Dieleman & Schrauwen 2014).

    Each block is Conv1d ("same" padding), BatchNorm1d (optional), ReLU and a pooling of 2
    steps; then a global pooling over the valid steps, then dropout. Changed from the paper
    (2 convolutions of length 8 with 32 filters, pooling by 4, dense layers on a fixed 3 s
    excerpt): batch normalisation, more and wider blocks, pooling by 2 (tracks can be 4
    beats long) and a global pooling over any length instead of dense layers on a fixed one.
    The default receptive field is 61 frames (about 1.4 s at full resolution).

    Cost (defaults, 128 mel bins): 185,088 parameters; s/epoch: 0.37 s
    (benchmarks/backbones.py: 205 tracks of 128-frame mel crops, batch 16, 2 cores, 2026-12-01).

    Args:
        n_features: Features per frame (set from the data): the first block's input channels.
        channels: Output channels of each block; one block per entry (a list will do).
        kernel_size: Convolution length in steps: one for every block, or a list with one
            per block.
        batch_norm: Normalise each convolution's output with batch statistics of the valid
            steps (running statistics in eval mode).
        pool: Pooling within blocks: "max" or "avg".
        global_pool: Pooling over the valid steps to one embedding: "mean", "max",
            "meanmax", "meanstd" or "meanstdmax" (`masked_stats`, concatenated).
        dropout: Dropout on the embedding.

    Returns:
        A module mapping (x (B, T, n_features), lengths (B,)) to (B, out_features), with
        out_features = channels[-1] times the number of pooled statistics.

    Raises:
        ValueError: Sizes below 1, a kernel list not matching channels, dropout outside
            [0, 1) or an unknown pooling.
    """
    check_positive("n_features", n_features)
    check_sizes("channels", channels)
    kernel_sizes = kernel_size_per_block(kernel_size, channels)
    if not isinstance(batch_norm, bool):
        raise ValueError(f"batch_norm must be true or false, but got {batch_norm!r}")
    check_choice("pool", pool, POOLS)
    check_choice("global_pool", global_pool, tuple(GLOBAL_POOLS))
    check_dropout(dropout)
    return TemporalCNNBackbone(
        n_features, channels, kernel_sizes, batch_norm, pool, global_pool, dropout
    )


def kernel_size_per_block(kernel_size: int | Sequence[int], channels: Sequence[int]) -> list[int]:
    """One kernel size per block: an int repeated, or a list as long as `channels`."""
    if is_integer(kernel_size):
        check_positive("kernel_size", kernel_size)
        return [int(kernel_size)] * len(channels)
    if not isinstance(kernel_size, (list, tuple)) or any(
        not is_integer(k) or k < 1 for k in kernel_size
    ):
        raise ValueError(
            "kernel_size must be a positive integer or a list of them, "
            f"but got kernel_size={kernel_size!r}"
        )
    if len(kernel_size) != len(channels):
        raise ValueError(
            "`len(kernel_size) == len(channels)` must hold (one kernel per block), but got "
            f"channels={list(channels)}, kernel_size={list(kernel_size)}"
        )
    return [int(k) for k in kernel_size]


class TemporalCNNBackbone(nn.Module):
    """The module `temporal_cnn` builds; see there for the arguments."""

    def __init__(
        self,
        n_features: int,
        channels: Sequence[int],
        kernel_sizes: Sequence[int],
        batch_norm: bool,
        pool: str,
        global_pool: str,
        dropout: float,
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.stats = GLOBAL_POOLS[global_pool]
        widths = [n_features, *channels]
        self.blocks = nn.ModuleList(
            TemporalBlock(c_in, c_out, k, batch_norm, pool)
            for c_in, c_out, k in zip(widths[:-1], widths[1:], kernel_sizes, strict=True)
        )
        self.out_features = int(channels[-1]) * len(self.stats)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        check_batch(x, lengths, self.n_features)
        lengths = lengths.to(x.device)
        steps = x.transpose(1, 2)  # (B, F, T): the bins are the channels
        for block in self.blocks:
            steps, lengths = block(steps, lengths)
        return self.dropout(masked_stats(steps.transpose(1, 2), lengths, self.stats))


class ConvNorm1d(nn.Module):
    """Conv1d ("same" padding) on zeroed padded steps, then BatchNorm1d over valid steps.

    Args:
        in_channels: Channels in.
        out_channels: Channels out.
        kernel_size: Convolution length in steps.
        batch_norm: Whether to normalise the convolution's output.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, batch_norm: bool = True
    ) -> None:
        super().__init__()
        # A bias before batch normalisation would be cancelled by its mean.
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, bias=not batch_norm)
        self.norm = MaskedBatchNorm1d(out_channels) if batch_norm else None
        self.padding = same_padding(kernel_size)

    def forward(self, steps: Tensor, valid: Tensor) -> Tensor:
        """`steps` (B, C_in, T) and `valid` (B, 1, T) bool in; (B, C_out, T) out, not yet
        zeroed past each track's end."""
        steps = self.conv(F.pad(torch.where(valid, steps, 0.0), self.padding))
        if self.norm is not None:
            steps = self.norm(steps, valid.to(steps.dtype))
        return steps


class TemporalBlock(nn.Module):
    """Conv1d + BatchNorm1d (optional) + ReLU + pooling of 2 steps, blind to padded steps.

    Args:
        in_channels: Channels in.
        out_channels: Channels out.
        kernel_size: Convolution length in steps.
        batch_norm: Whether to normalise the convolution's output.
        pool: "max" or "avg".
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, batch_norm: bool, pool: str
    ) -> None:
        super().__init__()
        self.conv = ConvNorm1d(in_channels, out_channels, kernel_size, batch_norm)
        self.pool = pool

    def forward(self, steps: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """(B, C_in, T) and valid lengths in; (B, C_out, ceil(T/2)) and the halved lengths
        (at least 1) out."""
        valid = valid_mask(lengths, steps)
        steps = torch.relu(self.conv(steps, valid))
        steps = torch.where(valid, steps, 0.0)
        if self.pool == "max":  # values are >= 0 and padded ones 0: the max is a valid one's
            steps = F.max_pool1d(steps, 2, ceil_mode=True)
        else:
            # The mean over the valid steps of each window: a window that straddles a
            # track's end (a track of 1 step) must not count the padded step. `fraction` is
            # 1, 1/2 or 0 (windows past the end, masked later: the clamp avoids 0 / 0).
            fraction = F.avg_pool1d(valid.to(steps.dtype), 2, ceil_mode=True)
            steps = F.avg_pool1d(steps, 2, ceil_mode=True) / fraction.clamp_min(0.5)
        return steps, (lengths // 2).clamp_min(1)


def same_padding(kernel_size: int) -> tuple[int, int]:
    """Zeros before and after a sequence so that a convolution keeps its length: "same", as
    torch pads (the extra zero of an even kernel after), without torch's copy and warning."""
    before = (kernel_size - 1) // 2
    return before, kernel_size - 1 - before


def valid_mask(lengths: Tensor, steps: Tensor) -> Tensor:
    """(B, 1, T) bool mask of the valid steps of (B, C, T) sequences."""
    return valid_steps(lengths, steps.shape[2], steps.device)[:, None, :]
