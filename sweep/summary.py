"""A readable summary of a data set as a sweep sees it (`sweep data summary`).

Which data sets a root holds is the lab's to say (`sweep.lab.folders`); this module
summarises one data spec, loaded by `prepare` as `sweep run` loads it: a spec's own
`resolved_data`, or one that `data_spec` makes for a data set found in a root.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Group
from rich.markup import escape
from rich.table import Table

from sweep.data import PreparedData, Split, prepare
from sweep.selection import n_folds
from sweep.spec import DataSpec, SelectionSpec


def data_spec(
    root: Path,
    dataset: str,
    beat: bool,
    features: str | None = None,
    skip_bad: bool = False,
    options: dict[str, Any] | None = None,
) -> DataSpec:
    """The data spec of one data set in a root, every other field the default of a spec's
    `data`; `features` None: the data set's own default feature set."""
    chosen = {} if features is None else {"features": features}
    return DataSpec(
        dataset=dataset, root=root, beat=beat, skip_bad=skip_bad, options=options or {}, **chosen
    )


def summarise(spec: DataSpec, selection: SelectionSpec | None = None) -> Group:
    """The data of `spec` as `prepare` loads it: a table of its splits (tracks, lengths,
    class counts or target means), then notes on the merge, the split and bad tracks.

    Args:
        spec: The data to load.
        selection: A study's `search.selection`, to say how its trials use train and
            validation (one split, or folds of both).
    """
    data = prepare(spec)
    warm_seconds = data.report.seconds
    splits = [data.train, data.validation, data.test()]
    options = "".join(f", {k}={json.dumps(v)}" for k, v in spec.options.items())
    title = (
        f"[bold]{escape(spec.dataset)}[/] ({'beat-synchronised' if spec.beat else 'full'}, "
        f"{escape(spec.features)}: {data.n_features} features{escape(options)})  "
        f"loaded in {warm_seconds:.2f} s, cache "
        f"{'hit' if data.report.cache_misses == 0 else 'built'}"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("split")
    table.add_column("tracks", justify="right")
    table.add_column("frames min / median / max", justify="right")
    if data.task == "classification":
        for name in data.class_names:
            table.add_column(name, justify="right")
    else:
        for name in data.target_names:
            table.add_column(f"{name} mean±sd", justify="right")
    for split in splits:
        table.add_row(split.name, str(len(split)), _lengths(split), *_targets(data, split))
    lines = [table]
    notes = []
    dropped = data.source.notes.get("dropped")
    if data.source.notes.get("merged"):
        counts = {k: sum(v.values()) for k, v in dropped.items()}
        detail = "; ".join(
            f"{part}: {', '.join(f'{g} {n}' for g, n in d.items())}"
            for part, d in dropped.items()
            if d
        )
        notes.append(
            f"20->10 class merge on; dropped {sum(counts.values())} tracks"
            + (f" ({detail})" if detail else "")
        )
    notes.append(_split_note(data))
    if selection is not None:
        notes.append(_trials_note(data, selection))
    if data.report.skipped:
        notes.append(
            f"skipped {len(data.report.skipped)} bad track(s): "
            + next(iter(data.report.skipped.values()))
        )
    lines.extend(notes)
    return Group(*lines, "")


def _split_note(data: PreparedData) -> str:
    spec = data.spec
    official = data.source.has_test_labels
    if spec.split_file is not None:
        recorded = escape(str(spec.split_file))
        if official:
            return f"train and validation as recorded in {recorded}; official test set"
        return f"train, validation and test as recorded in {recorded}"
    test = (
        "official test set"
        if official
        else f"test carved from train ({spec.test_fraction:g}, seed {spec.split_seed})"
    )
    return (
        f"validation {spec.val_fraction:g} of train, seed {spec.split_seed}, "
        f"{'stratified' if data.report.stratified else 'not stratified'}; {test}"
    )


def _trials_note(data: PreparedData, selection: SelectionSpec) -> str:
    """How `sweep run` uses train and validation: a trial's folds are not the table's
    validation split, so a summary of a study's data says which it is."""
    folds = n_folds(selection, data)
    how = (
        f"trains on {folds} folds of train+validation, "
        f"{len(data.train) + len(data.validation)} tracks"
        if folds > 1
        else "trains on train and is scored on validation"
    )
    return f"sweep run: each trial {how} (search.selection.folds: {selection.folds})"


def _lengths(split: Split) -> str:
    lengths = split.tracks.lengths
    return f"{lengths.min()} / {int(np.median(lengths))} / {lengths.max()}"


def _targets(data: PreparedData, split: Split) -> list[str]:
    if data.task == "classification":
        counts = np.bincount(split.targets, minlength=len(data.class_names))
        return [str(c) for c in counts]
    return [
        f"{m:.2f}±{s:.2f}" for m, s in zip(split.targets.mean(0), split.targets.std(0), strict=True)
    ]
