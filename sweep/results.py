"""A study's results folder: every path in it, reading it without its spec, finding its model.

    folder = StudyFolder.of(Path("results"), "genre_all_beat")
    folder.test                        # results/genre_all_beat/test.json
    folder.trial(3).curves             # results/genre_all_beat/trials/3/curves.json
    find_model("genre_all_beat", Path("results")).checkpoint   # the model its test scored

The layout, owned here and nowhere else:

    results/<study>/
      optuna.journal      the Optuna study (unless --storage names a database)
      spec.yaml           the spec as run, every default filled in
      environment.json    package versions, git revision, machine
      split.json          the track ids of every split
      test.json           the best and the reference trial, each tested once (and the
                          ensemble of trials, with `final: ensemble_selection`)
      ensemble.pt         that ensemble: its members' checkpoints and weights
      test_outputs.npz    each tested role's outputs on the test tracks (ids, targets,
                          best, reference, ensemble): the report's paired comparisons
      trials/<n>/         config.yaml (the trial's resolved spec), curves.json (per epoch),
                          checkpoint.pt (its best weights), folds.pt (its fold models, for
                          `final: ensemble`, or `ensemble_selection` with folds),
                          refit.pt (retrained on train+validation),
                          validation.npz (its out-of-fold predictions, for ensembles)

Nothing here writes a model or trains: it is the map of the folder, used by the run, the
report, predict, transfer and the baseline alike.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from sweep.errors import SweepError

JOURNAL = "optuna.journal"
SPEC = "spec.yaml"
ENVIRONMENT = "environment.json"
SPLIT = "split.json"
TEST = "test.json"
TRIALS = "trials"

CONFIG = "config.yaml"
CURVES = "curves.json"
CHECKPOINT = "checkpoint.pt"
FOLD_MODELS = "folds.pt"  # a trial's fold models, kept where a test may use them (`final`)
REFIT = "refit.pt"  # a trial's configuration retrained on train+validation (`final: refit`)
VALIDATION_OUTPUTS = "validation.npz"  # ids, outputs, targets of its validation tracks
ENSEMBLE = "ensemble.pt"  # the study's ensemble of trials (`final: ensemble_selection`)
TEST_OUTPUTS = "test_outputs.npz"  # ids, targets, and the outputs of each role tested


@dataclass(frozen=True)
class TrialFolder:
    """`trials/<n>/` of a study: one trial's files."""

    path: Path

    @property
    def number(self) -> int:
        return int(self.path.name)

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def curves(self) -> Path:
        return self.path / CURVES

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def fold_models(self) -> Path:
        return self.path / FOLD_MODELS

    @property
    def refit(self) -> Path:
        return self.path / REFIT

    @property
    def validation_outputs(self) -> Path:
        """Its predictions on the tracks it was validated on, at its best epoch (with folds,
        each fold's on its own held-out tracks: out-of-fold predictions)."""
        return self.path / VALIDATION_OUTPUTS

    def own_model(self) -> Path:
        """The model as the search trained it: its fold models (their mean) where they were
        kept, else its checkpoint (with folds, its best fold's)."""
        return self.fold_models if self.fold_models.is_file() else self.checkpoint

    def tested_model(self) -> Path:
        """The model the trial stands for, as its test scored it (see sweep.selection): its
        fold models (an ensemble), else its refit on train+validation, else its checkpoint
        from the search."""
        for path in (self.fold_models, self.refit):
            if path.is_file():
                return path
        return self.checkpoint

    def read_curves(self) -> list[dict[str, Any]]:
        """Its per-epoch records; empty if it wrote none (or they cannot be read)."""
        try:
            curves = json.loads(self.curves.read_text())
        except (OSError, ValueError):
            return []
        return curves if isinstance(curves, list) else []


@dataclass(frozen=True)
class StudyFolder:
    """`results/<study>/`: a study's files. Creating one touches nothing on disk."""

    path: Path

    @classmethod
    def of(cls, results: Path, study: str) -> StudyFolder:
        return cls(Path(results) / study)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def journal(self) -> Path:
        return self.path / JOURNAL

    @property
    def spec(self) -> Path:
        return self.path / SPEC

    @property
    def environment(self) -> Path:
        return self.path / ENVIRONMENT

    @property
    def split(self) -> Path:
        return self.path / SPLIT

    @property
    def test(self) -> Path:
        return self.path / TEST

    @property
    def ensemble(self) -> Path:
        return self.path / ENSEMBLE

    @property
    def test_outputs(self) -> Path:
        return self.path / TEST_OUTPUTS

    @property
    def trials(self) -> Path:
        return self.path / TRIALS

    def trial(self, number: int) -> TrialFolder:
        return TrialFolder(self.trials / str(number))

    def trial_folders(self) -> list[TrialFolder]:
        """The trial folders present, by trial number."""
        if not self.trials.is_dir():
            return []
        found = [TrialFolder(p) for p in self.trials.iterdir() if p.name.isdigit()]
        return sorted(found, key=lambda t: t.number)

    def has_journal(self) -> bool:
        return self.journal.is_file()

    def read_json(self, path: Path) -> Any:
        """One of the folder's JSON files; None if absent or unreadable."""
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def write_json(self, path: Path, value: Any) -> None:
        path.write_text(json.dumps(value, indent=1))

    def read_test(self) -> dict[str, Any]:
        """test.json's results ("best", "reference"); empty if the study was not tested."""
        test = self.read_json(self.test)
        return test if isinstance(test, dict) else {}

    def save_test_outputs(
        self,
        ids: Sequence[str],
        targets: np.ndarray,
        outputs: dict[str, np.ndarray],
        keep: set[str],
    ) -> None:
        """Write test_outputs.npz: `outputs` (role -> outputs on the test tracks, in the
        order of `ids`), and the other roles of `keep` from the file as it was (tested once,
        before); a role not in `keep` (no longer tested) is dropped. Written whole, then
        moved into place."""
        kept = self.read_test_outputs() or {}
        ids = np.asarray(ids).astype(str)
        if "ids" in kept and not np.array_equal(kept["ids"], ids):
            kept = {}  # another test split (the data changed): the old outputs are not its
        roles = {k: v for k, v in kept.items() if k in keep and k not in outputs}
        partial = self.test_outputs.with_suffix(".partial.npz")
        np.savez(partial, ids=ids, targets=targets, **roles, **outputs)
        os.replace(partial, self.test_outputs)

    def read_test_outputs(self) -> dict[str, np.ndarray] | None:
        """test_outputs.npz as {"ids", "targets", role...}; None if absent or unreadable."""
        try:
            with np.load(self.test_outputs) as saved:
                return {k: saved[k] for k in saved.files}
        except Exception:  # absent, truncated, not an npz: as if there were none
            return None

    def load_study(self) -> optuna.Study:
        """The study in this folder's journal, read only: nothing is created or written.

        Raises:
            SweepError: no journal, no study in it, or a journal that cannot be read.
        """
        if not self.has_journal():  # checked first: the journal backend would create the file
            raise SweepError(f"{self.path}: not a study folder (no test.json or {JOURNAL})")
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        try:
            storage = open_journal(self.journal)
            names = optuna.get_all_study_names(storage)
            # A study is stored under its spec's name; a renamed folder still holds one study.
            name = self.name if self.name in names or len(names) != 1 else names[0]
            return optuna.load_study(study_name=name, storage=storage)
        except KeyError as e:
            raise SweepError(f"{self.journal}: no study named {self.name!r} in it") from e
        except Exception as e:  # a damaged journal, a folder that cannot be read...
            raise SweepError(
                f"{self.journal}: cannot read the study ({type(e).__name__}: {e})"
            ) from e

    def best_trial_number(self) -> int:
        """The best trial: test.json's, else the journal's best complete trial.

        test.json comes first because it is the trial the study tested; the journal is the
        fallback for a study interrupted before its test.

        Raises:
            SweepError: the folder is not a study, or no trial of it completed.
        """
        trial = self.read_test().get("best", {})
        number = trial.get("trial") if isinstance(trial, dict) else None
        if isinstance(number, int):
            return number
        study = self.load_study()
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not complete:
            raise SweepError(f"{self.path}: no completed trial, so no model to predict with")
        pick = max if study.direction == optuna.study.StudyDirection.MAXIMIZE else min
        return pick(complete, key=lambda t: t.value).number


def open_journal(path: Path) -> optuna.storages.JournalStorage:
    """Optuna's journal storage on the file `path` (created if absent)."""
    backend = optuna.storages.journal.JournalFileBackend(str(path))
    return optuna.storages.JournalStorage(backend)


def tested_as(record: dict) -> str:
    """How a stored test result (test.json's "best" or "reference") was made: "ensemble",
    "refit" or "model" (sweep 0.1 wrote `refit: true/false`)."""
    return record.get("final") or ("refit" if record.get("refit") else "model")


# ----------------------------------------------------------------------------- finding a model


class NoSuchModel(SweepError):
    """Nothing by that name: no checkpoint file, study folder, or study in the results."""


@dataclass(frozen=True)
class ModelSource:
    """Where a model came from, for messages: the checkpoint, and its study and trial if any."""

    checkpoint: Path
    study: Path | None = None
    trial: int | None = None

    members: tuple[int, ...] = ()  # an ensemble of trials: their numbers

    def describe(self) -> str:
        if self.study is None:
            return str(self.checkpoint)
        if self.members:
            return (
                f"the ensemble of trials {', '.join(map(str, self.members))} of study {self.study}"
            )
        return f"trial {self.trial} of study {self.study}"


def find_model(given: str | Path, results: Path, ensemble: bool = True) -> ModelSource:
    """The model a checkpoint path, a study folder or a study name under `results` stands
    for. A study gives its ensemble of trials where its test scored one (`final:
    ensemble_selection`, unless `ensemble` is False: transfer wants one trial's backbone),
    else its best trial (see `StudyFolder.best_trial_number`), as its test scored it
    (`TrialFolder.tested_model`).

    Raises:
        NoSuchModel: nothing by that name.
        SweepError: a study without a completed trial, or whose best trial has no model.
    """
    given = Path(given)
    if given.is_file():
        return ModelSource(given)
    if given.is_dir():
        folder = StudyFolder(given)
    elif given.suffix != ".pt" and (Path(results) / given).is_dir():
        folder = StudyFolder(Path(results) / given)
    elif given.suffix == ".pt":
        raise NoSuchModel(f"{given}: checkpoint not found")
    else:
        raise NoSuchModel(
            f"{given}: no checkpoint file, study folder or study named {str(given)!r} in {results}/"
        )
    tested = folder.read_test().get("ensemble")
    if ensemble and isinstance(tested, dict) and folder.ensemble.is_file():
        members = tuple(int(m["trial"]) for m in tested.get("members", []))
        return ModelSource(folder.ensemble, folder.path, None, members)
    number = folder.best_trial_number()
    checkpoint = folder.trial(number).tested_model()
    if not checkpoint.is_file():
        raise SweepError(
            f"{folder.path}: the best trial ({number}) has no checkpoint at {checkpoint}"
        )
    return ModelSource(checkpoint, folder.path, number)
