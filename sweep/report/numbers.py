"""The report's numbers, computed from study records: the lines of its tables.

A line is a plain dict, one per row of a table, holding numbers rather than text: the same
lines are written as CSV (`main_table.csv`, `baselines.csv`) and formatted into the
document's tables (`sweep.report.tables`), so that the two always agree.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna

from sweep.metrics import validation_scores
from sweep.references import reference_table
from sweep.report.baseline import interval_over
from sweep.report.records import StudyRecord
from sweep.results import StudyFolder

COUNT_KEYS = ("complete", "pruned", "failed", "running")  # a line's trial counts


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


def _study_columns(record: StudyRecord, row: dict[str, Any] | None) -> dict[str, Any]:
    d = record.raw.get("data", {})
    counts = record.counts
    best, reference = record.test.get("best"), record.test.get("reference")
    what, best_test, best_details = headline(best, row)
    _, ref_test, ref_details = headline(reference, row)
    _, base_test, base_details = headline(record.baseline.test if record.baseline else None, row)
    _, ensemble_test, _ = headline(record.test.get("ensemble"), row)
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
        "ensemble_test": ensemble_test,  # the ensemble of trials (final: ensemble_selection)
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


def param_importances(record: StudyRecord) -> tuple[dict[str, float] | None, str]:
    """fANOVA importances over the complete trials (seed 0), or None and why not."""
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


HEADLINE_CONTENDERS = (  # (key of _study_columns, label), the search's own results first
    ("best_test", "best trial"),
    ("ensemble_test", "ensemble of trials"),
    ("reference_test", "reference configuration"),
    ("baseline_test", "baseline"),
)


def headline_lines(records: Sequence[StudyRecord]) -> list[dict[str, Any]]:
    """Per study, what a reader wants first: the test score of its best trial, its ensemble
    of trials, its reference configuration and the pooled-features baseline, on the same
    split; which is highest (every test metric here is better higher); and the margin over
    the baseline of the study's result: its ensemble of trials where the spec's `final`
    made one, else its best trial (chosen before the test, never the higher of the two
    after it)."""
    lines = []
    for record in records:
        columns = _study_columns(record, None)
        scores = {label: columns[key] for key, label in HEADLINE_CONTENDERS}
        known = {k: v for k, v in scores.items() if v is not None}
        top = max(known.values()) if known else None
        result = "ensemble of trials" if scores["ensemble of trials"] is not None else "best trial"
        baseline = scores["baseline"]
        lines.append(
            {
                "study": record.name,
                "status": columns["status"],
                "test_metric": columns["test_metric"],
                "test_n": columns["test_n"],
                **{label: value for label, value in scores.items()},
                "highest": [k for k, v in known.items() if v == top],
                "result": result,
                "margin_over_baseline": (
                    scores[result] - baseline
                    if scores[result] is not None and baseline is not None
                    else None
                ),
                "margin_interval": (
                    margin_interval(record, "ensemble" if result != "best trial" else "best")
                    if baseline is not None and scores[result] is not None
                    else None
                ),
                "complete": columns["complete"],
            }
        )
    return lines


def margin_interval(record: StudyRecord, role: str) -> tuple[float, float] | None:
    """The 95% paired bootstrap interval of the study's `role` ("best", "ensemble") minus
    the baseline, over the test tracks both were scored on (`paired_interval`); None where
    the study kept no test outputs (tested before they were kept), the split differs, or
    the outputs kept do not give test.json's score (not the model the table shows)."""
    saved = StudyFolder(record.folder).read_test_outputs()
    if record.baseline is None or saved is None or role not in saved:
        return None
    metric = "accuracy" if record.task == "classification" else "spearman"
    scored = validation_scores(record.task, saved[role], saved["targets"])[metric]
    shown = record.test.get(role, {}).get(metric)
    if shown is None or abs(scored - shown) > 1e-6:
        return None
    return interval_over(record.baseline, saved, role, record.task, metric)
