"""Reading study folders into plain records: the report's one reader of a study's files.

    folders = find_studies(Path("results"))          # every folder with a journal
    records = [load_study_record(f) for f in folders]

A record holds what a study's folder says (its spec, test result, split, environment and
Optuna study) and, later, what the report rebuilds for it (`sweep.report.study_data`). Every
problem reading a folder becomes a note on its record, never an exception: a damaged
journal or an old spec still leaves a report worth reading.

This is the only module of `sweep.report` that reads a study's files and its Optuna
attributes, and the only one that opens a storage. The names of both come from their owners:
the folder's from `sweep.results`, the attributes' from `sweep.trials`; the other modules ask
a record.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import yaml

from sweep import trials as trial_records
from sweep.errors import SweepError
from sweep.report.baseline import BaselineResult
from sweep.results import JOURNAL, SPEC, TEST, StudyFolder
from sweep.spec import Spec
from sweep.storage import open_storage, redact, study_names

STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")


@dataclass
class StudyRecord:
    """One study as read from its folder, plus what the report rebuilds for it."""

    name: str
    folder: Path
    raw: dict[str, Any]  # spec.yaml as written by sweep run
    spec: Spec | None  # None where spec.yaml no longer validates against this sweep
    study: optuna.Study | None
    test: dict[str, Any]
    environment: dict[str, Any]
    split: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    baseline: BaselineResult | None = None
    baseline_key: str | None = None
    data_root: str | None = None  # where the report found the data
    predictions: tuple[np.ndarray, np.ndarray] | None = None  # (true, predicted), best, test

    @cached_property
    def trials(self) -> list[optuna.trial.FrozenTrial]:
        # read once: study.trials deep-copies every trial on each access. Trials dropped
        # as over the budget before training (sweep.workers) are not shown.
        if self.study is None:
            return []
        return trial_records.shown(self.study.get_trials(deepcopy=False))

    @property
    def counts(self) -> dict[str, int]:
        states = [t.state.name for t in self.trials]
        return {s: states.count(s) for s in STATES}

    @property
    def wall_seconds(self) -> float:
        """Wall-clock seconds of every trial, summed (each trial records its own)."""
        return float(sum(t.user_attrs.get(trial_records.WALL_SECONDS, 0.0) for t in self.trials))

    @property
    def task(self) -> str:
        kind = self.raw.get("task", {}).get("kind", "classification")
        return "classification" if kind == "classification" else "regression"

    @property
    def metric(self) -> str:
        if self.study is not None and trial_records.METRIC in self.study.user_attrs:
            return str(self.study.user_attrs[trial_records.METRIC])
        if self.spec is not None:
            return self.spec.metric
        return "accuracy" if self.task == "classification" else "spearman"

    @property
    def direction(self) -> str:
        if self.study is not None:
            return self.study.direction.name.lower()
        return "minimize" if self.metric == "loss" else "maximize"

    @cached_property
    def best_trial(self) -> optuna.trial.FrozenTrial | None:
        """Optuna's best trial (the one `sweep run` tests), None before any completes."""
        if self.study is None or not any(t.state.name == "COMPLETE" for t in self.trials):
            return None
        return self.study.best_trial

    @property
    def reference_trial(self) -> optuna.trial.FrozenTrial | None:
        tagged = [t for t in self.trials if trial_records.is_reference(t)]
        complete = [t for t in tagged if t.state.name == "COMPLETE"]
        return (complete or tagged or [None])[0]

    @property
    def references(self) -> list[str]:
        return list(self.raw.get("reference") or [])

    def trial_folder(self, number: int) -> Path:
        """The folder of trial `number`: its checkpoints and its curves."""
        return StudyFolder(self.folder).trial(number).path


def is_study_folder(folder: Path) -> bool:
    """Whether `folder` holds a study (its journal), which the report never writes into."""
    return StudyFolder(Path(folder)).has_journal()


def split_file(study_folder: Path) -> Path | None:
    """The study's recorded split, None where it has none (a study stopped before its end)."""
    split = StudyFolder(Path(study_folder)).split
    return split if split.is_file() else None


def find_studies(
    results: Path, names: Sequence[str] | None = None, storage: str | None = None
) -> list[Path]:
    """The study folders to report: the named ones, or every folder with a journal (with a
    database `storage`: every study in it, each with its folder under `results` if any).

    Raises:
        SweepError: no results folder, no study in it, or an unknown study name (the
            message lists the available ones).
    """
    results = Path(results)
    if storage is not None:
        where = redact(storage)
        available = study_names(open_storage(storage, results))
    elif not results.is_dir():
        raise SweepError(f"{results}: no such results folder (sweep run --results writes one)")
    else:
        where = str(results)
        available = sorted(p.name for p in results.iterdir() if StudyFolder(p).has_journal())
    if not names:
        if not available:
            raise SweepError(
                f"{where}: no study here; run `sweep run SPEC` with the same "
                f"{'--storage' if storage else '--results'} first"
            )
        return [results / n for n in available]
    unknown = [n for n in names if n not in available]
    if unknown:
        raise SweepError(
            f"no study {unknown[0]!r} in {where}; available: {', '.join(available) or 'none'}"
        )
    return [results / n for n in dict.fromkeys(names)]


def _read_json(path: Path, notes: list[str]) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        notes.append(f"`{path.name}` could not be read ({type(e).__name__}: {e})")
        return {}


def load_study_record(folder: Path, storage: str | None = None) -> StudyRecord:
    """Read one study (its folder, and its journal or the database `storage`); every
    problem becomes a note, never an exception."""
    notes: list[str] = []
    files = StudyFolder(folder)
    study = None
    source = f"`{JOURNAL}`" if storage is None else "the storage"
    try:
        if storage is None:
            backend = open_storage(None, folder) if files.has_journal() else None
        else:
            backend = open_storage(storage, folder)
        names = study_names(backend) if backend is not None else []
        name = folder.name if folder.name in names else (names[0] if len(names) == 1 else None)
        if name is None:
            notes.append(f"{source} holds no study named {folder.name!r} (found: {names})")
        else:
            study = optuna.load_study(study_name=name, storage=backend)
    except Exception as e:  # a damaged journal: the rest of the report still helps
        notes.append(f"{source} could not be read ({type(e).__name__}: {e})")
    raw: dict[str, Any] = {}
    spec = None
    try:
        if files.spec.is_file():
            raw = yaml.safe_load(files.spec.read_text()) or {}
        elif study is not None and trial_records.SPEC in study.user_attrs:  # another machine
            raw = dict(study.user_attrs[trial_records.SPEC])
        else:
            raise FileNotFoundError
        spec = Spec.model_validate(raw)
    except FileNotFoundError:
        notes.append(f"no `{SPEC}`: data, model and reference row unknown")
    except Exception as e:  # a spec of an older sweep: shown from the raw YAML
        notes.append(f"`{SPEC}` does not validate with this sweep ({str(e).splitlines()[0]})")
    record = StudyRecord(
        name=folder.name,
        folder=folder,
        raw=raw,
        spec=spec,
        study=study,
        test=_read_json(files.test, notes)
        or (dict(study.user_attrs.get(trial_records.TEST, {})) if study is not None else {}),
        environment=_read_json(files.environment, notes),
        split=_read_json(files.split, notes),
        notes=notes,
    )
    best = record.best_trial
    tested = record.test.get("best", {}).get("trial")
    if best is not None and tested is None:
        notes.append("no test result yet: run the spec again to test the best trial")
    elif best is not None and tested != best.number:
        notes.append(
            f"{TEST} tests trial {tested}, but the best complete trial is now "
            f"{best.number}: run the spec again to test it"
        )
    return record


def trial_lines(record: StudyRecord) -> list[dict[str, Any]]:
    """Every trial of a study: state, value, epochs, wall seconds, reference flag, params."""
    lines = []
    for t in record.trials:
        lines.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "last_reported": _last_reported(t),
                "reference": trial_records.is_reference(t),
                "epochs": t.user_attrs.get(
                    trial_records.EPOCHS, len(t.intermediate_values) or None
                ),
                "best_epoch": t.user_attrs.get(trial_records.BEST_EPOCH),
                "wall_seconds": t.user_attrs.get(trial_records.WALL_SECONDS),
                "reason": t.user_attrs.get(trial_records.REASON, ""),
                **{f"params.{k}": v for k, v in t.params.items()},
            }
        )
    return lines


def _last_reported(t: optuna.trial.FrozenTrial) -> float | None:
    if not t.intermediate_values:
        return None
    return float(t.intermediate_values[max(t.intermediate_values)])


def trial_curves(record: StudyRecord, number: int) -> list[dict] | None:
    """A trial's per-epoch curves, None where it wrote none; of a cross-validated trial,
    its first fold's (see `curves_folds`)."""
    curves = StudyFolder(record.folder).trial(number).read_curves()
    if curves and "fold" in curves[0]:  # cross-validated: one fold's curves, not k overlaid
        curves = [c for c in curves if c["fold"] == 0]
    return curves or None


def curves_folds(record: StudyRecord, number: int) -> int:
    """How many folds a trial's curves span (1: one validation split)."""
    curves = StudyFolder(record.folder).trial(number).read_curves()
    return len({c["fold"] for c in curves if "fold" in c}) or 1


def curves_best_epoch(record: StudyRecord, number: int) -> int | None:
    """The best epoch of the curves `trial_curves` gives: of a cross-validated trial its
    first fold's, not the mean of its folds' that it records as its best epoch (the epochs
    a refit trains), which a line on the first fold's curves would misplace."""
    trial = next((t for t in record.trials if t.number == number), None)
    if trial is None:
        return None
    folds = trial.user_attrs.get(trial_records.FOLD_BEST_EPOCHS)
    if folds:
        return int(folds[0])
    best = trial.user_attrs.get(trial_records.BEST_EPOCH)
    return None if best is None else int(best)
