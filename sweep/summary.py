"""A readable summary of a data set as a sweep sees it (`sweep data summary`).

Which data sets a root holds is the lab's to say (`sweep.lab.folders`); this module
summarises one data set at one resolution.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Group
from rich.table import Table

from sweep.data import PreparedData, Split, prepare
from sweep.spec import DataSpec


def summarise(root: Path, dataset: str, beat: bool, features: str | None, skip_bad: bool) -> Group:
    """One data set at one resolution, as `prepare` loads it; `features` None: the data
    set's own default feature set."""
    chosen = {} if features is None else {"features": features}
    spec = DataSpec(dataset=dataset, root=root, beat=beat, skip_bad=skip_bad, **chosen)
    features = spec.features
    data = prepare(spec)
    warm_seconds = data.report.seconds
    splits = [data.train, data.validation, data.test()]
    title = (
        f"[bold]{dataset}[/] ({'beat-synchronised' if beat else 'full'}, {features}: "
        f"{data.n_features} features)  loaded in {warm_seconds:.2f} s, cache "
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
    test_note = (
        "official test set"
        if data.source.has_test_labels
        else f"test carved from train ({spec.test_fraction:g}, seed {spec.split_seed})"
    )
    notes.append(
        f"validation {spec.val_fraction:g} of train, seed {spec.split_seed}, "
        f"{'stratified' if data.report.stratified else 'not stratified'}; {test_note}"
    )
    if data.report.skipped:
        notes.append(
            f"skipped {len(data.report.skipped)} bad track(s): "
            + next(iter(data.report.skipped.values()))
        )
    lines.extend(notes)
    return Group(*lines, "")


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
