"""Transfer learning: a trial's backbone starts from another study's best checkpoint.

    model:
      backbone: cnn
      init_from: genre_cnn_all_beat     # a study under the results folder, or a .pt path

The head is always new (the task differs); the backbone's weights are loaded, and
`training.freeze_epochs` trains the head alone for a while before everything is fine-tuned.
A checkpoint whose backbone or input features differ from the spec's is refused before any
trial runs: loading it would either fail deep inside torch or, worse, silently misread the
input rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sweep.checkpoints import read_checkpoint
from sweep.data import PreparedData
from sweep.errors import SpecError, SweepError
from sweep.model import tell_input_standardisation
from sweep.registry import backbones
from sweep.results import NoSuchModel, find_model
from sweep.spec import Spec


def resolve_checkpoint(init_from: str, results: Path) -> Path:
    """The checkpoint `init_from` names: a file, or the best trial of a study folder/name
    (see `sweep.results.find_model`)."""
    try:
        return find_model(init_from, results, ensemble=False).checkpoint
    except NoSuchModel as e:
        if Path(init_from).suffix == ".pt":
            raise SpecError(f"model.init_from: checkpoint {init_from} not found") from e
        raise SpecError(
            f"model.init_from: no study {init_from!r} in {results} (run its spec first, "
            f"or give a checkpoint path)"
        ) from e
    except SweepError as e:
        raise SpecError(f"model.init_from: {e}") from e


def source_of(checkpoint: Path) -> dict[str, Any]:
    """What a checkpoint was trained on, as far as transfer cares."""
    ckpt = read_checkpoint(checkpoint)
    spec = ckpt["spec"]
    return {
        "backbone": spec["model"]["backbone"],
        "backbone_params": _with_defaults(
            spec["model"]["backbone"], spec["model"]["backbone_params"]
        ),
        "features": spec["data"]["features"],
        "beat": spec["data"]["beat"],
        "n_features": ckpt["n_features"],
        "state_dict": ckpt["state_dict"],
        "study": spec["study"],
    }


def adopt_source(spec: Spec, checkpoint: Path) -> Spec:
    """The spec with the checkpoint's backbone, refused if it cannot be the same network.

    The backbone's parameters come from the checkpoint: a transfer spec names the backbone
    and leaves its parameters out. A parameter the spec does give must agree with the
    checkpoint, and so must the backbone and the input features.
    """
    source = source_of(checkpoint)
    given = {
        k: list(v) if isinstance(v, tuple) else v for k, v in spec.model.backbone_params.items()
    }
    wanted = {
        "backbone": spec.model.backbone,
        "features": spec.data.features,
        "beat": spec.data.beat,
    }
    for key, value in wanted.items():
        if source[key] != value:
            raise SpecError(
                f"model.init_from: checkpoint {checkpoint} (study {source['study']!r}) has "
                f"{key} {source[key]!r}, but this spec has {value!r}; a transferred backbone "
                f"needs the same backbone and the same input features"
            )
    for name, value in given.items():
        if source["backbone_params"].get(name) != value:
            raise SpecError(
                f"model.init_from: checkpoint {checkpoint} (study {source['study']!r}) has "
                f"backbone_params.{name} {source['backbone_params'].get(name)!r}, but this "
                f"spec has {value!r}; leave the backbone's parameters out of a transfer spec "
                f"and they are the checkpoint's"
            )
    model = spec.model.model_copy(update={"backbone_params": source["backbone_params"]})
    return spec.model_copy(update={"model": model})


def load_backbone(model: torch.nn.Module, checkpoint: Path, data: PreparedData) -> None:
    """Copy the checkpoint's backbone weights into `model` (its head stays as built), for
    `data`: buffers that hold the source data's standardisation come along with the weights,
    and are told this data's again (`sweep.model.tell_input_standardisation`)."""
    prefix = "backbone."
    weights = {
        k.removeprefix(prefix): v
        for k, v in source_of(checkpoint)["state_dict"].items()
        if k.startswith(prefix)
    }
    model.backbone.load_state_dict(weights, strict=True)
    tell_input_standardisation(model, data.mean, data.std)


def _with_defaults(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """A backbone's parameters with its defaults filled in, lists as lists (for comparing)."""
    full = {**backbones.defaults(name), **params}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(full.items())}
