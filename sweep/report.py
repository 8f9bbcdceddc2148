"""`sweep report`: every study beside the lab report's reference table, with a baseline.

    outcome = write_report(Path("results"))           # every study under results/
    outcome = write_report(Path("results"), ["demo"], out=Path("report"))

Writes into `out` (default `<results>/report`):
    REPORT.md           the report in Markdown; images are the PNGs beside it
    report.html         the same report in one self-contained file (images as data: URIs)
    main_table.csv      one line per reference model of the table and study naming it
    baselines.csv       the practitioner's baseline per data set, features and split
    studies/<study>/    trials.csv and the study's figures (history, importances, learning
                        curves, confusion matrix or predicted-vs-true)

The report only reads a study's folder (`optuna.journal`, `spec.yaml`, `split.json`,
`test.json`, `trials/`); it never writes into it. The baseline and the regression scatter
rebuild the study's exact split from `split.json`; where the data cannot be found the report
is still written, with a note saying what is missing.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import yaml

from sweep import __version__, report_plots
from sweep.baseline import (
    BaselineResult,
    checkpoint_outputs,
    locate_root,
    run_baseline,
    study_split_spec,
)
from sweep.errors import SweepError
from sweep.metrics import spearman
from sweep.references import reference_table
from sweep.report_plots import (
    Block,
    Bullets,
    Cell,
    Heading,
    Image,
    Para,
    Table,
    anchor,
    to_html,
    to_markdown,
)
from sweep.results import JOURNAL, tested_as
from sweep.spec import DataSpec, Spec
from sweep.storage import open_storage, redact, study_names

MAIN_HEADING = "Reference models and studies"
BASELINE_HEADING = "Practitioner's baseline"
STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")
REPORT_DATA = (
    "The **lab report's numbers** are test numbers on the lab's Kaggle data: genre rows on "
    "its official 575-track test set, emotion and transfer rows on a held-out part of the "
    "multitask training set (the multitask test labels are hidden). **This run's numbers** "
    "are on the data each study used (column *Data (this run)*), scored on that study's own "
    "test split. They are comparable with the report's only where that data is the Kaggle "
    "data; on any data, compare the best trial with the *reference configuration re-run "
    "here* (same data, same split)."
)


# ----------------------------------------------------------------------------- studies


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
        return [t for t in self.study.get_trials(deepcopy=False) if not t.user_attrs.get("surplus")]

    @property
    def counts(self) -> dict[str, int]:
        states = [t.state.name for t in self.trials]
        return {s: states.count(s) for s in STATES}

    @property
    def wall_seconds(self) -> float:
        """Wall-clock seconds of every trial, summed (each trial records its own)."""
        return float(sum(t.user_attrs.get("wall_seconds", 0.0) for t in self.trials))

    @property
    def task(self) -> str:
        kind = self.raw.get("task", {}).get("kind", "classification")
        return "classification" if kind == "classification" else "regression"

    @property
    def metric(self) -> str:
        if self.study is not None and "metric" in self.study.user_attrs:
            return str(self.study.user_attrs["metric"])
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
        tagged = [t for t in self.trials if t.user_attrs.get("reference")]
        complete = [t for t in tagged if t.state.name == "COMPLETE"]
        return (complete or tagged or [None])[0]

    @property
    def references(self) -> list[str]:
        return list(self.raw.get("reference") or [])


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
        available = sorted(p.name for p in results.iterdir() if (p / JOURNAL).is_file())
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
    study = None
    source = f"`{JOURNAL}`" if storage is None else "the storage"
    try:
        if storage is None:
            backend = open_storage(None, folder) if (folder / JOURNAL).is_file() else None
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
        if (folder / "spec.yaml").is_file():
            raw = yaml.safe_load((folder / "spec.yaml").read_text()) or {}
        elif study is not None and "spec" in study.user_attrs:  # run on another machine
            raw = dict(study.user_attrs["spec"])
        else:
            raise FileNotFoundError
        spec = Spec.model_validate(raw)
    except FileNotFoundError:
        notes.append("no `spec.yaml`: data, model and reference row unknown")
    except Exception as e:  # a spec of an older sweep: shown from the raw YAML
        notes.append(f"`spec.yaml` does not validate with this sweep ({str(e).splitlines()[0]})")
    record = StudyRecord(
        name=folder.name,
        folder=folder,
        raw=raw,
        spec=spec,
        study=study,
        test=_read_json(folder / "test.json", notes)
        or (dict(study.user_attrs.get("test", {})) if study is not None else {}),
        environment=_read_json(folder / "environment.json", notes),
        split=_read_json(folder / "split.json", notes),
        notes=notes,
    )
    best = record.best_trial
    tested = record.test.get("best", {}).get("trial")
    if best is not None and tested is None:
        notes.append("no test result yet: run the spec again to test the best trial")
    elif best is not None and tested != best.number:
        notes.append(
            f"test.json tests trial {tested}, but the best complete trial is now "
            f"{best.number}: run the spec again to test it"
        )
    return record


# ----------------------------------------------------------------------------- data


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
                "the test split rebuilt from the data differs from split.json: the data "
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
        record.notes.append("no baseline: the data part of `spec.yaml` is not readable")
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
        outputs = checkpoint_outputs(record.folder / "trials" / str(tested["trial"]), data)
    except Exception as e:  # a component no longer importable...: a note, not a crash
        record.notes.append(f"no predicted-vs-true plot: {e}")
        return
    true = data.test().targets
    record.predictions = (true, outputs)
    for k, name in enumerate(data.target_names):
        stored = tested.get("per_target", {}).get(name, {}).get("spearman")
        if stored is not None and abs(spearman(outputs[:, k], true[:, k]) - stored) > 1e-4:
            record.notes.append(
                f"the rebuilt predictions give another Spearman for {name} than test.json "
                f"({spearman(outputs[:, k], true[:, k]):.4f} vs {stored:.4f})"
            )


# ----------------------------------------------------------------------------- numbers


def _axes(row: dict[str, Any]) -> dict[str, float]:
    """The per-axis Spearman numbers of a reference row (emotion and transfer rows)."""
    skip = {"group", "model", "features", "beat", "accuracy", "macro_f1", "weighted_f1"}
    return {k: float(v) for k, v in row.items() if k not in skip and isinstance(v, int | float)}


def report_number(row: dict[str, Any]) -> tuple[str, float | None, str]:
    """(what, the number, details) of a reference row: accuracy for genre rows, the mean
    Spearman (and each axis) for emotion rows, the single axis for transfer rows."""
    if "accuracy" in row:
        details = "; ".join(
            f"{label} {row[key]:.2f}"
            for key, label in (("macro_f1", "macro-F1"), ("weighted_f1", "weighted-F1"))
            if key in row
        )
        return "accuracy", float(row["accuracy"]), details
    axes = _axes(row)
    if len(axes) == 1:
        ((name, value),) = axes.items()
        return f"Spearman {name}", value, ""
    if not axes:
        return "?", None, ""
    details = "; ".join(f"{k} {v:.3f}" for k, v in axes.items())
    return "mean Spearman", float(np.mean(list(axes.values()))), details


def headline(entry: dict[str, Any] | None, row: dict[str, Any] | None) -> tuple[str, Any, str]:
    """(what, the number, details) of a test report, chosen to match the reference row:
    accuracy for classification; for regression the one axis a single-axis row names,
    else the mean Spearman over the study's targets (each target in the details)."""
    if not entry:
        return "", None, ""
    if "accuracy" in entry:
        return "accuracy", entry["accuracy"], f"macro-F1 {entry['macro_f1']:.3f}"
    per = {name: v["spearman"] for name, v in entry.get("per_target", {}).items()}
    axes = _axes(row) if row else {}
    if len(axes) == 1 and next(iter(axes)) in per and len(per) > 1:
        name = next(iter(axes))  # the row's one axis; the study's section shows the others
        return f"Spearman {name}", per[name], ""
    if len(per) == 1:
        return f"Spearman {next(iter(per))}", entry["spearman"], ""
    details = "; ".join(f"{k} {v:.3f}" for k, v in per.items())
    return f"mean Spearman ({len(per)} targets)", entry["spearman"], details


def main_lines(records: Sequence[StudyRecord]) -> list[dict[str, Any]]:
    """One line per reference row and study naming it (every row, with or without a
    study), then one per study that names no known row: the main table, as numbers."""
    table = reference_table()
    lines = []
    for name, row in table.items():
        what, number, details = report_number(row)
        base = {
            "group": row["group"],
            "reference_model": name,
            "reference_model_config": (
                f"{row.get('model', '?')}, {row.get('features', '?')}, "
                f"{'beat' if row.get('beat') else 'full'}"
            ),
            "report_metric": what,
            "report_value": number,
            "report_details": details,
            **{f"report_{k}": row[k] for k in ("accuracy", "macro_f1", "weighted_f1") if k in row},
            **{f"report_{k}": v for k, v in _axes(row).items()},
        }
        studies = [r for r in records if name in r.references]
        if not studies:
            lines.append({**base, "study": "", "status": "no study yet"})
        study_lines = [{**base, **_study_columns(record, row)} for record in studies]
        lines += study_lines
        if len(_axes(row)) > 1:  # the report's emotion rows: one regressor per axis
            lines += [{**base, **c} for c in _combined_per_target(studies, study_lines)]
    for record in records:
        if not any(r in table for r in record.references):
            lines.append(
                {
                    "group": "other",
                    "reference_model": ", ".join(record.references) or "",
                    "report_details": "no row of the reference table",
                    **_study_columns(record, None),
                }
            )
    return lines


def _combined_per_target(
    records: Sequence[StudyRecord], lines: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A mean line for single-target studies of one spec (`task.per_target` names them
    <study>_<target>): the lab report's emotion number is the mean of one regressor per
    axis, so the comparable number here is the mean of those studies' Spearmans."""
    families: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for record, line in zip(records, lines, strict=True):
        targets = record.raw.get("task", {}).get("targets") or []
        if record.task != "regression" or len(targets) != 1:
            continue
        family = record.name.removesuffix(f"_{targets[0]}")
        families.setdefault(family, []).append((targets[0], line))
    combined = []
    for family, members in families.items():
        targets = [t for t, _ in members]
        if len(members) < 2 or len(set(targets)) != len(targets):
            continue
        group = [line for _, line in members]

        def mean(key: str, group: list[dict[str, Any]] = group) -> float | None:
            values = [line.get(key) for line in group]
            return None if any(v is None for v in values) else float(np.mean(values))

        best, ref = mean("best_test"), mean("reference_test")
        first = group[0]
        combined.append(
            {
                "study": f"{family}: mean of {len(members)} per-target studies",
                "status": "combined",
                "dataset": first["dataset"],
                "targets": ", ".join(targets),
                "features": first["features"],
                "beat": first["beat"],
                "data_root": first["data_root"],
                "task": "regression",
                "test_n": first["test_n"],
                "test_metric": f"mean Spearman ({len(members)} studies)",
                "reference_test": ref,
                "reference_test_details": "",
                "validation_metric": first["validation_metric"],
                "best_validation": mean("best_validation"),
                "best_test": best,
                "best_test_details": "; ".join(
                    f"{t} {line['best_test']:.3f}"
                    for t, line in members
                    if line.get("best_test") is not None
                ),
                "delta_test": best - ref if best is not None and ref is not None else None,
                "baseline_test": mean("baseline_test"),
                **{k: sum(line[k] for line in group) for k in COUNT_KEYS},
                "trial_wall_seconds": sum(line["trial_wall_seconds"] for line in group),
            }
        )
    return combined


COUNT_KEYS = ("complete", "pruned", "failed", "running")


def _study_columns(record: StudyRecord, row: dict[str, Any] | None) -> dict[str, Any]:
    d = record.raw.get("data", {})
    counts = record.counts
    best, reference = record.test.get("best"), record.test.get("reference")
    what, best_test, best_details = headline(best, row)
    _, ref_test, ref_details = headline(reference, row)
    _, base_test, base_details = headline(record.baseline.test if record.baseline else None, row)
    best_trial = record.best_trial
    status = "ok"
    if record.study is None:
        status = "study unreadable"
    elif best_trial is None:
        status = "no trial completed"
    elif not best:
        status = "not tested yet"
    columns = {
        "study": record.name,
        "status": status,
        "dataset": d.get("dataset"),
        "targets": ", ".join(record.raw.get("task", {}).get("targets") or []),
        "features": d.get("features"),
        "beat": d.get("beat"),
        "data_root": str(d.get("root")),
        "task": record.task,
        "test_n": (best or {}).get("n"),
        "test_metric": what,
        "reference_trial": (reference or {}).get("trial"),
        "reference_test": ref_test,
        "reference_test_details": ref_details,
        # the tested trial's numbers together; before any test, the study's best trial
        "best_trial": (best or {}).get("trial", best_trial.number if best_trial else None),
        "validation_metric": record.metric,
        "best_validation": (best or {}).get(
            "validation", best_trial.value if best_trial is not None else None
        ),
        "best_test": best_test,
        "best_test_details": best_details,
        "delta_test": (
            best_test - ref_test if best_test is not None and ref_test is not None else None
        ),
        "baseline_test": base_test,
        "baseline_test_details": base_details,
        "complete": counts["COMPLETE"],
        "pruned": counts["PRUNED"],
        "failed": counts["FAIL"],
        "running": counts["RUNNING"],
        "trial_wall_seconds": record.wall_seconds,
    }
    for role, entry in (("reference", reference), ("best", best)):
        for name, scores in (entry or {}).get("per_target", {}).items():
            columns[f"{role}_test_spearman_{name}"] = scores["spearman"]
    return columns


def baseline_lines(records: Sequence[StudyRecord]) -> list[dict[str, Any]]:
    """One line per distinct baseline (data set, features, beat, task, targets, split)."""
    lines: dict[str, dict[str, Any]] = {}
    for record in records:
        b = record.baseline
        if b is None or record.baseline_key is None:
            continue
        if record.baseline_key in lines:
            lines[record.baseline_key]["studies"] += f", {record.name}"
            continue
        d = record.raw.get("data", {})
        line: dict[str, Any] = {
            "dataset": d.get("dataset"),
            "features": d.get("features"),
            "beat": d.get("beat"),
            "task": record.task,
            "targets": ", ".join(record.raw.get("task", {}).get("targets") or []),
            "studies": record.name,
            "data_root": record.data_root,
            "train": b.sizes.get("train"),
            "validation": b.sizes.get("validation"),
            "test": b.sizes.get("test"),
            "model": b.model,
            "chosen": ", ".join(f"{k}={v:g}" for k, v in b.chosen.items()),
            **{f"validation_{k.replace(' ', '_')}": v for k, v in b.validation.items()},
            "seconds": b.seconds,
        }
        if "accuracy" in b.test:
            line.update(
                test_accuracy=b.test["accuracy"],
                test_macro_f1=b.test["macro_f1"],
                test_weighted_f1=b.test["weighted_f1"],
            )
        else:
            line["test_spearman_mean"] = b.test["spearman"]
            for name, scores in b.test["per_target"].items():
                line[f"test_spearman_{name}"] = scores["spearman"]
        lines[record.baseline_key] = line
    return list(lines.values())


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
                "reference": bool(t.user_attrs.get("reference", False)),
                "epochs": t.user_attrs.get("epochs", len(t.intermediate_values) or None),
                "best_epoch": t.user_attrs.get("best_epoch"),
                "wall_seconds": t.user_attrs.get("wall_seconds"),
                "reason": t.user_attrs.get("reason", ""),
                **{f"params.{k}": v for k, v in t.params.items()},
            }
        )
    return lines


def _last_reported(t: optuna.trial.FrozenTrial) -> float | None:
    if not t.intermediate_values:
        return None
    return float(t.intermediate_values[max(t.intermediate_values)])


# ----------------------------------------------------------------------------- formatting


def _num(x: Any, digits: int = 3, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, bool) or not isinstance(x, int | float | np.floating | np.integer):
        return str(x)
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def _duration(seconds: float | None) -> str:
    if not seconds:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _value(v: Any) -> str:
    """A parameter value as a reader wants it: floats to 4 significant digits."""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def short_names(names: Sequence[str]) -> dict[str, str]:
    """The shortest dotted suffix that still tells parameters apart:
    model.backbone_params.hidden_size -> hidden_size, training.lr -> lr."""
    short = {}
    for name in names:
        parts = name.split(".")
        short[name] = name
        for k in range(1, len(parts) + 1):
            candidate = ".".join(parts[-k:])
            if not any(
                other != name and (other == candidate or other.endswith("." + candidate))
                for other in names
            ):
                short[name] = candidate
                break
    return short


# ----------------------------------------------------------------------------- sections


def _delta_cell(delta: float | None) -> Cell:
    if delta is None:
        return "–"
    return (_num(delta, signed=True), "pos" if delta > 0 else "neg" if delta < 0 else "")


MAIN_COLUMNS = [
    "Reference model",
    "Lab report (Kaggle data)",
    "Study",
    "Data (this run)",
    "Test n",
    "Metric",
    "Reference config (test)",
    "Best trial (validation)",
    "Best trial (test)",
    "Δ test",
    "Baseline (test)",
    "Trials c / p / f",
    "Trial wall time",
]


def _report_cell(line: dict[str, Any]) -> str:
    """The reference row's number, its details one per line (narrow, not wide)."""
    if line.get("report_value") is None:
        return line.get("report_details") or ""
    text = f"{line['report_metric']} {line['report_value']:.3f}"
    if line.get("report_details"):
        text += "\n" + line["report_details"].replace("; ", "\n")
    return text


def main_table(lines: Sequence[dict[str, Any]]) -> Table:
    """The main table for reading: one line per reference row and study, the row's cells
    only on its first line; a row without a study is one spanning "no study yet"."""
    rows: list[list[Cell]] = []
    classes = []
    previous = None
    for line in lines:
        first = line["reference_model"] != previous or line["group"] == "other"
        previous = line["reference_model"]
        model = line["reference_model"] or "(none)"
        if line.get("reference_model_config"):
            model += f"\n{line['reference_model_config']}"
        head: list[Cell] = [(model, "nowrap"), (_report_cell(line), "nowrap")]
        if not first:  # the reference row's cells once, on its first line
            head = ["", ""]
        group_class = f"group-{line['group']}" + (" first" if first else "")
        if line.get("status") == "no study yet":
            rows.append([*head, "no study yet"])  # the last cell spans the rest
            classes.append(f"absent {group_class}")
            continue
        targets = f" [{line['targets']}]" if line.get("targets") else ""
        beat = "beat" if line["beat"] else "full"
        data = f"{line['dataset']}{targets}\n{line['features']} · {beat}\n{line['data_root']}"
        best_val = "–"
        if line["best_validation"] is not None:
            trial = "" if line.get("best_trial") is None else f"#{line['best_trial']}: "
            best_val = f"{trial}{line['best_validation']:.3f}\n{line['validation_metric']}"
        best_test = _num(line["best_test"])
        if line.get("best_test_details"):
            best_test += "\n" + line["best_test_details"].replace("; ", "\n")
        ref_test = _num(line["reference_test"])
        if line.get("reference_trial") is not None:
            ref_test += f" (#{line['reference_trial']})"
        study = line["study"]
        if line["status"] not in ("ok", "combined"):
            study += f"\n({line['status']})"
        running = f"\n{line['running']} running or interrupted" if line["running"] else ""
        rows.append(
            [
                *head,
                study,
                data,
                "–" if line["test_n"] is None else str(line["test_n"]),
                line["test_metric"] or "–",
                ref_test,
                best_val,
                best_test,
                _delta_cell(line["delta_test"]),
                _num(line["baseline_test"]),
                f"{line['complete']} / {line['pruned']} / {line['failed']}{running}",
                _duration(line["trial_wall_seconds"]),
            ]
        )
        classes.append(group_class + (" combined" if line["status"] == "combined" else ""))
    return Table(MAIN_COLUMNS, rows, numeric={4, 6, 7, 8, 9, 10, 12}, row_classes=classes)


def baseline_table(lines: Sequence[dict[str, Any]]) -> Table:
    columns = [
        "Data set",
        "Features",
        "Task",
        "Studies (same split)",
        "Tracks train / val / test",
        "Model (chosen on validation)",
        "Validation",
        "Test",
    ]
    rows: list[list[Cell]] = []
    for line in lines:
        validation = "\n".join(
            f"{k.removeprefix('validation_').replace('_', ' ')} {v:.3f}"
            for k, v in line.items()
            if k.startswith("validation_") and v is not None
        )
        if "test_accuracy" in line:
            test = f"accuracy {line['test_accuracy']:.3f}\nmacro-F1 {line['test_macro_f1']:.3f}"
        else:
            per = [
                f"{k.removeprefix('test_spearman_')} {v:.3f}"
                for k, v in line.items()
                if k.startswith("test_spearman_") and k != "test_spearman_mean"
            ]
            test = f"mean Spearman {line['test_spearman_mean']:.3f}\n" + "\n".join(per)
        rows.append(
            [
                line["dataset"] + (f" [{line['targets']}]" if line["targets"] else ""),
                f"{line['features']} · {'beat' if line['beat'] else 'full'}",
                line["task"],
                line["studies"],
                f"{line['train']} / {line['validation']} / {line['test']}",
                f"{line['model']}\n{line['chosen'].replace(', ', chr(10))}",
                validation,
                test,
            ]
        )
    return Table(columns, rows)


def study_section(record: StudyRecord, out: Path, lines: Sequence[dict]) -> list[Block]:
    """A study's part of the report: facts, test comparison, figures, parameters."""
    folder = out / "studies" / record.name
    folder.mkdir(parents=True, exist_ok=True)
    blocks: list[Block] = [Heading(2, f"Study {record.name}")]
    description = str(record.raw.get("description") or "").strip()
    if description:
        blocks.append(Para(description))
    blocks.append(Bullets(_facts(record)))
    for note in record.notes:
        blocks.append(Para(f"Note: {note}", note=True))

    trials = trial_lines(record)
    _csv(trials, folder / "trials.csv")
    if record.test:
        blocks += [Heading(3, "Test split: best trial, reference configuration, baseline")]
        blocks.append(_test_table(record))
        per_class = _per_class_table(record.test.get("best", {}))
        if per_class is not None:
            blocks += [Para("Per class, best trial:"), per_class]
    blocks += _figures(record, folder, out)
    params = _params_table(record)
    if params is not None:
        blocks += [Heading(3, "Best parameters"), params]
    top = _top_trials(record, trials)
    if top is not None:
        counts = record.counts
        blocks += [
            Heading(3, "Trials"),
            Para(
                f"The best complete trials by validation {record.metric} (at most ten, the "
                f"reference configuration always shown). Not shown: {counts['PRUNED']} "
                f"pruned, {counts['FAIL']} failed."
            ),
            top,
        ]
    blocks.append(
        Para(f"All trials: `studies/{record.name}/trials.csv`; study folder: `{record.folder}`.")
    )
    return blocks


def _facts(record: StudyRecord) -> list[str]:
    raw = record.raw
    d, m, s = raw.get("data", {}), raw.get("model", {}), raw.get("search", {})
    counts = record.counts
    facts = []
    table = reference_table()
    for name in record.references:
        row = table.get(name)
        if row is None:
            facts.append(f"Compared with: `{name}` (not a row of the reference table)")
            continue
        what, number, _ = report_number(row)
        facts.append(
            f"Compared with: `{name}` of the lab report ({what} {number:.3f} on the Kaggle data)"
        )
    split = record.split
    sizes = ""
    if split:
        # split.json's test_fraction is null where the data set has its own test set
        origin = "official" if split.get("test_fraction") is None else "carved from train"
        sizes = (
            f"; split {len(split.get('train', []))} train / "
            f"{len(split.get('validation', []))} validation / {len(split.get('test', []))} "
            f"test tracks (test set {origin})"
        )
    targets = raw.get("task", {}).get("targets")
    facts.append(
        f"Data: `{d.get('dataset')}`"
        + (f" targets {', '.join(targets)}" if targets else "")
        + f", features `{d.get('features')}`, "
        f"{'beat-synchronised' if d.get('beat') else 'full resolution'}, data.root "
        f"`{d.get('root')}`" + sizes
    )
    if m:
        facts.append(
            f"Model: `{m.get('backbone')}` backbone, "
            f"`{record.spec.head if record.spec else m.get('head')}` head"
            + (f", backbone from `{m['init_from']}`" if m.get("init_from") else "")
            + "; "
            f"search: {s.get('sampler', {}).get('name', '?')} sampler, "
            f"{s.get('pruner', {}).get('name', '?')} pruner, validation {record.metric} "
            f"({record.direction})"
        )
    env = record.environment
    machine = ""
    if env:
        packages = env.get("packages", {})
        machine = (
            f"; ran with {env.get('cpus', '?')} CPU threads, "
            f"{'CUDA' if env.get('cuda') else 'no CUDA'}, torch {packages.get('torch', '?')}, "
            f"optuna {packages.get('optuna', '?')}"
            + (f", git {str(env['git_revision'])[:10]}" if env.get("git_revision") else "")
        )
    facts.append(
        f"Trials: {len(record.trials)} ({counts['COMPLETE']} complete, {counts['PRUNED']} "
        f"pruned, {counts['FAIL']} failed"
        + (f", {counts['RUNNING']} running or interrupted" if counts["RUNNING"] else "")
        + f"); trial wall time {_duration(record.wall_seconds)} summed over trials{machine}"
    )
    return facts


TESTED_AS = {  # search.selection.final, as the test table says it
    "ensemble": "\n(mean of its fold models)",
    "refit": "\n(refitted on train+validation)",
}


def _test_table(record: StudyRecord) -> Table:
    entries = [
        ("Reference configuration", record.test.get("reference")),
        ("Best trial", record.test.get("best")),
    ]
    base = record.baseline
    columns = ["", "Trial", f"Validation {record.metric}"]
    classification = record.task == "classification"
    if classification:
        columns += ["Test accuracy", "Test macro-F1", "Test weighted-F1"]
    else:
        names = list(
            (record.test.get("best") or record.test.get("reference") or {}).get("per_target", {})
        )
        columns += ["Test mean Spearman"]
        columns += [f"{n}: Spearman / Pearson / MSE" for n in names]
    rows: list[list[Cell]] = []
    for label, entry in entries:
        if not entry:
            rows.append([label, "–", "did not complete", *["–"] * (len(columns) - 3)])
            continue
        label += TESTED_AS.get(tested_as(entry), "")
        row: list[Cell] = [label, f"#{entry['trial']}", _num(entry["validation"])]
        row += _test_cells(entry, classification)
        rows.append(row)
    if base is not None:
        val = "\n".join(f"{k} {v:.3f}" for k, v in base.validation.items())
        chosen = "\n".join(f"{k}={v:g}" for k, v in base.chosen.items())
        rows.append(
            [
                f"Baseline: {base.model}\n{chosen}",
                "–",
                val,
                *_test_cells(base.test, classification),
            ]
        )
    return Table(columns, rows, numeric=set(range(2, len(columns))))


def _test_cells(entry: dict[str, Any], classification: bool) -> list[Cell]:
    if classification:
        return [_num(entry.get(k)) for k in ("accuracy", "macro_f1", "weighted_f1")]
    cells: list[Cell] = [_num(entry.get("spearman"))]
    for scores in entry.get("per_target", {}).values():
        cells.append(f"{scores['spearman']:.3f} / {scores['pearson']:.3f} / {scores['mse']:.4f}")
    return cells


def _per_class_table(best: dict[str, Any]) -> Table | None:
    per_class = best.get("per_class")
    if not per_class or not best.get("classes"):
        return None
    rows: list[list[Cell]] = []
    for name in best["classes"]:
        s = per_class.get(name, {})
        rows.append(
            [
                name,
                _num(s.get("precision")),
                _num(s.get("recall")),
                _num(s.get("f1-score")),
                _num(s.get("support"), 0),
            ]
        )
    return Table(["Class", "Precision", "Recall", "F1", "Test tracks"], rows, numeric={1, 2, 3, 4})


def _figures(record: StudyRecord, folder: Path, out: Path) -> list[Block]:
    blocks: list[Block] = []

    def image(path: Path, alt: str) -> Image:
        return Image(path, path.relative_to(out).as_posix(), alt)

    trials = record.trials
    points = []
    for t in trials:
        value = t.value if t.state.name == "COMPLETE" else _last_reported(t)
        if value is not None and t.state.name in ("COMPLETE", "PRUNED"):
            points.append(
                {
                    "number": t.number,
                    "state": t.state.name,
                    "value": value,
                    "reference": bool(t.user_attrs.get("reference")),
                }
            )
    blocks.append(Heading(3, "Optimisation history"))
    if points:
        path = report_plots.history_plot(
            points, record.metric, record.direction, folder / "history.png"
        )
        blocks.append(
            Para(
                f"Validation {record.metric} per trial; pruned trials at the last value they "
                f"reported; the red star is the reference configuration (trial "
                f"{record.reference_trial.number if record.reference_trial else '?'})."
            )
        )
        blocks.append(image(path, f"optimisation history of {record.name}"))
    else:
        blocks.append(Para("No trial has reported a value yet.", note=True))

    blocks.append(Heading(3, "Parameter importances"))
    importances, why = _importances(record)
    if importances:
        path = report_plots.importance_plot(importances, folder / "importances.png")
        blocks.append(
            Para("fANOVA importances over the complete trials (optuna.importance, seed 0).")
        )
        blocks.append(image(path, f"parameter importances of {record.name}"))
    else:
        blocks.append(Para(f"Skipped: {why}.", note=True))

    best = record.test.get("best", {}).get("trial")
    if best is None and record.best_trial is not None:
        best = record.best_trial.number
    if best is not None:
        curves = _curves(record, best)
        ref = record.reference_trial
        ref_curves = _curves(record, ref.number) if ref is not None and ref.number != best else None
        blocks.append(Heading(3, f"Learning curves: best trial #{best}"))
        if curves:
            trial = next((t for t in trials if t.number == best), None)
            best_epoch = trial.user_attrs.get("best_epoch") if trial is not None else None
            path = report_plots.curves_plot(
                curves, record.metric, folder / "curves.png", best_epoch, ref_curves
            )
            blocks.append(
                Para(
                    "Per epoch, from the trial's `curves.json`"
                    + ("; dashed red: the reference configuration." if ref_curves else ".")
                )
            )
            blocks.append(image(path, f"learning curves of trial {best}"))
        else:
            blocks.append(Para(f"No `curves.json` for trial {best}.", note=True))

    tested = record.test.get("best", {})
    if tested.get("confusion_matrix"):
        blocks.append(Heading(3, f"Confusion matrix: best trial #{tested['trial']}, test split"))
        path = report_plots.confusion_plot(
            tested["confusion_matrix"], tested["classes"], folder / "confusion.png"
        )
        blocks.append(image(path, f"confusion matrix of trial {tested['trial']}"))
    elif record.task == "regression" and tested:
        blocks.append(Heading(3, f"Predicted vs true: best trial #{tested['trial']}, test split"))
        if record.predictions is not None:
            true, predicted = record.predictions
            names = list(tested.get("per_target", {}))
            path = report_plots.scatter_plot(
                true, predicted, names, tested.get("per_target", {}), folder / "scatter.png"
            )
            blocks.append(image(path, f"predicted against true values of trial {tested['trial']}"))
        else:
            blocks.append(
                Para("Skipped: the test split could not be rebuilt (see the notes).", note=True)
            )
    return blocks


def _importances(record: StudyRecord) -> tuple[dict[str, float] | None, str]:
    complete = [t for t in record.trials if t.state.name == "COMPLETE"]
    if len(complete) < 2:
        return None, f"{len(complete)} complete trial(s); importances need at least 2"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
            values = optuna.importance.get_param_importances(record.study, evaluator=evaluator)
    except Exception as e:  # too few distinct values, a single parameter...: say why
        return None, f"optuna could not compute them ({type(e).__name__}: {e})"
    if not values:
        return None, "no parameter varies across the complete trials"
    return {k: float(v) for k, v in values.items()}, ""


def _curves(record: StudyRecord, number: int) -> list[dict] | None:
    path = record.folder / "trials" / str(number) / "curves.json"
    try:
        curves = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if curves and "fold" in curves[0]:  # cross-validated: one fold's curves, not k overlaid
        curves = [c for c in curves if c["fold"] == 0]
    return curves or None


def _params_table(record: StudyRecord) -> Table | None:
    best = record.test.get("best") or {}
    ref = record.test.get("reference") or {}
    best_params = best.get("params")
    if best_params is None and record.best_trial is not None:
        best_params = record.best_trial.params
    if not best_params:
        return None
    ref_params = ref.get("params")
    if ref_params is None and record.reference_trial is not None:
        ref_params = record.reference_trial.params
    ref_params = ref_params or {}
    rows: list[list[Cell]] = []
    for name in dict.fromkeys([*best_params, *ref_params]):
        b, r = best_params.get(name, "–"), ref_params.get(name, "–")
        changed = name in best_params and name in ref_params and b != r
        rows.append([f"`{name}`", (_value(b), "changed" if changed else ""), _value(r)])
    return Table(["Parameter", "Best trial", "Reference configuration"], rows)


def _top_trials(record: StudyRecord, trials: list[dict]) -> Table | None:
    """The ten best complete trials, the reference always among them."""
    complete = [t for t in trials if t["state"] == "COMPLETE" and t["value"] is not None]
    if not complete:
        return None
    sign = -1 if record.direction == "maximize" else 1
    ranked = sorted(complete, key=lambda t: (sign * t["value"], t["number"]))
    shown = ranked[:10] + [t for t in ranked[10:] if t["reference"]]
    params = [k for k in dict.fromkeys(k for t in shown for k in t if k.startswith("params."))]
    short = short_names([p.removeprefix("params.") for p in params])
    columns = ["Rank", "Trial", record.metric, "Epochs", "Wall s"]
    columns += [short[p.removeprefix("params.")] for p in params]
    rows: list[list[Cell]] = []
    for t in shown:
        rank = ranked.index(t) + 1
        trial = f"#{t['number']}" + (" (reference)" if t["reference"] else "")
        row: list[Cell] = [
            str(rank),
            trial,
            _num(t["value"], 4),
            str(t["epochs"] or "–"),
            _num(t["wall_seconds"], 0),
        ]
        row += [_value(t[p]) if p in t and t[p] is not None else "–" for p in params]
        rows.append(row)
    table = Table(columns, rows, numeric={0, 2, 3, 4})
    table.row_classes = ["ref" if t["reference"] else "" for t in shown]
    return table


# ----------------------------------------------------------------------------- the report


INTEGER_COLUMNS = (
    "test_n",
    "reference_trial",
    "best_trial",
    *COUNT_KEYS,
    "train",
    "validation",
    "test",
    "number",
    "epochs",
    "best_epoch",
)


def _csv(lines: Sequence[dict[str, Any]], path: Path) -> None:
    """Write lines as CSV; counts and trial numbers stay integers where a line has none
    (pandas would otherwise turn the whole column into floats: 3.0 trials)."""
    frame = pd.DataFrame(lines)
    for column in INTEGER_COLUMNS:
        if column in frame and frame[column].dtype != object:
            frame[column] = frame[column].astype("Int64")
    frame.to_csv(path, index=False)


@dataclass
class ReportOutcome:
    out: Path
    files: list[Path]
    studies: list[str]
    notes: dict[str, list[str]]  # study -> notes


def write_report(
    results: Path,
    studies: Sequence[str] | None = None,
    out: Path | None = None,
    data_root: Path | None = None,
    baseline: bool = True,
    storage: str | None = None,
) -> ReportOutcome:
    """Write REPORT.md, report.html, the CSVs and the PNGs for some or all studies.

    Args:
        results: the folder of study results (`sweep run --results`).
        studies: study folder names; default every folder with an `optuna.journal`.
        out: where to write; default `<results>/report`.
        data_root: where the studies' data is, when their data.root (relative to where
            they ran) is not found from here.
        baseline: fit the practitioner's baseline (needs the data).
        storage: the database URL the studies ran on (`sweep run --storage`), instead of
            the journal files in `results`.

    Raises:
        SweepError: no results folder, no study, or an unknown study name.
    """
    results = Path(results)
    folders = find_studies(results, studies, storage)
    out = Path(out) if out is not None else results / "report"
    if (out / JOURNAL).is_file():  # a study named "report", or --out pointing at a study
        raise SweepError(f"{out} is a study folder; the report never writes into one: --out DIR")
    out.mkdir(parents=True, exist_ok=True)
    records = [load_study_record(f, storage) for f in folders]
    attach_data(records, results, data_root, baseline)

    lines = main_lines(records)
    bases = baseline_lines(records)
    files = [out / "main_table.csv", out / "baselines.csv"]
    _csv(lines, files[0])
    _csv(bases, files[1])

    blocks: list[Block] = [
        Heading(1, "Sweep report"),
        Para(
            f"{len(records)} stud{'y' if len(records) == 1 else 'ies'} from `{results}`: "
            + ", ".join(f"`{r.name}`" for r in records)
            + f". Written {datetime.now():%Y-%m-%d %H:%M} by sweep {__version__}."
        ),
        Para(
            "Contents: "
            + " · ".join(
                f"[{title}](#{anchor(title)})"
                for title in [MAIN_HEADING, BASELINE_HEADING] + [f"Study {r.name}" for r in records]
            )
        ),
        Heading(2, MAIN_HEADING),
        Para(REPORT_DATA, note=True),
        Para(
            "One line per model of the lab report's reference table and study whose spec "
            "names it under `reference:` (all the table's models, with a study or not). "
            "*Lab report*: accuracy for genre, Spearman for emotion (mean and per axis) and "
            "transfer. *Test n*: tracks in this run's test split. *Reference config*: the "
            "spec's own configuration (trial #0 of the study), trained and tested here. "
            "*Best trial*: chosen on the validation split, or on the mean of its "
            "cross-validation folds where the spec has folds (its value and metric), tested "
            "once, as the spec's `search.selection.final` says (the reference the same way). "
            "*Δ test*: best trial minus reference config, on this run's test split. "
            "*Baseline*: pooled mean/std features and a linear model on the same split "
            "(below). *Trials c / p / f*: complete / pruned / failed. *Trial wall time*: "
            "wall-clock seconds of the trials, summed (not CPU time). Single-target studies "
            "of one spec (`task.per_target`) get a mean line, the number the report's "
            "emotion mean compares with. Numbers as in `main_table.csv`."
        ),
        main_table(lines),
        Heading(2, BASELINE_HEADING),
        Para(
            "Each track pooled to the mean and standard deviation of every feature row over "
            "its valid frames; standardised; LogisticRegression (C from "
            "0.001-10, chosen on validation accuracy) for genre, one Ridge per target "
            "(alpha from 0.1-1000, chosen on validation Spearman) for emotion. Trained on "
            "the study's training split, refitted on train+validation with the chosen value, "
            "tested on its test split: the same tracks as the study's models. Numbers as in "
            "`baselines.csv`."
        ),
    ]
    if bases:
        blocks.append(baseline_table(bases))
    else:
        blocks.append(
            Para("No baseline: no study's data could be found (see the study notes).", note=True)
        )
    for record in records:
        blocks += study_section(record, out, lines)

    markdown = to_markdown(blocks)
    (out / "REPORT.md").write_text(markdown)
    (out / "report.html").write_text(to_html(blocks, f"Sweep report: {results}"))
    files += [out / "REPORT.md", out / "report.html"]
    files += sorted((out / "studies").rglob("*.*"))
    return ReportOutcome(
        out, files, [r.name for r in records], {r.name: r.notes for r in records if r.notes}
    )
