"""Short-chunk CNNs (Won et al. 2020): stacked 3 x 3 blocks, 2 x 2 max pooling, a global max.

Won, Ferraro, Bogdanov and Serra 2020, "Evaluation of CNN-based automatic music tagging
models" (SMC 2020), found that a VGG-like stack of small (3 x 3) convolutions with 2 x 2
pooling, trained on short chunks (~3.7 s) and max-pooled over time at inference, tags as well
as the elaborate front ends; its residual variant ("Short-chunk CNN + Res") was the best of
their models. Reference code: minzwon/sota-music-tagging-models, `ShortChunkCNN` and
`ShortChunkCNN_Res`. Here the training crops (128-256 frames, 3-6 s at the lab's 43 frames
per second) are short chunks already, and the whole track is one input at evaluation.

Changes from the reference, for a CPU and for this project's contract:

- 4 blocks of 16 to 128 channels instead of 7 of 128 to 512 (about 12M parameters);
- the residual blocks keep their size and are followed by a 2 x 2 max pooling (the
  reference's `Res_2d_mp`), where `ShortChunkCNN_Res` downsamples with a stride-2 first
  convolution and a strided 3 x 3 shortcut; the shortcut here is a 1 x 1 convolution when
  the channels change, the identity when they stay;
- the frequency rows left after the blocks (8 of 128 mel bins) are max-pooled, where the
  reference's 7 poolings leave one;
- the global pooling reads each track's valid steps only, and may also be a mean;
- no input batch norm (the engine standardises the features) and no dense layers after the
  pooling: those are the head's (`classifier` with `hidden_size`).

Every block masks the steps past each track's end (see `components.backbones.blocks`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from components.backbones.blocks import ConvBlock, ResidualBlock, masked_pool, valid_mask
from sweep.model import check_batch, check_choice, check_dropout, check_positive, check_sizes
from sweep.registry import backbones

GLOBAL_POOLS = ("max", "mean", "meanmax")


@backbones.register("short_chunk_res")
def short_chunk_res(
    n_features: int,
    channels: tuple[int, ...] = (16, 32, 64, 128),
    global_pool: str = "max",
    dropout: float = 0.0,
) -> ShortChunkCNN:
    """Short-chunk CNN + Res (Won et al. 2020): residual 3 x 3 blocks, 2 x 2 max pooling.

    Each block is two 3 x 3 convolutions with batch norm and a shortcut, then a 2 x 2 max
    pooling; after the blocks, a max over the frequency rows left, a pooling over the valid
    time steps, then dropout. See the module's docstring for what differs from the paper.

    Cost: 304,960 parameters with the defaults on 128 mel bins; the convolutions run at full
    resolution in the first block, so channels[0] sets most of the time.
    s/epoch: 7.62 s (benchmarks/backbones.py: 205 tracks of 128-frame mel crops, batch 16,
    2 cores, 2026-12-01).

    Args:
        n_features: Features per frame (set from the data): the image's height.
        channels: Output channels of each residual block; one block per entry (a list will
            do). Each block halves frequency and time.
        global_pool: Pooling over time, after the max over frequency: "max" (the paper),
            "mean", or "meanmax" (both concatenated; doubles `out_features`).
        dropout: Dropout on the embedding.

    Returns:
        A module mapping (x (B, T, n_features), lengths (B,)) to (B, out_features), with
        out_features = channels[-1], times 2 for "meanmax".

    Raises:
        ValueError: Sizes below 1, dropout outside [0, 1) or an unknown pooling.
    """
    return _short_chunk(n_features, channels, global_pool, dropout, residual=True)


@backbones.register("short_chunk")
def short_chunk(
    n_features: int,
    channels: tuple[int, ...] = (16, 32, 64, 128),
    global_pool: str = "max",
    dropout: float = 0.0,
) -> ShortChunkCNN:
    """Short-chunk CNN (Won et al. 2020): plain 3 x 3 conv blocks, 2 x 2 max pooling.

    Each block is a 3 x 3 convolution, batch norm, ReLU and a 2 x 2 max pooling; after the
    blocks, a max over the frequency rows left, a pooling over the valid time steps, then
    dropout. The same network as `short_chunk_res` without the residual blocks; see the
    module's docstring for what differs from the paper.

    Cost: 97,392 parameters with the defaults on 128 mel bins.
    s/epoch: 3.07 s (benchmarks/backbones.py: 205 tracks of 128-frame mel crops, batch 16,
    2 cores, 2026-12-01).

    Args:
        n_features: Features per frame (set from the data): the image's height.
        channels: Output channels of each block; one block per entry (a list will do). Each
            block halves frequency and time.
        global_pool: Pooling over time, after the max over frequency: "max" (the paper),
            "mean", or "meanmax" (both concatenated; doubles `out_features`).
        dropout: Dropout on the embedding.

    Returns:
        A module mapping (x (B, T, n_features), lengths (B,)) to (B, out_features), with
        out_features = channels[-1], times 2 for "meanmax".

    Raises:
        ValueError: Sizes below 1, dropout outside [0, 1) or an unknown pooling.
    """
    return _short_chunk(n_features, channels, global_pool, dropout, residual=False)


def _short_chunk(
    n_features: int, channels: Sequence[int], global_pool: str, dropout: float, residual: bool
) -> ShortChunkCNN:
    check_positive("n_features", n_features)
    check_sizes("channels", channels)
    check_choice("global_pool", global_pool, GLOBAL_POOLS)
    check_dropout(dropout)
    return ShortChunkCNN(n_features, channels, global_pool, dropout, residual)


class ShortChunkCNN(nn.Module):
    """The module `short_chunk_res` and `short_chunk` build; see there for the arguments."""

    def __init__(
        self,
        n_features: int,
        channels: Sequence[int],
        global_pool: str,
        dropout: float,
        residual: bool,
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.global_pool = global_pool
        self.residual = residual
        widths = [1, *channels]
        pairs = zip(widths[:-1], widths[1:], strict=True)
        if residual:
            self.blocks = nn.ModuleList(ResidualBlock(c_in, c_out) for c_in, c_out in pairs)
        else:
            self.blocks = nn.ModuleList(
                ConvBlock(c_in, c_out, 3, batch_norm=True, pool="max") for c_in, c_out in pairs
            )
        self.out_features = int(channels[-1]) * (2 if global_pool == "meanmax" else 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        check_batch(x, lengths, self.n_features)
        lengths = lengths.to(x.device)
        image = x.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T): frequency is the height
        for block in self.blocks:
            if self.residual:
                image, lengths = masked_pool(block(image, lengths), lengths)
            else:
                image, lengths = block(image, lengths)
        # Zero the padded steps: every value is >= 0 after ReLU, so maxima are valid steps'
        # and sums cover the valid steps only (each track keeps at least one).
        steps = (image * valid_mask(lengths, image)).amax(dim=2)  # (B, C, T): max over rows
        pooled = []
        if self.global_pool in ("mean", "meanmax"):
            pooled.append(steps.sum(dim=2) / lengths[:, None].to(steps.dtype))
        if self.global_pool in ("max", "meanmax"):
            pooled.append(steps.amax(dim=2))
        return self.dropout(torch.cat(pooled, dim=1))
