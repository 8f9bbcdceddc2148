"""Musically motivated CNNs: timbral and temporal filters in parallel, then 1-D convolutions.

Pons, Lidy and Serra 2016 ("Experimenting with musically motivated convolutional neural
networks", CBMI) shaped a CNN's filters after what they should learn: filters tall in
frequency and short in time see timbre (the shape of a spectrum), filters one band tall and
long in time see temporal patterns (rhythm, tempo). Pons, Slizovskaia, Gong, Gomez and Serra
2017 ("Timbre analysis of music audio signals with convolutional neural networks", EUSIPCO)
made the timbral filters pitch-invariant by max-pooling their outputs over frequency; Pons
and Serra 2017 ("Designing efficient architectures for modeling temporal features with
convolutional neural networks", ICASSP) applied the temporal filters to an energy envelope,
the spectrogram mean-pooled over frequency. Pons, Nieto, Prockup, Schmidt, Ehmann and Serra
2018 ("End-to-end learning for music audio tagging at scale", ISMIR) put both branches in
front of a mid-end of 1-D convolutions with residual connections over time and a back-end of
mean and max pooling over time: musicnn (github.com/jordipons/musicnn). There, this
domain-knowledge front end beat an assumption-free (waveform) one most clearly when the
training data were fewest, which is the case here.

Every part is blind to the frames past a track's end, as in the other backbones: they are 0
before each convolution, batch normalisation counts valid steps only, and the temporal
pooling reads valid steps only (`masked_stats`). Nothing pools over time before the global
pooling, so lengths never change.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from components.backbones.pooled import MaskedBatchNorm1d, masked_stats
from components.backbones.temporal import ConvNorm1d, same_padding, valid_mask
from sweep.model import check_batch, check_dropout, check_positive, check_sizes
from sweep.registry import backbones

MIDEND_KERNEL = 7  # musicnn's mid-end: 7 steps x all channels


@backbones.register("musicnn")
def musicnn(
    n_features: int,
    timbral_filters: int = 8,
    timbral_heights: tuple[float, ...] = (0.4, 0.7),
    timbral_widths: tuple[int, ...] = (1, 5),
    temporal_filters: int = 8,
    temporal_widths: tuple[int, ...] = (16, 32, 64),
    midend_channels: int = 64,
    midend_layers: int = 3,
    dropout: float = 0.0,
) -> MusicnnBackbone:
    """Musicnn (Pons et al. 2018) sized for a CPU: timbral and temporal front-end branches,
    a residual 1-D mid-end, mean and max pooling over time.

    Front end: one timbral branch per (height, width) pair, a Conv2d `height x n_features`
    frequency bins tall (at least 1; no padding in frequency) and `width` frames wide ("same"
    in time), max-pooled over frequency; and one temporal branch per width, a Conv1d of that
    many frames over the energy envelope (the mean over frequency of each frame). Each branch
    has batch normalisation and ReLU; their outputs are concatenated along channels. Mid-end:
    `midend_layers` Conv1d of 7 frames over all channels, with batch normalisation and ReLU,
    each after the first adding its input (residual). Back-end: the front-end's and every
    mid-end layer's outputs concatenated (musicnn's dense connections), then the mean and the
    max over the valid frames, then dropout.

    Changed from musicnn (two timbral branches of 204 filters 7 frames wide, three temporal
    branches of 51 filters 32-128 frames long, 64 or 512 mid-end channels, input batch
    normalisation, batch normalisation after ReLU): a few filters per branch, so that a 2-core
    CPU trains it; timbral widths 1 (a pure spectral shape) and 5 (about musicnn's 7 frames
    at its frame rate); temporal widths 16-64 frames (0.4-1.5 s at full resolution); the
    temporal branches on the energy envelope, as in the papers (the musicnn code filters
    every band and max-pools over frequency: as many times costlier as there are bands); each
    branch max-pools over frequency before its batch normalisation (the same per-channel
    affine map with its statistics taken after pooling: cheaper); batch normalisation before
    ReLU; no input batch normalisation (sweep's features are standardised); the back-end's
    dense layers are left to the head.

    Cost (defaults, 128 mel bins): 90,544 parameters; s/epoch: 2.32 s
    (benchmarks/backbones.py: 205 tracks of 128-frame mel crops, batch 16, 2 cores, 2026-12-01).

    Args:
        n_features: Features per frame (set from the data): the image's height.
        timbral_filters: Filters in each timbral branch.
        timbral_heights: Heights of the timbral filters, as fractions of n_features in (0, 1].
        timbral_widths: Widths of the timbral filters in frames; one branch per height and
            width.
        temporal_filters: Filters in each temporal branch.
        temporal_widths: Lengths of the temporal filters in frames; one branch per width.
        midend_channels: Channels of every mid-end layer.
        midend_layers: Mid-end layers (the first adapts the channels, the others are
            residual).
        dropout: Dropout on the embedding.

    Returns:
        A module mapping (x (B, T, n_features), lengths (B,)) to (B, out_features), with
        out_features = 2 * (front-end channels + midend_layers * midend_channels), the
        front-end channels being timbral_filters * len(timbral_heights) *
        len(timbral_widths) + temporal_filters * len(temporal_widths).

    Raises:
        ValueError: Sizes below 1, heights outside (0, 1] or dropout outside [0, 1).
    """
    check_positive("n_features", n_features)
    check_positive("timbral_filters", timbral_filters)
    if (
        not isinstance(timbral_heights, (list, tuple))
        or not timbral_heights
        or any(
            isinstance(h, bool) or not isinstance(h, numbers.Real) or not 0 < h <= 1
            for h in timbral_heights
        )
    ):
        raise ValueError(
            "timbral_heights must be a non-empty list of fractions of n_features in (0, 1], "
            f"but got timbral_heights={timbral_heights!r}"
        )
    check_sizes("timbral_widths", timbral_widths)
    check_positive("temporal_filters", temporal_filters)
    check_sizes("temporal_widths", temporal_widths)
    check_positive("midend_channels", midend_channels)
    check_positive("midend_layers", midend_layers)
    check_dropout(dropout)
    timbral = [
        (max(1, int(h * n_features)), int(w)) for h in timbral_heights for w in timbral_widths
    ]
    return MusicnnBackbone(
        n_features,
        timbral_filters,
        timbral,
        temporal_filters,
        [int(w) for w in temporal_widths],
        midend_channels,
        midend_layers,
        dropout,
    )


class MusicnnBackbone(nn.Module):
    """The module `musicnn` builds; see there for the arguments (`timbral`: the (height,
    width) in bins and frames of each timbral branch)."""

    def __init__(
        self,
        n_features: int,
        timbral_filters: int,
        timbral: Sequence[tuple[int, int]],
        temporal_filters: int,
        temporal_widths: Sequence[int],
        midend_channels: int,
        midend_layers: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.timbral = nn.ModuleList(
            TimbralBranch(timbral_filters, height, width) for height, width in timbral
        )
        self.temporal = nn.ModuleList(
            ConvNorm1d(1, temporal_filters, width) for width in temporal_widths
        )
        front = timbral_filters * len(timbral) + temporal_filters * len(temporal_widths)
        widths = [front] + [midend_channels] * midend_layers
        self.midend = nn.ModuleList(
            ConvNorm1d(c_in, c_out, MIDEND_KERNEL)
            for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)
        )
        self.out_features = 2 * sum(widths)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        check_batch(x, lengths, self.n_features)
        lengths = lengths.to(x.device)
        image = x.transpose(1, 2)  # (B, F, T)
        valid = valid_mask(lengths, image)  # (B, 1, T)
        image = torch.where(valid, image, 0.0)
        envelope = image.mean(dim=1, keepdim=True)  # (B, 1, T): the energy envelope
        front = [branch(image, valid) for branch in self.timbral]
        front += [torch.relu(conv(envelope, valid)) for conv in self.temporal]
        features = [torch.cat(front, dim=1)]
        for i, layer in enumerate(self.midend):
            out = torch.relu(layer(features[-1], valid))
            features.append(out + features[-1] if i > 0 else out)  # residual after the first
        dense = torch.cat(features, dim=1)  # musicnn's dense connections
        return self.dropout(masked_stats(dense.transpose(1, 2), lengths, ("mean", "max")))


class TimbralBranch(nn.Module):
    """A Conv2d `height` bins by `width` frames ("valid" in frequency, "same" in time), max
    over frequency, BatchNorm1d over valid frames, ReLU: (B, F, T) in, (B, filters, T) out.

    Args:
        filters: Output channels.
        height: Filter height in frequency bins (at most the number of bins).
        width: Filter width in frames.
    """

    def __init__(self, filters: int, height: int, width: int) -> None:
        super().__init__()
        # A bias before batch normalisation would be cancelled by its mean.
        self.conv = nn.Conv2d(1, filters, (height, width), bias=False)
        self.norm = MaskedBatchNorm1d(filters)
        self.time_padding = same_padding(width)

    def forward(self, image: Tensor, valid: Tensor) -> Tensor:
        """`image` (B, F, T), zero past each track's end; `valid` (B, 1, T) bool."""
        padded = F.pad(image[:, None], self.time_padding)  # (B, 1, F, T + width - 1)
        pitch_invariant = self.conv(padded).amax(dim=2)  # (B, filters, T)
        return torch.relu(self.norm(pitch_invariant, valid.to(image.dtype)))
