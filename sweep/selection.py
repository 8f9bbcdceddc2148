"""Choosing a configuration on small data: cross-validation folds, and what is tested.

On a small data set one validation split mostly measures noise: on emotify's genre beat
features (256 train / 64 validation tracks) a sweep's best trial by validation accuracy
tested below a pooled-features logistic regression. The remedies, set in `search.selection`:

- `folds: k`: each trial is trained k times, on k folds of train+validation (stratified for
  classification), and scored by the mean of its folds' best validation values. The
  pruners see the first fold's epochs and then each fold's result (sweep.pruning), so a bad
  configuration stops after a few epochs, and one worse than the best on the folds so far
  stops before its last folds.
- `final`: what the test split scores, the same way for the best and the reference trial.
  `ensemble` averages the predictions of the trial's k fold models (kept for the trials
  that were the best when they ended, and the reference: `fold_models_kept`); `refit`
  trains the configuration once more on train+validation, for the mean best epoch of its
  folds; `model` tests the trial's own model (with folds, its best fold's).
  `ensemble_selection` tests the trials' own models and, beside them, a weighted ensemble
  of trials chosen on their out-of-fold predictions (sweep.ensemble); with folds, each
  member is the mean of its fold models (every complete trial keeps them), as AutoGluon
  bags its models over k folds.

`folds: auto` uses `AUTO_FOLDS` folds where train+validation has fewer than
`SMALL_DATA_TRACKS` tracks and one validation split otherwise; `final: auto` is `ensemble`
with folds and `model` without.

Folds reuse the study's standardisation (statistics of the training split), so about a
fifth of each fold's validation tracks took part in those statistics: a shift of the mean
and scale only, never of labels.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sweep.data import PreparedData, Split
from sweep.errors import SpecError
from sweep.spec import SelectionSpec
from sweep.splits import kfold, stratified_kfold
from sweep.tracks import TrackSet

AUTO_FOLDS = 5
SMALL_DATA_TRACKS = 1000


def n_folds(selection: SelectionSpec, data: PreparedData) -> int:
    """How many folds the spec's selection asks for on this data (1: one validation split)."""
    if selection.folds != "auto":
        return int(selection.folds)
    return AUTO_FOLDS if len(data.train) + len(data.validation) < SMALL_DATA_TRACKS else 1


def final(selection: SelectionSpec, folds: int) -> str:
    """What the test split scores with `folds` folds: "ensemble", "refit" or "model" (see
    SelectionSpec.final).

    Raises:
        SpecError: an ensemble asked for without folds.
    """
    if selection.final == "auto":
        return "ensemble" if folds > 1 else "model"
    if selection.final == "ensemble" and folds == 1:
        raise SpecError(
            "search.selection.final: ensemble averages the fold models, but there is one "
            "validation split here (search.selection.folds is 1 or auto on large data)"
        )
    return selection.final


def fold_models_kept(final: str) -> str:
    """Which trials keep their k fold models, for what `final` tests: "best" (the trials that
    were the best when they ended, and the reference: `ensemble` tests the best), "every"
    (every complete trial: `ensemble_selection` may choose any as a member, which then
    stands for its fold models, a bag of k models that together saw every track) or "none".
    """
    return {"ensemble": "best", "ensemble_selection": "every"}.get(final, "none")


def pooled(data: PreparedData) -> Split:
    """Train and validation as one split (train first)."""
    a, b = data.train, data.validation
    tracks = TrackSet(
        np.concatenate([a.tracks.ids, b.tracks.ids]),
        np.concatenate([a.tracks.frames, b.tracks.frames]),
        np.concatenate([a.tracks.offsets, b.tracks.offsets[1:] + a.tracks.offsets[-1]]),
    )
    targets = None if a.targets is None else np.concatenate([a.targets, b.targets])
    return Split("train+validation", tracks, targets)


def folds(data: PreparedData, k: int) -> list[PreparedData]:
    """k copies of `data`, each with one fold of train+validation as its validation split.

    Seeded by the data's split seed, so every trial of a study sees the same folds.
    """
    pool = pooled(data)
    seed = data.spec.split_seed
    if data.task == "classification" and np.bincount(pool.targets).min() >= k:
        held_out = stratified_kfold(pool.targets, k, seed)
    else:
        held_out = kfold(len(pool), k, seed)
    out = []
    for i, val_idx in enumerate(held_out):
        train_idx = np.setdiff1d(np.arange(len(pool)), val_idx)
        out.append(
            dataclasses.replace(
                data,
                train=_take(pool, train_idx, f"fold {i + 1} train"),
                validation=_take(pool, val_idx, f"fold {i + 1} validation"),
            )
        )
    return out


def refit_data(data: PreparedData) -> PreparedData:
    """`data` with train+validation as its training split (no validation is used)."""
    pool = pooled(data)
    return dataclasses.replace(data, train=pool, validation=pool)


def _take(split: Split, idx: np.ndarray, name: str) -> Split:
    idx = np.sort(idx)
    targets = None if split.targets is None else split.targets[idx]
    return Split(name, split.tracks.take(idx), targets)
