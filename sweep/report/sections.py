"""A study's section of the report: its facts, test scores, figures, parameters and trials.

    blocks = study_section(record, out, lines)    # writes studies/<study>/ under out

Building a section writes the study's files beside the report as it goes (`trials.csv` and
the figures' PNGs under `studies/<study>/`), so that its image blocks point at files that
exist.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sweep.references import reference_table
from sweep.report import figures
from sweep.report.document import Block, Bullets, Heading, Image, Para
from sweep.report.formatting import format_duration, trial_numbers
from sweep.report.numbers import param_importances, report_number
from sweep.report.records import (
    StudyRecord,
    curves_best_epoch,
    curves_folds,
    trial_curves,
    trial_lines,
)
from sweep.report.tables import (
    ensemble_table,
    params_table,
    per_class_table,
    scores_table,
    top_trials_table,
    unfinished_table,
    write_csv,
)
from sweep.results import CURVES

FEW_TRIALS_FOR_IMPORTANCES = 20


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
    write_csv(trials, folder / "trials.csv")
    if record.test:
        ensemble = ", ensemble of trials" if record.test.get("ensemble") else ""
        blocks += [
            Heading(3, f"Test split: best trial{ensemble}, reference configuration, baseline")
        ]
        blocks.append(scores_table(record))
        per_class = per_class_table(record.test.get("best", {}))
        if per_class is not None:
            blocks += [Para("Per class, best trial:"), per_class]
        members = ensemble_table(record)
        if members is not None:
            ensemble = record.test["ensemble"]
            candidates = ensemble["candidates"]
            blocks += [
                Para(
                    f"The ensemble of trials: greedy ensemble selection with replacement "
                    f"(Caruana et al. 2004) over {candidates} complete "
                    + ("trial's" if candidates == 1 else "trials'")
                    + f" predictions on the tracks they were validated on, {ensemble['rounds']} "
                    f"rounds{how_chosen(ensemble)}; each member's own scores:"
                ),
                members,
            ]
    blocks += _figure_blocks(record, trials, folder, out)
    params = params_table(record)
    if params is not None:
        blocks += [Heading(3, "Best parameters"), params]
    top = top_trials_table(record, trials)
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
    unfinished = unfinished_table(trials)
    if unfinished is not None:
        blocks += [
            Heading(3, "Trials that did not complete"),
            Para("Failed and pruned trials, counted by the reason each one recorded."),
            unfinished,
        ]
    blocks.append(
        Para(f"All trials: `studies/{record.name}/trials.csv`; study folder: `{record.folder}`.")
    )
    return blocks


def _facts(record: StudyRecord) -> list[str]:
    """What a reader needs first: the rows it is compared with, its data and split, its
    model and search, its trials and the machine they ran on."""
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
        # the recorded split's test_fraction is null where the data set has its own test set
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
        + f"); trial wall time {format_duration(record.wall_seconds)} summed over trials{machine}"
    )
    return facts


def _figure_blocks(
    record: StudyRecord, trials: Sequence[dict[str, Any]], folder: Path, out: Path
) -> list[Block]:
    """The study's figures, each under its heading with a caption (or why it is missing);
    `trials` are its `trial_lines`, the PNGs go into `folder`, under the report's `out`."""
    blocks: list[Block] = []

    def image(path: Path, alt: str) -> Image:
        return Image(path, path.relative_to(out).as_posix(), alt)

    points = []
    for t in trials:
        value = t["value"] if t["state"] == "COMPLETE" else t["last_reported"]
        if value is not None and t["state"] in ("COMPLETE", "PRUNED"):
            points.append(
                {
                    "number": t["number"],
                    "state": t["state"],
                    "value": value,
                    "reference": t["reference"],
                }
            )
    failed = [t["number"] for t in trials if t["state"] == "FAIL"]
    blocks.append(Heading(3, "Optimisation history"))
    if points:
        path = figures.history_plot(
            points, record.metric, record.direction, folder / "history.png", failed
        )
        blocks.append(
            Para(
                f"Validation {record.metric} per trial; pruned trials at the last value they "
                f"reported; the red star is the reference configuration (trial "
                f"{record.reference_trial.number if record.reference_trial else '?'})"
                + (
                    f"; failed trials ({trial_numbers(failed)}) have no value: triangles at "
                    "the foot"
                    if failed
                    else ""
                )
                + "."
            )
        )
        blocks.append(image(path, f"optimisation history of {record.name}"))
    else:
        blocks.append(Para("No trial has reported a value yet.", note=True))

    blocks.append(Heading(3, "Parameter importances"))
    importances, why = param_importances(record)
    if importances:
        path = figures.importance_plot(importances, folder / "importances.png")
        n = record.counts["COMPLETE"]
        blocks.append(
            Para(
                f"fANOVA importances over the {n} complete trials (optuna.importance, seed 0); "
                "parameters named as in the trials table."
            )
        )
        if n < FEW_TRIALS_FOR_IMPORTANCES:
            blocks.append(
                Para(
                    f"Caveat: {n} complete trials for {len(importances)} parameters; below "
                    f"{FEW_TRIALS_FOR_IMPORTANCES}, an importance says more about which trials "
                    f"were drawn than about the parameter.",
                    note=True,
                )
            )
        blocks.append(image(path, f"parameter importances of {record.name}"))
    else:
        blocks.append(Para(f"Skipped: {why}.", note=True))

    best = record.test.get("best", {}).get("trial")
    if best is None and record.best_trial is not None:
        best = record.best_trial.number
    if best is not None:
        curves = trial_curves(record, best)
        ref = record.reference_trial
        ref_curves = (
            trial_curves(record, ref.number) if ref is not None and ref.number != best else None
        )
        folds = curves_folds(record, best)
        which = f", fold 1 of {folds}" if folds > 1 else ""
        blocks.append(Heading(3, f"Learning curves: best trial #{best}{which}"))
        if curves:
            path = figures.curves_plot(
                curves,
                record.metric,
                folder / "curves.png",
                curves_best_epoch(record, best),
                ref_curves,
            )
            blocks.append(
                Para(
                    f"Per epoch, from the trial's `{CURVES}`"
                    + (f" (its first fold of {folds}; the others are in the file)" if which else "")
                    + ("; dashed red: the reference configuration" if ref_curves else "")
                    + (", its first fold." if ref_curves and which else ".")
                )
            )
            blocks.append(image(path, f"learning curves of trial {best}"))
        else:
            blocks.append(Para(f"No `{CURVES}` for trial {best}.", note=True))

    tested = record.test.get("best", {})
    if tested.get("confusion_matrix"):
        blocks.append(Heading(3, f"Confusion matrix: best trial #{tested['trial']}, test split"))
        path = figures.confusion_plot(
            tested["confusion_matrix"], tested["classes"], folder / "confusion.png"
        )
        blocks.append(image(path, f"confusion matrix of trial {tested['trial']}"))
    elif record.task == "regression" and tested:
        blocks.append(Heading(3, f"Predicted vs true: best trial #{tested['trial']}, test split"))
        if record.predictions is not None:
            true, predicted = record.predictions
            names = list(tested.get("per_target", {}))
            path = figures.scatter_plot(
                true, predicted, names, tested.get("per_target", {}), folder / "scatter.png"
            )
            blocks.append(image(path, f"predicted against true values of trial {tested['trial']}"))
        else:
            blocks.append(
                Para("Skipped: the test split could not be rebuilt (see the notes).", note=True)
            )
    return blocks


def how_chosen(ensemble: dict) -> str:
    """How the ensemble was bagged and its members tested, in words (an ensemble from before
    bagging has no bags)."""
    bags = ensemble.get("bags", 1)
    said = f" in each of {bags} bags of half the trials, their weights averaged" if bags > 1 else ""
    if ensemble.get("refit"):
        return said + "; each member tested as retrained on train+validation for its best epoch"
    tested = Counter(m.get("tested_as", "") for m in ensemble.get("members", []))  # older: ""
    if len(tested) == 1 and (how := next(iter(tested))).endswith(" fold models"):
        said += (
            f"; each member tested as the mean of its {how}, which together trained on every "
            f"train+validation track"
        )
    elif len(tested) > 1 and "" not in tested:
        said += "; members tested " + ", ".join(
            f"{n} as the mean of their {how}" if how.endswith("fold models") else f"{n} as {how}"
            for how, n in tested.items()
        )  # "2 as the mean of their 5 fold models, 1 as checkpoint"
    return said
