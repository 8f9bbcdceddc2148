"""The reference report's convolutional backbone: 2-D conv blocks over (frequency, time).

Its blocks (`components.backbones.blocks.ConvBlock`) mask the frames past each track's end,
so that padding never changes the output: convolutions see zeros there, batch normalisation
counts valid frames only, pooling halves the valid length (floor, at least 1) with
`ceil_mode`, so that 4-frame beat-synchronised tracks and 12 chroma bins keep at least one
step; the global pooling reads valid frames only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from components.backbones.blocks import POOLS, ConvBlock, valid_mask
from sweep.model import check_batch, check_choice, check_dropout, check_positive, check_sizes
from sweep.registry import backbones

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
        valid = valid_mask(lengths, image)
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
