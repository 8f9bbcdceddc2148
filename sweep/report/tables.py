"""The report's tables: its lines written as CSV, and formatted as document tables.

    write_csv(main_lines(records), out / "main_table.csv")
    table = main_table(main_lines(records))     # the same lines, for reading

The CSV files hold the numbers as they are; the document tables the same numbers for
reading (three decimals, a spanning "no study yet", the reference row's cells once).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sweep.report.document import Cell, Table, cell_parts
from sweep.report.formatting import (
    delta_cell,
    format_duration,
    format_number,
    format_value,
    short_names,
    trial_numbers,
)
from sweep.report.numbers import COUNT_KEYS
from sweep.report.records import StudyRecord
from sweep.results import tested_as

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


def write_csv(lines: Sequence[dict[str, Any]], path: Path) -> None:
    """Write lines as CSV; counts and trial numbers stay integers where a line has none
    (pandas would otherwise turn the whole column into floats: 3.0 trials)."""
    frame = pd.DataFrame(lines)
    for column in INTEGER_COLUMNS:
        if column in frame and frame[column].dtype != object:
            frame[column] = frame[column].astype("Int64")
    frame.to_csv(path, index=False)


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
        best_test = format_number(line["best_test"])
        if line.get("best_test_details"):
            best_test += "\n" + line["best_test_details"].replace("; ", "\n")
        if line.get("ensemble_test") is not None:
            best_test += f"\nensemble of trials {line['ensemble_test']:.3f}"
        ref_test = format_number(line["reference_test"])
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
                _delta_cell(line),
                format_number(line["baseline_test"]),
                f"{line['complete']} / {line['pruned']} / {line['failed']}{running}",
                format_duration(line["trial_wall_seconds"]),
            ]
        )
        classes.append(group_class + (" combined" if line["status"] == "combined" else ""))
    return Table(
        MAIN_COLUMNS, rows, numeric={4, 6, 7, 8, 9, 10, 12}, row_classes=classes, stacked=True
    )


HEADLINE_COLUMNS = [
    "Study",
    "Test split",
    "Best trial",
    "Ensemble of trials",
    "Reference configuration",
    "Baseline",
    "Verdict",
]


def headline_table(lines: Sequence[dict[str, Any]]) -> Table:
    """One row per study: its results and the baseline on one test split, the highest in
    bold, and a verdict that flags a baseline the search did not beat."""
    rows: list[list[Cell]] = []
    for line in lines:
        cells: list[Cell] = [line["study"]]
        if line["test_n"] is None:
            rows.append([*cells, line["status"]])  # the last cell spans the rest
            continue
        cells.append(f"{line['test_n']} tracks\n{line['test_metric']}")
        for label in ("best trial", "ensemble of trials", "reference configuration", "baseline"):
            value = line[label]
            text = format_number(value)
            cells.append(f"**{text}**" if label in line["highest"] and value is not None else text)
        cells.append(_verdict(line))
        rows.append(cells)
    return Table(HEADLINE_COLUMNS, rows, numeric={2, 3, 4, 5}, stacked=True)


def _verdict(line: dict[str, Any]) -> Cell:
    margin = line["margin_over_baseline"]
    if margin is None:
        return "no baseline to compare with (see the study's notes)"
    margin = round(margin, 9)  # 0.7 - 0.6875 is 0.0125, not 0.01249...
    tracks = ""
    if line["test_metric"] == "accuracy" and line["test_n"]:
        n = round(abs(margin) * line["test_n"])
        tracks = f" ({n} of {line['test_n']} tracks)"
    result = line["result"]  # the study's own result, as its spec's final chose it
    interval, noise = line.get("margin_interval"), ""
    if interval is not None:
        low, high = interval
        noise = f"; 95% paired bootstrap interval {low:+.3f} to {high:+.3f}"
        if margin > 0 and low <= 0:
            return (  # plain, neither flagged nor praised
                f"the {result} beats the baseline by {margin:.3f}{tracks}{noise}: within "
                "the noise of this test split"
            )
    if margin > 0:
        return (f"the {result} beats the baseline by {margin:.3f}{tracks}{noise}", "pos")
    if margin == 0:
        return (
            f"the {result} ties the baseline{noise}: nothing the clip statistics did not say",
            "neg",
        )
    if interval is not None and interval[1] >= 0:  # a loss inside the noise: still no win
        return (
            f"the baseline beats the {result} by {-margin:.3f}{tracks}{noise}: within the "
            "noise of this test split, and nothing shown that the clip statistics did not say",
            "neg",
        )
    return (
        f"the baseline beats the {result} by {-margin:.3f}{tracks}{noise}: nothing learnt "
        "that the clip statistics did not say",
        "neg",
    )


def _delta_cell(line: dict[str, Any]) -> Cell:
    """Best minus reference; flagged where the baseline scored above the best trial, lest a
    gain over the reference read as a win."""
    cell = delta_cell(line["delta_test"])
    best, baseline = line.get("best_test"), line.get("baseline_test")
    if best is None or baseline is None or baseline <= best:
        return cell
    return (f"{cell_parts(cell)[0]}\nbaseline above best by {baseline - best:.3f}", "neg")


def baseline_table(lines: Sequence[dict[str, Any]]) -> Table:
    """The baselines for reading: one row per data set, features and split."""
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
    return Table(columns, rows, stacked=True)


TESTED_AS = {  # search.selection.final, as the test table says it
    "ensemble": "\n(mean of its fold models)",
    "refit": "\n(refitted on train+validation)",
}


def scores_table(record: StudyRecord) -> Table:
    """The test split's scores of the best trial, the reference configuration and the
    baseline, as the study tested them."""
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
        row: list[Cell] = [label, f"#{entry['trial']}", format_number(entry["validation"])]
        row += _test_cells(entry, classification)
        rows.append(row)
    ensemble = record.test.get("ensemble")
    if ensemble:
        members = " ".join(f"#{m['trial']}" for m in ensemble["members"])
        rows.append(
            [
                "Ensemble of trials\n(greedy selection; validation: held-out predictions)",
                members,
                format_number(ensemble["validation"]),
                *_test_cells(ensemble, classification),
            ]
        )
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
    return Table(columns, rows, numeric=set(range(2, len(columns))), stacked=True)


def _test_cells(entry: dict[str, Any], classification: bool) -> list[Cell]:
    if classification:
        return [format_number(entry.get(k)) for k in ("accuracy", "macro_f1", "weighted_f1")]
    cells: list[Cell] = [format_number(entry.get("spearman"))]
    for scores in entry.get("per_target", {}).values():
        cells.append(f"{scores['spearman']:.3f} / {scores['pearson']:.3f} / {scores['mse']:.4f}")
    return cells


def ensemble_table(record: StudyRecord) -> Table | None:
    """The members of the study's ensemble of trials: weight, backbone, each one's own
    validation and test scores (the ensemble's are in `scores_table`)."""
    ensemble = record.test.get("ensemble")
    if not ensemble:
        return None
    classification = record.task == "classification"
    columns = ["Trial", "Weight", "Backbone", f"Validation {record.metric}"]
    columns += ["Test accuracy", "Test macro-F1"] if classification else ["Test mean Spearman"]
    rows: list[list[Cell]] = []
    for m in ensemble["members"]:
        tests = ("accuracy", "macro_f1") if classification else ("spearman",)
        rows.append(
            [
                f"#{m['trial']}",
                format_number(m["weight"], 2),
                m.get("backbone", "–"),
                format_number(m.get("validation")),
                *(format_number(m.get(k)) for k in tests),
            ]
        )
    return Table(columns, rows, numeric=set(range(1, len(columns))) - {2})


def per_class_table(best: dict[str, Any]) -> Table | None:
    """Precision, recall and F1 per class of a tested classifier; None for a regressor."""
    per_class = best.get("per_class")
    if not per_class or not best.get("classes"):
        return None
    rows: list[list[Cell]] = []
    for name in best["classes"]:
        s = per_class.get(name, {})
        rows.append(
            [
                name,
                format_number(s.get("precision")),
                format_number(s.get("recall")),
                format_number(s.get("f1-score")),
                format_number(s.get("support"), 0),
            ]
        )
    return Table(["Class", "Precision", "Recall", "F1", "Test tracks"], rows, numeric={1, 2, 3, 4})


def params_table(record: StudyRecord) -> Table | None:
    """The best trial's parameters beside the reference configuration's, changes marked."""
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
        rows.append([f"`{name}`", (format_value(b), "changed" if changed else ""), format_value(r)])
    return Table(["Parameter", "Best trial", "Reference configuration"], rows)


def top_trials_table(record: StudyRecord, trials: list[dict]) -> Table | None:
    """The ten best complete trials, the reference always among them."""
    complete = [t for t in trials if t["state"] == "COMPLETE" and t["value"] is not None]
    if not complete:
        return None
    sign = -1 if record.direction == "maximize" else 1
    ranked = sorted(complete, key=lambda t: (sign * t["value"], t["number"]))
    shown = ranked[:10] + [t for t in ranked[10:] if t["reference"]]
    params = [k for k in dict.fromkeys(k for t in shown for k in t if k.startswith("params."))]
    short = short_names([p.removeprefix("params.") for p in params])
    columns = ["Rank", "Trial", record.metric, "Epochs", "Wall\u00a0s"]  # never "Wall" over "s"
    columns += [short[p.removeprefix("params.")] for p in params]
    rows: list[list[Cell]] = []
    for t in shown:
        rank = ranked.index(t) + 1
        trial = f"#{t['number']}" + (" (reference)" if t["reference"] else "")
        row: list[Cell] = [
            str(rank),
            trial,
            format_number(t["value"], 4),
            str(t["epochs"] or "–"),
            format_number(t["wall_seconds"], 0),
        ]
        row += [_param_cell(t.get(p)) for p in params]
        rows.append(row)
    table = Table(columns, rows, numeric={0, 2, 3, 4})
    table.row_classes = ["ref" if t["reference"] else "" for t in shown]
    return table


def _param_cell(value: Any) -> Cell:
    """A parameter's value in a trials table; a number is kept on one line, lest a narrow
    column break 2.086e-05 at its minus sign."""
    if value is None:
        return "–"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (format_value(value), "nowrap")
    return format_value(value)


def unfinished_table(trials: Sequence[dict[str, Any]]) -> Table | None:
    """Failed and pruned trials counted by state and reason (the trials' `reason`), the
    most frequent first, with their numbers; None where every trial completed. Failed
    trials come first: they are the ones a reader must see."""
    groups: dict[tuple[str, str], list[int]] = {}
    for t in trials:
        if t["state"] in ("FAIL", "PRUNED"):
            reason = t.get("reason") or "no reason recorded"
            groups.setdefault((t["state"], reason), []).append(t["number"])
    if not groups:
        return None
    order = sorted(groups.items(), key=lambda kv: (kv[0][0] != "FAIL", -len(kv[1]), kv[0][1]))
    rows: list[list[Cell]] = []
    for (state, reason), numbers in order:
        rows.append([state.lower(), reason, str(len(numbers)), trial_numbers(numbers)])
    return Table(["State", "Reason", "Trials", "Numbers"], rows, numeric={2})
