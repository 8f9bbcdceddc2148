"""Rebuilding a study's data and split, for the baseline and the best model's predictions.

    attach_data(records, results, data_root=None, baseline=True)

A study's data is found again from its data.root (or `--data-root`) and its split rebuilt
exactly from the split the study recorded; the practitioner's baseline is fitted once per
data set and split, and a regression study's best checkpoint predicts the test split again
for the predicted-vs-true scatter. Where the data cannot be found, the record gets a note
and the report is still written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sweep.data import PreparedData
from sweep.errors import SweepError
from sweep.metrics import spearman
from sweep.report.baseline import BaselineResult, run_baseline
from sweep.report.records import StudyRecord, split_file
from sweep.results import SPEC, SPLIT, TEST, TrialFolder
from sweep.spec import DataSpec


def locate_root(root: Path, results: Path, override: Path | None = None) -> Path | None:
    """Where a study's data is: the override, else data.root as given (relative to the
    current folder), else relative to the folder holding `results` (where `sweep run` was
    most likely started); None where none of them is a folder."""
    candidates = [override] if override is not None else []
    candidates += [Path(root), Path(results).resolve().parent / root]
    for path in candidates:
        if path is not None and Path(path).is_dir():
            return Path(path)
    return None


def study_split_spec(data: DataSpec, study_folder: Path, root: Path) -> DataSpec:
    """The data spec that rebuilds a study's split exactly: its data found at `root`, its
    split read back from the study's split.json where the study wrote one (a study
    stopped before its end has none; its seeded split is carved again, the same)."""
    update: dict[str, Any] = {"root": Path(root)}
    split = split_file(study_folder)
    if split is not None:
        update["split_file"] = split
    return data.model_copy(update=update)


def checkpoint_outputs(trial_folder: Path, data: PreparedData) -> np.ndarray:
    """The outputs (probabilities or values) on the test split, on the CPU, of the model a
    trial stands for (its fold ensemble, refit or own model: `TrialFolder.tested_model`).

    Raises:
        SweepError: no checkpoint, or one made for other features than `data` holds.
    """
    import torch

    from sweep.checkpoints import load_checkpoint, predict_checkpoint

    model, ckpt = load_checkpoint(TrialFolder(trial_folder).tested_model())
    if ckpt["n_features"] != data.n_features:
        raise SweepError(
            f"{trial_folder}: the checkpoint expects {ckpt['n_features']} features, the "
            f"study's data has {data.n_features}"
        )
    batch = ckpt["spec"]["training"]["batch_size"]
    return predict_checkpoint(model, ckpt, data, data.test(), batch, torch.device("cpu"))


def attach_data(
    records: Sequence[StudyRecord], results: Path, data_root: Path | None, baseline: bool
) -> None:
    """Rebuild each study's split; fit the baseline once per data set and split; predict
    the test split with the best checkpoint of regression studies (for the scatter)."""
    from sweep.data import prepare

    prepared: dict[str, Any] = {}
    baselines: dict[str, BaselineResult] = {}
    for record in records:
        data_spec = _data_spec(record)
        if data_spec is None:
            continue
        root = locate_root(data_spec.root, results, data_root)
        if root is None:
            record.notes.append(
                f"data not found at data.root `{data_spec.root}` (tried it from the current "
                f"folder and from {Path(results).resolve().parent}); pass --data-root: no "
                f"baseline{' or predicted-vs-true plot' if record.task == 'regression' else ''}"
            )
            continue
        data_spec = study_split_spec(data_spec, record.folder, root)
        key = data_spec.model_dump_json()
        try:
            if key not in prepared:
                prepared[key] = prepare(data_spec)
            data = prepared[key]
            test = data.test()
        except Exception as e:  # the report is written whatever the data holds
            record.notes.append(f"the data at `{root}` could not be loaded: {e}")
            continue
        record.data_root = str(root)
        recorded = record.split.get("test")
        if recorded is not None and list(recorded) != list(test.ids):
            record.notes.append(
                f"the test split rebuilt from the data differs from {SPLIT}: the data "
                "changed since the study ran"
            )
        if baseline:
            # One baseline per data set, features, targets and split, whatever the study.
            split_key = json.dumps({k: list(v) for k, v in sorted(data.split_ids.items())})
            bkey = data_spec.model_copy(update={"split_file": None}).model_dump_json()
            bkey += split_key
            if bkey not in baselines:
                baselines[bkey] = run_baseline(data)
            record.baseline, record.baseline_key = baselines[bkey], bkey
        if record.task == "regression":
            _predict_best(record, data)


def _data_spec(record: StudyRecord) -> DataSpec | None:
    """The study's data spec with its targets; from the raw YAML where the whole spec no
    longer validates (a spec of another sweep version), since the data part may."""
    if record.spec is not None:
        return record.spec.resolved_data
    try:
        data = DataSpec.model_validate(record.raw["data"])
    except Exception:
        record.notes.append(f"no baseline: the data part of `{SPEC}` is not readable")
        return None
    targets = record.raw.get("task", {}).get("targets")
    if targets:
        data = data.model_copy(update={"options": {**data.options, "targets": list(targets)}})
    return data


def _predict_best(record: StudyRecord, data: Any) -> None:
    """The best checkpoint's predictions on the test split, checked against test.json."""
    tested = record.test.get("best", {})
    if "trial" not in tested:
        return
    try:
        outputs = checkpoint_outputs(record.trial_folder(tested["trial"]), data)
    except Exception as e:  # a component no longer importable...: a note, not a crash
        record.notes.append(f"no predicted-vs-true plot: {e}")
        return
    true = data.test().targets
    record.predictions = (true, outputs)
    for k, name in enumerate(data.target_names):
        stored = tested.get("per_target", {}).get(name, {}).get("spearman")
        if stored is not None and abs(spearman(outputs[:, k], true[:, k]) - stored) > 1e-4:
            record.notes.append(
                f"the rebuilt predictions give another Spearman for {name} than {TEST} "
                f"({spearman(outputs[:, k], true[:, k]):.4f} vs {stored:.4f})"
            )
