"""Predictions of a trained model on new tracks, written as a CSV (`sweep predict`).

    model, ckpt, source = resolve_model("genre_all_beat", results=Path("results"))
    result = predict_folder(model, ckpt, Path("data/multitask_dataset_beat/test"))
    write_csv(result, Path("predictions.csv"))

The input is a folder of `.npy` arrays in the lab layout ((140, T), id = the name before its
first dot) or of audio files (wav/mp3/ogg/flac: the lab's feature recipe first, id = the
file name without its extension), read by `sweep.lab.inputs`: a checkpoint does not record
how its data set stores arrays, so new tracks are read as the lab's. Tracks are prepared
exactly as in training, from what the checkpoint records: the spec's feature set rows, the
`max_length` cut, standardisation with the training split's mean and std (or, without it,
padding with each feature's floor), the same batching; the model runs in eval mode.

A model trained on valence, energy and danceability writes the Kaggle submission format,
`Id,valence,energy,danceability`, whatever order it was trained in.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sweep.checkpoints import EnsembleOfTrials, load_checkpoint, predict_checkpoint
from sweep.data import LoadReport, PreparedData, Split
from sweep.dataset_api import DataSource
from sweep.ensemble import blend
from sweep.errors import SweepError
from sweep.lab.inputs import read_inputs
from sweep.registry import feature_sets
from sweep.results import ModelSource, find_model
from sweep.spec import Spec
from sweep.tracks import TrackSet

KAGGLE_TARGETS = ("valence", "energy", "danceability")  # the submission's column order


@dataclass
class Predictions:
    """One row per track: ids, and the CSV columns after `Id` with their values.

    Attributes:
        ids: track ids, in the order of the rows.
        columns: the header after `Id`.
        values: one list per row, matching `columns` (a class name for `predicted`).
        task: "classification" or "regression".
        skipped: file -> reason, for files skipped as bad.
    """

    ids: list[str]
    columns: list[str]
    values: list[list[Any]]
    task: str
    skipped: dict[str, str] = field(default_factory=dict)


# ----------------------------------------------------------------------------- the model


def resolve_model(
    model_or_study: str | Path, results: Path = Path("results")
) -> tuple[torch.nn.Module, dict, ModelSource]:
    """Load the model a checkpoint path, a study folder or a study name stands for.

    Args:
        model_or_study: a `checkpoint.pt` file, a study folder (`results/<study>/`), or the
            name of a study under `results`.
        results: the folder of study results, for a study name.

    Returns:
        The model (eval mode, CPU), the checkpoint dict (see `sweep.checkpoints.save_checkpoint`)
        and where it came from. A study gives its best trial: test.json's, else the best
        complete trial of its Optuna journal.

    Raises:
        SweepError: nothing by that name, a study without a completed trial, a missing or
            foreign checkpoint.
    """
    source = find_model(model_or_study, results)
    model, ckpt = load_checkpoint(source.checkpoint)
    model.eval()
    return model, ckpt, source


# ----------------------------------------------------------------------------- predicting


def prepare_tracks(tracks: TrackSet, ckpt: dict) -> tuple[PreparedData, Split]:
    """The tracks as the model saw its training data, as a split of a `PreparedData`.

    The feature set's rows, the `max_length` cut, the standardisation with the training
    split's statistics and the pad value are the ones `sweep.data.prepare` uses, from the
    checkpoint's spec (the trial's, so searched values such as max_length are the trial's
    own). Handing a real `PreparedData` to `sweep.train.predict` means predictions are made
    by the very code that tested the model, batching and evaluation windows included.

    Args:
        tracks: raw tracks, (T, rows) frames each as stored (see `read_inputs`).
        ckpt: a checkpoint dict (see `sweep.checkpoints.load_checkpoint`).

    Returns:
        The data (no labels, no files behind it) and the split to predict.

    Raises:
        SweepError: the feature set does not give the model's number of features.
    """
    spec = Spec.model_validate(ckpt["spec"]).resolved_data
    features = feature_sets.build(spec.features)
    if features.n_features != ckpt["n_features"]:
        raise SweepError(
            f"feature set {spec.features!r} has {features.n_features} features, but the "
            f"checkpoint's model takes {ckpt['n_features']}"
        )
    split = Split(
        "predict",
        tracks.take(np.arange(len(tracks)), rows=features.rows, max_length=spec.max_length),
        None,
    )
    mean = std = None
    pad_value = features.floor.astype(np.float32)
    if ckpt.get("mean") is not None:
        mean = np.asarray(ckpt["mean"], dtype=np.float32)
        std = np.asarray(ckpt["std"], dtype=np.float32)
        pad_value = np.zeros(features.n_features, dtype=np.float32)  # as in prepare()
    source = DataSource(
        spec.dataset,
        "classification" if ckpt["class_names"] else "regression",
        parts={},
        class_names=tuple(ckpt["class_names"]),
        target_names=tuple(ckpt["target_names"]),
    )
    data = PreparedData(
        spec, source, features, split, split, {}, pad_value, mean, std, LoadReport()
    )
    split = data._standardised(split)  # the training code's own standardisation
    data.train = data.validation = split
    return data, split


def model_outputs(
    model: torch.nn.Module, ckpt: dict, tracks: TrackSet, device: torch.device | None = None
) -> np.ndarray:
    """Probabilities (n, C) or values (n, K) for raw (T, rows) tracks, in the tracks' order.
    An ensemble of trials gives the weighted mean of its members', each member's tracks
    prepared as its own checkpoint says."""
    if isinstance(model, EnsembleOfTrials):
        weights = {i: m["weight"] for i, m in enumerate(ckpt["members"])}
        outputs = {
            i: model_outputs(member, m["checkpoint"], tracks, device)
            for i, (member, m) in enumerate(zip(model.models, ckpt["members"], strict=True))
        }
        return blend(weights, outputs).astype(np.float32)
    data, split = prepare_tracks(tracks, ckpt)
    device = device or torch.device("cpu")
    batch_size = int(ckpt["spec"]["training"]["batch_size"])
    return predict_checkpoint(model, ckpt, data, split, batch_size, device)


def predict_folder(
    model: torch.nn.Module,
    ckpt: dict,
    input_dir: Path,
    skip_bad: bool = False,
    workers: int | None = None,
    show_progress: bool = False,
) -> Predictions:
    """Predict every track of a folder (see `read_inputs`), as the rows of the output CSV."""
    data = ckpt["spec"]["data"]
    tracks, skipped = read_inputs(
        input_dir,
        beat=bool(data["beat"]),
        skip_bad=skip_bad,
        cache=bool(data.get("cache", True)),
        workers=workers,
        show_progress=show_progress,
    )
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    outputs = model_outputs(model, ckpt, tracks, device)
    ids = [str(t) for t in tracks.ids]
    if ckpt["class_names"]:
        names = list(ckpt["class_names"])
        predicted = outputs.argmax(axis=1)
        rows = [[names[p], *probs] for p, probs in zip(predicted, outputs.tolist(), strict=True)]
        return Predictions(ids, ["predicted", *names], rows, "classification", skipped)
    names = list(ckpt["target_names"])
    order = list(range(len(names)))
    if sorted(names) == sorted(KAGGLE_TARGETS):  # the Kaggle submission's column order
        order = [names.index(t) for t in KAGGLE_TARGETS]
    columns = [names[i] for i in order]
    return Predictions(ids, columns, outputs[:, order].tolist(), "regression", skipped)


def write_csv(predictions: Predictions, out: Path, force: bool = False) -> None:
    """Write `Id,<columns>`, one row per track; numbers with 6 decimals.

    Written to a temporary file renamed into place, so an interrupted run never leaves a
    half-written CSV that looks complete.

    Raises:
        SweepError: `out` exists (without force), is a folder, or its folder does not exist.
    """
    check_output(out, force)
    out = Path(out)
    # Beside the target (a rename across file systems would copy), with the usual
    # permissions (mkstemp's would be owner-only).
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["Id", *predictions.columns])
            for tid, row in zip(predictions.ids, predictions.values, strict=True):
                writer.writerow([tid, *(_cell(v) for v in row)])
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_output(out: Path, force: bool) -> None:
    """Refuse an output path that cannot or should not be written, before any work."""
    out = Path(out)
    if out.is_dir():
        raise SweepError(f"{out}: is a folder; --out takes a file name")
    if out.exists() and not force:
        raise SweepError(f"{out}: already exists (--force overwrites it)")
    if not out.resolve().parent.is_dir():
        raise SweepError(f"{out}: folder {out.parent} does not exist")


def _cell(value: Any) -> str:
    return f"{value:.6f}" if isinstance(value, float) else str(value)
