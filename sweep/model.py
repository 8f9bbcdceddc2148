"""A model is a registered backbone and a registered head, composed by `build_model`.

The contract every component follows (the conformance tests check it for each one
registered):

- A backbone factory takes `n_features` first (the engine infers it from the data), then
  JSON-able parameters with defaults. The module it returns has an int `out_features` and
  `forward(x, lengths)`: x is (B, T, n_features) float32, padded at the end of time, and
  lengths is (B,) int64 on the CPU; it returns (B, out_features). Frames at t >= length never
  change the output.
- A backbone that needs the data's own units (a key estimated from a chromagram's profile,
  which per-feature standardisation bends) may define `set_input_standardisation(mean,
  std)`: the engine calls it with the per-feature statistics its inputs were standardised
  with (`data.normalization: standardize`; never called with `none`), and the backbone keeps
  what it needs as buffers, so that a checkpoint carries them (`tell_input_standardisation`).
- A head factory takes `(in_features, n_outputs, ...)`. The module it returns has a class
  attribute `task` ("classification" or "regression"), `forward(embedding) -> outputs`,
  `loss(outputs, targets) -> scalar` and `predict(outputs)`: class probabilities (B, C) or
  values (B, K). A head may register as the default of a task kind
  (`@heads.register(name, default_for_task="regression")`): a spec that names no head gets it.

The checks at the end of this module are shared by the built-in components, and are there
for plugin authors too, so that every component words its errors the same way.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from sweep.registry import Registry, backbones, heads


class SpectrogramModel(nn.Module):
    """A backbone that embeds variable-length spectrograms and a head that reads the embedding.

    Args:
        backbone: Maps (x (B, T, F), lengths (B,)) to (B, D) embeddings.
        head: Maps (B, D) embeddings to outputs; knows its loss and predictions.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    @property
    def task(self) -> str:
        """The head's task: "classification" or "regression"."""
        return self.head.task

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        return self.head(self.backbone(x, lengths))

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return self.head.loss(outputs, targets)

    @torch.no_grad()
    def predict(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Class probabilities (B, C) or values (B, K). The caller chooses eval or train mode."""
        return self.head.predict(self(x, lengths))


def build_model(
    backbone: str,
    head: str,
    n_features: int,
    n_outputs: int,
    backbone_params: dict[str, Any],
    head_params: dict[str, Any],
) -> SpectrogramModel:
    """The registered backbone and head, built with their parameters and composed.

    Args:
        backbone: A registered backbone name, e.g. "lstm".
        head: A registered head name, e.g. "classifier".
        n_features: Features per frame in the data (F of (B, T, F)).
        n_outputs: Classes (classification) or targets (regression).
        backbone_params: Backbone parameters other than `n_features`.
        head_params: Head parameters other than `in_features` and `n_outputs`.

    Raises:
        RegistryError: An unknown backbone or head name.
        ValueError: A parameter the component does not take, or a value it refuses.
    """
    _check_params(backbones, backbone, backbone_params)
    net = backbones.build(backbone, n_features=n_features, **backbone_params)
    _check_params(heads, head, head_params)
    top = heads.build(head, in_features=net.out_features, n_outputs=n_outputs, **head_params)
    return SpectrogramModel(net, top)


def _check_params(registry: Registry, name: str, params: dict[str, Any]) -> None:
    """A parameter the factory does not take, or one the engine sets, is a ValueError here,
    not a TypeError from deep inside the call."""
    check = registry.check_call(name, params)
    if check.engine_given:
        param = check.engine_given[0]
        raise ValueError(
            f"{registry.kind} {name!r}: {param} is set by build_model (from the data or the "
            f"backbone), not by parameters, but got {param}={params[param]!r}"
        )
    if check.error is not None:
        raise ValueError(
            f"{registry.kind} {name!r}: {check.error} "
            f"(it takes: {', '.join(registry.settable(name))}){check.hint}"
        )


def tell_input_standardisation(model: nn.Module, mean, std) -> None:
    """Give a model's backbone the per-feature `mean` and `std` ((n_features,) arrays) its
    inputs were standardised with, if it asks for them (`set_input_standardisation`); with
    `mean` None (the data are not standardised) there is nothing to tell."""
    backbone = getattr(model, "backbone", model)
    wants = getattr(backbone, "set_input_standardisation", None)
    if wants is not None and mean is not None:
        wants(mean, std)


def count_parameters(model: nn.Module) -> int:
    """The number of trainable values (parameters that require grad)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# Checks shared by components: the rule, then the value received.


def is_integer(value: object) -> bool:
    """An int or numpy integer, but not a bool (True is not a size)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_positive(name: str, value: int) -> None:
    """`value` must be an integer >= 1."""
    if not is_integer(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, but got {name}={value!r}")


def check_sizes(name: str, values: Sequence[int]) -> None:
    """`values` must be a non-empty list or tuple of integers >= 1."""
    if (
        not isinstance(values, (list, tuple))
        or not values
        or any(not is_integer(v) or v < 1 for v in values)
    ):
        raise ValueError(
            f"{name} must be a non-empty list of positive integers, but got {name}={values!r}"
        )


def check_dropout(value: float, name: str = "dropout") -> None:
    """`value` must be a probability in [0, 1): 1 would drop everything."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"`0 <= {name} < 1` must hold, but got {name}={value!r}")


def check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    """`value` must be one of `choices`."""
    if value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, choices))}, but got {name}={value!r}"
        )


def check_batch(x: Tensor, lengths: Tensor, n_features: int) -> None:
    """A backbone's input: x (B, T, n_features) and lengths (B,) with 1 <= length <= T."""
    if x.dim() != 3 or x.shape[2] != n_features:
        raise ValueError(f"x must be (B, T, {n_features}), but got shape {tuple(x.shape)}")
    if lengths.shape != (x.shape[0],):
        raise ValueError(
            f"lengths must be ({x.shape[0]},) for x of shape {tuple(x.shape)}, "
            f"but got shape {tuple(lengths.shape)}"
        )
    low, high = int(lengths.min()), int(lengths.max())
    if low < 1 or high > x.shape[1]:
        raise ValueError(
            f"`1 <= length <= T={x.shape[1]}` must hold, but got lengths from {low} to {high}"
        )


def valid_steps(lengths: Tensor, steps: int, device: torch.device) -> Tensor:
    """(B, steps) bool: True where t < length, the frames that belong to the track."""
    return torch.arange(steps, device=device) < lengths.to(device)[:, None]
