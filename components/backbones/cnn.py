"""The reference report's convolutional backbone: 2-D conv blocks over (frequency, time).

Every block masks the frames past each track's end, so that padding never changes the
output, whatever its value and however much of it there is:

- before each convolution, padded frames are set to 0, so a "same" convolution sees at a
  track's end exactly the zeros it would see at the end of the unpadded track;
- batch normalisation takes its training statistics from valid frames only;
- pooling halves the valid length (floor, at least 1) and averages or maxes over valid frames
  only; global pooling reads valid frames only.

Pooling uses `ceil_mode`, so inputs shorter than 2**blocks frames (beat-synchronised tracks
can be 4 frames long) and few frequency bands (12 chroma bins) keep at least one step.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sweep.model import (
    check_batch,
    check_choice,
    check_dropout,
    check_positive,
    check_sizes,
    valid_steps,
)
from sweep.registry import backbones

POOLS = ("max", "avg")
GLOBAL_POOLS = ("mean", "max", "meanmax")


@backbones.register("cnn")
def cnn(
    n_features: int,
    channels: tuple[int, ...] = (32, 64, 128, 256),
    kernel_sizes: tuple[int, ...] = (5, 5, 3, 3),
    batch_norm: bool = True,
    pool: str = "max",
    global_pool: str = "mean",
    dropout: float = 0.0,
) -> CNNBackbone:
    """2-D CNN on the (frequency, time) image (the reference: 4 blocks, 32 to 256 channels).

    Each block is Conv2d ("same" padding), BatchNorm2d (optional), ReLU and a 2 x 2 pooling;
    then a global pooling over frequency and the valid time steps, then dropout.

    Args:
        n_features: Features per frame (set from the data): the image's height.
        channels: Output channels of each block; one block per entry (a list will do).
        kernel_sizes: Square kernel size of each block's convolution; as many as channels.
        batch_norm: Normalise each convolution's output with batch statistics of the valid
            frames (running statistics in eval mode).
        pool: Pooling within blocks: "max" or "avg".
        global_pool: Pooling to one embedding: "mean", "max" or "meanmax" (both
            concatenated; doubles `out_features`).
        dropout: Dropout on the embedding.

    Returns:
        A module mapping (x (B, T, n_features), lengths (B,)) to (B, out_features), with
        out_features = channels[-1], times 2 for "meanmax".

    Raises:
        ValueError: Sizes below 1, channels and kernel_sizes of different lengths, dropout
            outside [0, 1) or an unknown pooling.
    """
    check_positive("n_features", n_features)
    check_sizes("channels", channels)
    check_sizes("kernel_sizes", kernel_sizes)
    if len(channels) != len(kernel_sizes):
        raise ValueError(
            "`len(channels) == len(kernel_sizes)` must hold (one kernel per block), but got "
            f"channels={list(channels)}, kernel_sizes={list(kernel_sizes)}"
        )
    if not isinstance(batch_norm, bool):
        raise ValueError(f"batch_norm must be true or false, but got {batch_norm!r}")
    check_choice("pool", pool, POOLS)
    check_choice("global_pool", global_pool, GLOBAL_POOLS)
    check_dropout(dropout)
    return CNNBackbone(n_features, channels, kernel_sizes, batch_norm, pool, global_pool, dropout)


class CNNBackbone(nn.Module):
    """The module `cnn` builds; see there for the arguments."""

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
        self.global_pool = global_pool
        widths = [1, *channels]
        self.blocks = nn.ModuleList(
            ConvBlock(c_in, c_out, k, batch_norm, pool)
            for c_in, c_out, k in zip(widths[:-1], widths[1:], kernel_sizes, strict=True)
        )
        self.out_features = int(channels[-1]) * (2 if global_pool == "meanmax" else 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        check_batch(x, lengths, self.n_features)
        lengths = lengths.to(x.device)
        image = x.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T): frequency is the height
        for block in self.blocks:
            image, lengths = block(image, lengths)
        valid = _valid(lengths, image)
        # Zero the padded steps: sums then cover the valid ones only and, as every value is
        # >= 0 after ReLU, so does the maximum (each track keeps at least one valid step).
        image = image * valid
        pooled = []
        if self.global_pool in ("mean", "meanmax"):
            count = lengths.to(image.dtype) * image.shape[2]
            pooled.append(image.sum(dim=(2, 3)) / count[:, None])
        if self.global_pool in ("max", "meanmax"):
            pooled.append(image.amax(dim=(2, 3)))
        return self.dropout(torch.cat(pooled, dim=1))


class ConvBlock(nn.Module):
    """Conv2d + BatchNorm2d (optional) + ReLU + 2 x 2 pooling, blind to padded frames.

    Args:
        in_channels: Channels in.
        out_channels: Channels out.
        kernel_size: Square convolution kernel size.
        batch_norm: Whether to normalise the convolution's output.
        pool: "max" or "avg".
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, batch_norm: bool, pool: str
    ) -> None:
        super().__init__()
        # A bias before batch normalisation would be cancelled by its mean.
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding="same", bias=not batch_norm
        )
        self.norm = MaskedBatchNorm2d(out_channels) if batch_norm else None
        self.pool = pool

    def forward(self, image: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """(B, C_in, H, T) and valid lengths in; (B, C_out, ceil(H/2), ceil(T/2)) and the
        halved lengths (at least 1) out."""
        valid = _valid(lengths, image)
        image = self.conv(image * valid)
        if self.norm is not None:
            image = self.norm(image, valid)
        image = torch.relu(image) * valid
        if self.pool == "max":  # values are >= 0 and padded ones 0: the max is a valid one's
            image = F.max_pool2d(image, 2, ceil_mode=True)
        else:
            # The mean over the valid frames of each window: a window that straddles a
            # track's end (a track of 1 step) must not count the padded frame. `fraction` is
            # 1, 1/2 or 0 (windows past the end, masked later: the clamp avoids 0 / 0).
            fraction = F.avg_pool2d(valid, (1, 2), ceil_mode=True)
            image = F.avg_pool2d(image, 2, ceil_mode=True) / fraction.clamp_min(0.5)
        return image, (lengths // 2).clamp_min(1)


class MaskedBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics come from the valid (unpadded) frames only.

    With every frame valid it computes what `nn.BatchNorm2d` does, and it has the same
    parameters and buffers. When a batch has a single valid value per channel (one track,
    one step, one frequency band) its variance is undefined, and `nn.BatchNorm2d` raises;
    this one normalises with the running statistics instead and leaves them as they are.
    """

    def forward(self, image: Tensor, valid: Tensor) -> Tensor:  # type: ignore[override]
        """`image` (B, C, H, T); `valid` (B, 1, 1, T), 1.0 for valid frames, 0.0 for padded."""
        count = valid.sum() * image.shape[2]
        if not self.training or count < 2:
            return F.batch_norm(
                image, self.running_mean, self.running_var, self.weight, self.bias, eps=self.eps
            )
        mean = (image * valid).sum(dim=(0, 2, 3)) / count
        centred = image - mean[:, None, None]
        var = (centred.square() * valid).sum(dim=(0, 2, 3)) / count
        with torch.no_grad():
            # Running variance is unbiased, as in nn.BatchNorm2d; normalisation is not.
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var * count / (count - 1), self.momentum)
            self.num_batches_tracked.add_(1)
        scale = self.weight * torch.rsqrt(var + self.eps)
        return centred * scale[:, None, None] + self.bias[:, None, None]


def _valid(lengths: Tensor, image: Tensor) -> Tensor:
    """(B, 1, 1, T) float mask of the valid time steps of a (B, C, H, T) image."""
    return valid_steps(lengths, image.shape[3], image.device)[:, None, None, :].to(image.dtype)
