"""The CRNN (Choi et al. 2017): 2-D conv blocks, then a GRU over the time steps they leave.

Choi, Fazekas, Sandler and Cho 2017, "Convolutional recurrent neural networks for music
classification" (ICASSP 2017): a small CNN extracts local features from the mel spectrogram
and shrinks frequency to one row, and a recurrent network summarises the remaining sequence
over time, which beat pure CNNs of the same size on tagging. Their network: four 3 x 3
convolutions with batch norm and ELU, max pooling (2 x 2)-(3 x 3)-(4 x 4)-(4 x 4) on 96 mel
bins x 1,366 frames (about 14 steps left), two GRU layers of 32 units, the last hidden state
into the output layer. Reference code: minzwon/sota-music-tagging-models, `CRNN`.

Changes from the paper, for any feature count and for this project's contract:

- every block halves frequency (2 x 2 or 2 x 1 pooling, `ceil_mode`), so that 12 chroma bins
  and 140 fused rows work as well as 128 mel bins; the rows left (8 of 128 mel bins with 4
  blocks) are max-pooled, where the paper's growing pools leave one;
- time is halved only every `time_pool_every`-th block: the training crops (128-256
  frames) are much shorter than the paper's 1,366, and beat-synchronised tracks can be 4
  steps long, so the GRU keeps a sequence worth reading (32 steps of a 128-frame crop);
- ReLU, not ELU: a masked max pooling needs values >= 0 with padded steps at 0;
- the GRU reads packed sequences of each track's valid (pooled) steps, so padding never
  reaches it; "last" is each track's own last valid step, not the batch's last column;
- 64 GRU units instead of 32; no dense layers after it (the head's job).

Every conv block masks the steps past each track's end (see `components.backbones.blocks`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from components.backbones.blocks import ConvBlock
from sweep.model import check_batch, check_choice, check_dropout, check_positive, check_sizes
from sweep.registry import backbones

POOLINGS = ("last", "mean")


@backbones.register("crnn")
def crnn(
    n_features: int,
    channels: tuple[int, ...] = (16, 32, 64, 64),
    time_pool_every: int = 2,
    hidden_size: int = 64,
    num_layers: int = 2,
    bidirectional: bool = False,
    pooling: str = "last",
    dropout: float = 0.0,
) -> CRNNBackbone:
    """CRNN (Choi et al. 2017): 3 x 3 conv blocks pooling mostly frequency, then a GRU.

    Each block is a 3 x 3 convolution, batch norm, ReLU and a max pooling that halves
    frequency, and time too in every `time_pool_every`-th block; then a max over the
    frequency rows left, a GRU over each track's valid steps, and dropout. See the module's
    docstring for what differs from the paper.

    Cost: 110,320 parameters with the defaults on 128 mel bins; the GRU reads 1/4 of the
    frames with the defaults (time pooled in blocks 2 and 4).
    s/epoch: 7.07 s (benchmarks/backbones.py: 205 tracks of 128-frame mel crops, batch 16,
    2 cores, 2026-12-01).

    Args:
        n_features: Features per frame (set from the data): the image's height.
        channels: Output channels of each conv block; one block per entry (a list will do).
        time_pool_every: Block i (from 1) also halves time when i is a multiple of this;
            1 pools time in every block (the paper), more than len(channels) never.
        hidden_size: GRU units per direction and layer.
        num_layers: Stacked GRU layers.
        bidirectional: Also read each track backwards; doubles `out_features`.
        pooling: How the GRU's steps become one embedding. "last": the paper, the forward
            direction's last valid step (with the backward direction's first step);
            "mean": the mean over the valid steps.
        dropout: Dropout between GRU layers (when there are several) and on the embedding.

    Returns:
        A module mapping (x (B, T, n_features), lengths (B,)) to (B, out_features), with
        out_features = hidden_size, times 2 when bidirectional.

    Raises:
        ValueError: Sizes below 1, dropout outside [0, 1) or an unknown pooling.
    """
    check_positive("n_features", n_features)
    check_sizes("channels", channels)
    check_positive("time_pool_every", time_pool_every)
    check_positive("hidden_size", hidden_size)
    check_positive("num_layers", num_layers)
    if not isinstance(bidirectional, bool):
        raise ValueError(f"bidirectional must be true or false, but got {bidirectional!r}")
    check_choice("pooling", pooling, POOLINGS)
    check_dropout(dropout)
    return CRNNBackbone(
        n_features,
        channels,
        time_pool_every,
        hidden_size,
        num_layers,
        bidirectional,
        pooling,
        dropout,
    )


class CRNNBackbone(nn.Module):
    """The module `crnn` builds; see there for the arguments."""

    def __init__(
        self,
        n_features: int,
        channels: Sequence[int],
        time_pool_every: int,
        hidden_size: int,
        num_layers: int,
        bidirectional: bool,
        pooling: str,
        dropout: float,
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.bidirectional = bidirectional
        self.pooling = pooling
        widths, every = [1, *channels], time_pool_every
        pairs = enumerate(zip(widths[:-1], widths[1:], strict=True), start=1)
        self.blocks = nn.ModuleList(
            ConvBlock(c_in, c_out, 3, batch_norm=True, pool="max", time_pool=i % every == 0)
            for i, (c_in, c_out) in pairs
        )
        self.gru = nn.GRU(
            int(channels[-1]),
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            # torch warns (and does nothing) when asked for dropout after a single layer.
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.out_features = int(hidden_size) * (2 if bidirectional else 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        check_batch(x, lengths, self.n_features)
        lengths = lengths.to(x.device)
        image = x.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T): frequency is the height
        for block in self.blocks:
            image, lengths = block(image, lengths)
        # Max over the rows left: values are >= 0 after ReLU; padded steps are never read.
        steps = image.amax(dim=2).transpose(1, 2)  # (B, T', C)
        packed = pack_padded_sequence(steps, lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, h_n = self.gru(packed)
        if self.pooling == "last":
            # h_n holds each direction's final state in the batch's order: for the forward
            # direction the last valid step, for the backward one step 0.
            pooled = torch.cat([h_n[-2], h_n[-1]], dim=1) if self.bidirectional else h_n[-1]
        else:
            # Padded with zeros to the batch's longest track: a plain sum will do.
            padded, _ = pad_packed_sequence(outputs, batch_first=True)
            pooled = padded.sum(dim=1) / lengths[:, None].to(padded.dtype)
        return self.dropout(pooled)
