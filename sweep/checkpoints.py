"""A trial's model outside its training: built from a spec and data, saved, loaded, run.

    model = build(spec, data)                   # the spec's backbone and head, sized for data
    save_checkpoint(path, spec, data, model, result)
    model, ckpt = load_checkpoint(path)         # rebuilt from the checkpoint alone
    outputs = predict_checkpoint(model, ckpt, data, split, batch_size, device)

A checkpoint holds everything needed to rebuild and feed the model without its spec file:
the resolved spec, the weights, the input width, the class or target names and the
standardisation statistics. One holding `fold_state_dicts` stands for the mean of its fold
models (`final: ensemble`, and a cross-validated member of an ensemble of trials: see
sweep.selection). One holding `members` is an ensemble of
trials (`final: ensemble_selection`, see sweep.ensemble): each member's whole checkpoint and
its weight; `load_checkpoint` gives their models in an `EnsembleOfTrials`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from sweep.data import PreparedData
from sweep.errors import SpecError, SweepError
from sweep.model import build_model, tell_input_standardisation
from sweep.spec import Spec
from sweep.train import FitResult, predict

CHECKPOINT_FORMAT = 1


def check_task(spec: Spec, data: PreparedData) -> None:
    """Refuse a task the data set cannot serve (a regression spec on genre labels...)."""
    wanted = "classification" if spec.task.kind == "classification" else "regression"
    if data.task != wanted:
        raise SpecError(
            f"task.kind {spec.task.kind!r} needs a {wanted} data set, but "
            f"{spec.data.dataset!r} is {data.task}"
        )


def n_outputs(data: PreparedData) -> int:
    return len(data.class_names) if data.task == "classification" else len(data.target_names)


def build(spec: Spec, data: PreparedData) -> torch.nn.Module:
    """The spec's model for this data: its input width and outputs come from the data."""
    model = build_model(
        spec.model.backbone,
        spec.head,
        data.n_features,
        n_outputs(data),
        spec.model.backbone_params,
        spec.model.head_params,
    )
    head_task = getattr(model.head, "task", None)
    wanted = "classification" if spec.task.kind == "classification" else "regression"
    if head_task is not None and head_task != wanted:
        raise SpecError(
            f"model.head {spec.head!r} is a {head_task} head, but task.kind is {spec.task.kind!r}"
        )
    tell_input_standardisation(model, data.mean, data.std)
    return model


def save_checkpoint(
    path: Path,
    spec: Spec,
    data: PreparedData,
    model: torch.nn.Module,
    result: FitResult,
    fold_models: list[dict] | None = None,
    refit_epochs: int | None = None,
) -> None:
    """Best weights plus everything needed to rebuild and feed the model without the spec.
    With `fold_models` (every fold's weights), it stands for their ensemble; `refit_epochs`:
    a refit on train+validation, trained for that many epochs of the search's schedule."""
    extra = {} if fold_models is None else {"fold_state_dicts": fold_models}
    if refit_epochs is not None:
        extra["refit_epochs"] = refit_epochs
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "spec": spec.model_dump(mode="json"),
            "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
            "n_features": data.n_features,
            "n_outputs": n_outputs(data),
            "class_names": list(data.class_names),
            "target_names": list(data.target_names),
            "mean": None if data.mean is None else data.mean.tolist(),
            "std": None if data.std is None else data.std.tolist(),
            "best_epoch": result.best_epoch,
            "best_value": result.best_value,
            **extra,
        },
        path,
    )


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint's content, checked to be sweep's.

    Raises:
        SweepError: no such file, or not a sweep checkpoint of this format.
    """
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as e:
        raise SweepError(f"{path}: checkpoint not found") from e
    except Exception as e:
        raise SweepError(f"{path}: not a sweep checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise SweepError(f"{path}: not a sweep checkpoint of format {CHECKPOINT_FORMAT}")
    return ckpt


def save_ensemble(path: Path, members: list[tuple[int, float, dict]]) -> None:
    """An ensemble of trials: (trial number, weight, its checkpoint's content) per member. It
    takes its spec, class and target names from its first member (all share the data)."""
    first = members[0][2]
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "spec": first["spec"],
            "n_features": first["n_features"],
            "n_outputs": first["n_outputs"],
            "class_names": first["class_names"],
            "target_names": first["target_names"],
            "members": [
                {"trial": number, "weight": weight, "checkpoint": ckpt}
                for number, weight, ckpt in members
            ],
        },
        path,
    )


class EnsembleOfTrials(torch.nn.Module):
    """The models of an ensemble checkpoint, in its members' order. Each member is fed as
    its own checkpoint says (`sweep.predict.model_outputs`), so it has no forward."""

    def __init__(self, models: list[torch.nn.Module], weights: list[float]) -> None:
        super().__init__()
        self.models = torch.nn.ModuleList(models)
        self.weights = weights


def load_checkpoint(path: Path) -> tuple[torch.nn.Module, dict]:
    """The model a checkpoint holds, rebuilt and loaded (on the CPU), and the checkpoint;
    for an ensemble of trials, an `EnsembleOfTrials`."""
    ckpt = read_checkpoint(path)
    if "members" in ckpt:
        models = [model_of(m["checkpoint"]) for m in ckpt["members"]]
        return EnsembleOfTrials(models, [m["weight"] for m in ckpt["members"]]), ckpt
    return model_of(ckpt), ckpt


def model_of(ckpt: dict) -> torch.nn.Module:
    """The model of one trial's checkpoint content, rebuilt with its weights."""
    spec = Spec.model_validate(ckpt["spec"])
    model = build_model(
        spec.model.backbone,
        spec.head,
        ckpt["n_features"],
        ckpt["n_outputs"],
        spec.model.backbone_params,
        spec.model.head_params,
    )
    model.load_state_dict(ckpt["state_dict"])
    return model


def predict_checkpoint(
    model: torch.nn.Module,
    ckpt: dict,
    data: PreparedData,
    split,
    batch_size: int,
    device: torch.device,
) -> np.ndarray:
    """The model's outputs on a split: probabilities (n, C) or values (n, K). A checkpoint of
    fold models gives their mean (and leaves the model holding the last fold's weights)."""
    model.to(device)
    outputs = []
    for weights in ckpt.get("fold_state_dicts") or [None]:
        if weights is not None:
            model.load_state_dict(weights)  # copied onto the model's device
        outputs.append(predict(model, data, split, batch_size, device)[0])
    return np.mean(outputs, axis=0)
