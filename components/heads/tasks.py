"""Task heads: a classifier, a regressor and a multitask regressor with weighted losses.

Each is an optional hidden layer (Linear + ReLU + Dropout) on the backbone's embedding, then
one Linear layer to the outputs. The multitask head is the regressor with one loss weight
per target: the targets share every layer but the last. Each is registered as the default
head of one task kind (`default_for_task`): the head a spec gets when it names none.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sweep.model import check_dropout, check_positive, is_integer
from sweep.registry import heads


@heads.register("classifier", default_for_task="classification")
def classifier(
    in_features: int, n_outputs: int, hidden_size: int = 0, dropout: float = 0.0
) -> ClassifierHead:
    """Class logits, trained with cross-entropy; predicts class probabilities.

    Args:
        in_features: Embedding size (set from the backbone).
        n_outputs: Number of classes (set from the data), at least 2.
        hidden_size: Units of a hidden Linear + ReLU layer; 0 for none.
        dropout: Dropout before the output layer.

    Raises:
        ValueError: Fewer than 2 classes, a negative hidden size or dropout outside [0, 1).
    """
    _check_sizes(in_features, hidden_size, dropout)
    if not is_integer(n_outputs) or n_outputs < 2:
        raise ValueError(
            f"a classifier needs `n_outputs >= 2` classes, but got n_outputs={n_outputs!r}"
        )
    return ClassifierHead(in_features, n_outputs, hidden_size, dropout)


@heads.register("regressor", default_for_task="regression")
def regressor(
    in_features: int, n_outputs: int, hidden_size: int = 0, dropout: float = 0.0
) -> RegressionHead:
    """One value per target, trained with the mean squared error averaged over targets.

    Args:
        in_features: Embedding size (set from the backbone).
        n_outputs: Number of targets (set from the data).
        hidden_size: Units of a hidden Linear + ReLU layer; 0 for none.
        dropout: Dropout before the output layer.

    Raises:
        ValueError: A size below 1, a negative hidden size or dropout outside [0, 1).
    """
    _check_sizes(in_features, hidden_size, dropout)
    check_positive("n_outputs", n_outputs)
    return RegressionHead(in_features, n_outputs, hidden_size, dropout, [1.0] * n_outputs)


@heads.register("multitask", default_for_task="multitask")
def multitask(
    in_features: int,
    n_outputs: int,
    hidden_size: int = 0,
    dropout: float = 0.0,
    loss_weights: list[float] | None = None,
) -> RegressionHead:
    """Several targets from one shared network; loss = weighted sum of per-target MSEs.

    Args:
        in_features: Embedding size (set from the backbone).
        n_outputs: Number of targets K (set from the data).
        hidden_size: Units of a shared hidden Linear + ReLU layer; 0 for none.
        dropout: Dropout before the output layer.
        loss_weights: K weights >= 0, one per target in the data's order, normalised to sum
            to 1; None weighs the targets equally (the regressor's loss).

    Raises:
        ValueError: A size below 1, a negative hidden size, dropout outside [0, 1), or
            loss_weights that are not K non-negative numbers with a positive sum.
    """
    _check_sizes(in_features, hidden_size, dropout)
    check_positive("n_outputs", n_outputs)
    if loss_weights is None:
        loss_weights = [1.0] * n_outputs
    if not isinstance(loss_weights, (list, tuple)) or len(loss_weights) != n_outputs:
        raise ValueError(
            f"loss_weights must be a list of one weight per target ({n_outputs}), "
            f"but got loss_weights={loss_weights!r}"
        )
    if any(isinstance(w, bool) or not isinstance(w, numbers.Real) or w < 0 for w in loss_weights):
        raise ValueError(f"every loss weight must be >= 0, but got loss_weights={loss_weights!r}")
    if sum(loss_weights) <= 0:
        raise ValueError(
            f"`sum(loss_weights) > 0` must hold, but got loss_weights={loss_weights!r}"
        )
    return RegressionHead(in_features, n_outputs, hidden_size, dropout, loss_weights)


class ClassifierHead(nn.Module):
    """The module `classifier` builds; see there for the arguments."""

    task = "classification"

    def __init__(self, in_features: int, n_classes: int, hidden_size: int, dropout: float) -> None:
        super().__init__()
        self.trunk, width = _trunk(in_features, hidden_size, dropout)
        self.output = nn.Linear(width, n_classes)

    def forward(self, embedding: Tensor) -> Tensor:
        """(B, D) embeddings to (B, C) logits."""
        return self.output(self.trunk(embedding))

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """Mean cross-entropy; `targets` (B,) class indices, or (B, C) class probabilities
        (soft targets, e.g. mixed one-hot vectors of mixup)."""
        if targets.dim() == 2:
            return F.cross_entropy(outputs, targets.to(outputs.dtype))
        return F.cross_entropy(outputs, targets.long())

    def predict(self, outputs: Tensor) -> Tensor:
        """(B, C) class probabilities."""
        return torch.softmax(outputs, dim=1)


class RegressionHead(nn.Module):
    """The module `regressor` and `multitask` build; see there for the arguments."""

    task = "regression"

    def __init__(
        self,
        in_features: int,
        n_targets: int,
        hidden_size: int,
        dropout: float,
        loss_weights: Sequence[float],
    ) -> None:
        super().__init__()
        self.trunk, width = _trunk(in_features, hidden_size, dropout)
        self.output = nn.Linear(width, n_targets)
        weights = torch.tensor(loss_weights, dtype=torch.float32)
        # Configuration, not learned state: kept out of the state dict, moved with .to().
        self.register_buffer("loss_weights", weights / weights.sum(), persistent=False)

    def forward(self, embedding: Tensor) -> Tensor:
        """(B, D) embeddings to (B, K) values."""
        return self.output(self.trunk(embedding))

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """Sum over targets of weight x MSE; `targets` (B, K) like the outputs."""
        if targets.shape != outputs.shape:  # (B,) against (B, 1) would broadcast to (B, B)
            raise ValueError(
                f"targets must have the outputs' shape {tuple(outputs.shape)}, "
                f"but got {tuple(targets.shape)}"
            )
        per_target = F.mse_loss(outputs, targets.to(outputs.dtype), reduction="none").mean(dim=0)
        return per_target @ self.loss_weights

    def predict(self, outputs: Tensor) -> Tensor:
        """(B, K) values: the outputs themselves."""
        return outputs


def _trunk(in_features: int, hidden_size: int, dropout: float) -> tuple[nn.Sequential, int]:
    """The layers before the output layer, and the width they end with."""
    if hidden_size == 0:
        return nn.Sequential(nn.Dropout(dropout)), in_features
    return nn.Sequential(
        nn.Linear(in_features, hidden_size), nn.ReLU(), nn.Dropout(dropout)
    ), hidden_size


def _check_sizes(in_features: int, hidden_size: int, dropout: float) -> None:
    check_positive("in_features", in_features)
    if not is_integer(hidden_size) or hidden_size < 0:
        raise ValueError(
            "hidden_size must be 0 (no hidden layer) or a positive integer, "
            f"but got hidden_size={hidden_size!r}"
        )
    check_dropout(dropout)
