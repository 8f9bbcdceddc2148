"""The reference report's recurrent backbone: an LSTM over packed variable-length sequences."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sweep.model import check_batch, check_choice, check_dropout, check_positive, valid_steps
from sweep.registry import backbones

POOLINGS = ("last", "mean", "attention")


@backbones.register("lstm")
def lstm(
    n_features: int,
    hidden_size: int = 128,
    num_layers: int = 2,
    bidirectional: bool = True,
    dropout: float = 0.0,
    pooling: str = "last",
) -> LSTMBackbone:
    """LSTM over packed variable-length sequences (the reference: 2 bidirectional layers).

    Args:
        n_features: Features per frame (set from the data).
        hidden_size: Hidden units per direction and layer.
        num_layers: Stacked LSTM layers.
        bidirectional: Also read each track backwards; doubles `out_features`.
        dropout: Dropout between LSTM layers (when there are several) and on the pooled
            embedding.
        pooling: How the steps become one embedding. "last": the reference, the forward
            direction's last valid step with the backward direction's first step; "mean":
            the mean over valid steps; "attention": a learned softmax weighting of the valid
            steps.

    Returns:
        A module mapping (x (B, T, n_features), lengths (B,)) to (B, out_features), with
        out_features = hidden_size, times 2 when bidirectional.

    Raises:
        ValueError: A size below 1, dropout outside [0, 1) or an unknown pooling.
    """
    check_positive("n_features", n_features)
    check_positive("hidden_size", hidden_size)
    check_positive("num_layers", num_layers)
    check_dropout(dropout)
    check_choice("pooling", pooling, POOLINGS)
    if not isinstance(bidirectional, bool):
        raise ValueError(f"bidirectional must be true or false, but got {bidirectional!r}")
    return LSTMBackbone(n_features, hidden_size, num_layers, bidirectional, dropout, pooling)


class LSTMBackbone(nn.Module):
    """The module `lstm` builds; see there for the arguments."""

    def __init__(
        self,
        n_features: int,
        hidden_size: int,
        num_layers: int,
        bidirectional: bool,
        dropout: float,
        pooling: str,
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.bidirectional = bidirectional
        self.pooling = pooling
        self.lstm = nn.LSTM(
            n_features,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            # torch warns (and does nothing) when asked for dropout after a single layer.
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.out_features = int(hidden_size) * (2 if bidirectional else 1)
        self.attention = nn.Linear(self.out_features, 1) if pooling == "attention" else None
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        check_batch(x, lengths, self.n_features)
        # Packing makes the LSTM stop at each track's end: padded frames are never read.
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        steps, (h_n, _) = self.lstm(packed)
        if self.pooling == "last":
            # h_n holds each direction's final state in the batch's order: for the forward
            # direction the last valid step, for the backward one step 0 (it reads right to
            # left), which is the reference's "last forward + first backward".
            pooled = torch.cat([h_n[-2], h_n[-1]], dim=1) if self.bidirectional else h_n[-1]
        else:
            # Padded to the longest track of the batch (not to T), with zeros.
            padded, _ = pad_packed_sequence(steps, batch_first=True)
            valid = valid_steps(lengths, padded.shape[1], padded.device)
            pooled = self._pool(padded, valid, lengths.to(padded.device))
        return self.dropout(pooled)

    def _pool(self, padded: Tensor, valid: Tensor, lengths: Tensor) -> Tensor:
        """Mean or attention pooling of (B, T, D) outputs over the valid steps."""
        if self.attention is None:  # mean: padded steps are zeros, so a plain sum will do
            return padded.sum(dim=1) / lengths[:, None].to(padded.dtype)
        scores = self.attention(padded).squeeze(-1).masked_fill(~valid, float("-inf"))
        weights = torch.softmax(scores, dim=1)
        return torch.einsum("bt,btd->bd", weights, padded)
