"""`sweep data summary --spec FILE`: the data `sweep run FILE` prepares, and `--option` for
a data root; both read through the same overrides and errors as `sweep run`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sweep.data import prepare
from sweep.lab import layout
from sweep.spec import DataSpec
from sweep.specfile import load_spec
from tests.conftest import HANG_GUARD_S, tiny_spec

DEMO_SPEC = Path(__file__).resolve().parents[1] / "specs" / "demo.yaml"
SPLITS = ("train", "validation", "test")


def sweep(*args, columns: int = 200) -> subprocess.CompletedProcess:
    """The command line, by default in a terminal wide enough that no table cell is cut."""
    return subprocess.run(
        [sys.executable, "-m", "sweep", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": str(columns)},
        timeout=HANG_GUARD_S,
    )


def table(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """A summary table's header and its rows by split name, as cells."""
    header: list[str] = []
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("┃"):
            header = [c.strip() for c in line.strip("┃").split("┃")]
        elif line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            rows[cells[0]] = cells[1:]
    return header, rows


def shown_counts(rows: dict[str, list[str]]) -> dict[str, list[int]]:
    """Tracks, then tracks per class, of each split (the frame lengths left out)."""
    return {name: [int(cells[0]), *map(int, cells[2:])] for name, cells in rows.items()}


def prepared_counts(data) -> dict[str, list[int]]:
    n_classes = len(data.class_names)
    return {
        split.name: [len(split), *np.bincount(split.targets, minlength=n_classes).tolist()]
        for split in (data.train, data.validation, data.test())
    }


def one_error_line(out: subprocess.CompletedProcess) -> str:
    """The one line a user error prints, exit code 2, with nothing on stdout before it."""
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


def test_a_spec_summary_shows_the_split_sweep_run_prepares(tiny_root):
    overrides = ["data.val_fraction=0.3", "data.split_seed=4"]
    out = sweep(
        "data", "summary", "--spec", DEMO_SPEC, "--data-root", tiny_root,
        *(arg for o in overrides for arg in ("--set", o)),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = prepare(load_spec(DEMO_SPEC, overrides, tiny_root).resolved_data)  # as run does
    header, rows = table(out.stdout)
    assert header == ["split", "tracks", "frames min / median / max", *data.class_names]
    assert list(rows) == list(SPLITS)
    assert shown_counts(rows) == prepared_counts(data)
    # the overrides were read: the spec's own split (0.2, seed 0) has other sizes
    default = prepare(load_spec(DEMO_SPEC, (), tiny_root).resolved_data)
    assert len(default.validation) != len(data.validation)
    lines = out.stdout.splitlines()
    assert lines[0] == f"{DEMO_SPEC} (study demo): the data `sweep run` trains on, in {tiny_root}"
    assert lines[1].startswith("fma_genre (beat-synchronised, fused: 140 features)  loaded in ")
    assert "validation 0.3 of train, seed 4, stratified; official test set" in lines
    assert (
        "sweep run: each trial trains on train and is scored on validation "
        "(search.selection.folds: 1)" in lines
    )


def test_a_spec_summary_says_when_trials_train_on_folds(tiny_root):
    out = sweep(
        "data", "summary", "--spec", DEMO_SPEC, "--data-root", tiny_root,
        "--set", "search.selection.folds=auto",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = prepare(load_spec(DEMO_SPEC, (), tiny_root).resolved_data)
    pool = len(data.train) + len(data.validation)
    assert (
        f"sweep run: each trial trains on 5 folds of train+validation, {pool} tracks "
        f"(search.selection.folds: auto)" in out.stdout.splitlines()
    )


@pytest.fixture
def unknown_genre(tiny_root) -> tuple[Path, str]:
    """The tiny root with one training track of a genre the lab's merge does not know,
    beside the lab's genres (so `merge_classes: auto` merges, and refuses it); the error."""
    labels = layout.dataset_dir(tiny_root, "genre", beat=True) / "train_labels.txt"
    rows = layout.read_label_file(labels, "\t").rows
    entries = [(row.track_id, row.values[0]) for row in rows]
    entries[0] = (entries[0][0], "blues")
    layout.write_genre_labels(labels, entries, style="beatsync")
    line = layout.read_label_file(labels, "\t").rows[0].line
    return tiny_root, (
        f"error: {labels}:{line}: genre 'blues' is neither merged nor dropped by the 20->10 "
        f"class merge (merge_classes: false keeps the genres as they are)"
    )


def test_set_merge_classes_false_reaches_the_data_set(unknown_genre, tmp_path):
    root, refused = unknown_genre
    tiny_spec(tmp_path, root)  # fma_genre, beat, chroma
    spec_path = tmp_path / "tiny.yaml"
    assert one_error_line(sweep("data", "summary", "--spec", spec_path)) == refused
    out = sweep("data", "summary", "--spec", spec_path, "--set", "data.options.merge_classes=false")
    assert out.returncode == 0, out.stderr
    header, rows = table(out.stdout)
    assert "blues" in header and "Soundtrack" in header  # the genres as they are: none dropped
    data = prepare(load_spec(spec_path, ["data.options.merge_classes=false"]).resolved_data)
    assert shown_counts(rows) == prepared_counts(data)
    assert "fma_genre (beat-synchronised, chroma: 12 features, merge_classes=false)" in out.stdout


def test_option_merge_classes_false_reaches_the_data_set_of_a_root(unknown_genre):
    root, refused = unknown_genre
    args = ("data", "summary", root, "--dataset", "fma_genre", "--beat")
    assert one_error_line(sweep(*args)) == refused
    out = sweep(*args, "--option", "merge_classes=false")
    assert out.returncode == 0, out.stderr
    assert "blues" in table(out.stdout)[0]
    assert "fma_genre (beat-synchronised, fused: 140 features, merge_classes=false)" in out.stdout


def test_the_root_form_is_unchanged_without_the_new_options(tiny_root):
    out = sweep("data", "summary", tiny_root, "--dataset", "fma_genre", "--beat")
    assert out.returncode == 0, out.stderr
    data = prepare(DataSpec(dataset="fma_genre", root=tiny_root, beat=True))  # the defaults
    assert shown_counts(table(out.stdout)[1]) == prepared_counts(data)
    assert out.stdout.startswith("fma_genre (beat-synchronised, fused: 140 features)  loaded")
    assert "sweep run:" not in out.stdout  # no study, so nothing said of its trials


@pytest.mark.parametrize(
    "args, line",
    [
        (
            ["--spec", DEMO_SPEC, "--data-root", "{root}", "--set", "data.optons.merge_classes=0"],
            "error: --set data.optons.merge_classes=0 data.optons: unknown field (allowed: "
            "dataset, root, features, beat, options, val_fraction, test_fraction, split_seed, "
            "split_file, normalization, max_length, crop_frames, eval_windows, skip_bad, cache)",
        ),
        (
            ["--spec", DEMO_SPEC, "--data-root", "{root}", "--set", "data.options.merge=false"],
            "error: --set data.options.merge=false data.options: got an unexpected keyword "
            "argument 'merge' (dataset 'fma_genre' takes: merge_classes)",
        ),
        (
            ["--spec", DEMO_SPEC, "--data-root", "{root}", "--set", "data.split_seed"],
            "error: --set data.split_seed: expected PATH=VALUE, e.g. training.lr=3e-4",
        ),
        (
            ["--spec", DEMO_SPEC, "--data-root", "{root}/nowhere"],
            "error: {root}/nowhere: data root not found",
        ),
        (["--spec", "{root}/nowhere.yaml"], "error: {root}/nowhere.yaml: spec file not found"),
        (
            ["{root}", "--option", "merge_classes"],
            "error: --option merge_classes: expected KEY=VALUE, e.g. merge_classes=false",
        ),
        (
            [],
            "error: Missing argument 'ROOT' (or give --spec FILE) "
            "(see 'sweep data summary --help')",
        ),
        (
            ["--spec", DEMO_SPEC, "{root}"],
            "error: ROOT with --spec FILE: give --data-root FOLDER instead "
            "(see 'sweep data summary --help')",
        ),
        (
            ["--spec", DEMO_SPEC, "--full"],
            "error: --beat/--full with --spec FILE: give --set data.beat=true|false instead "
            "(see 'sweep data summary --help')",
        ),
        (
            ["--spec", DEMO_SPEC, "--option", "merge_classes=false"],
            "error: --option with --spec FILE: give --set data.options.KEY=VALUE instead "
            "(see 'sweep data summary --help')",
        ),
        (
            ["{root}", "--set", "data.options.merge_classes=false"],
            "error: --set is for --spec FILE; with ROOT, --option KEY=VALUE sets a data set "
            "option (see 'sweep data summary --help')",
        ),
        (
            ["{root}", "--data-root", "{root}"],
            "error: --data-root is for --spec FILE; ROOT is the data root "
            "(see 'sweep data summary --help')",
        ),
    ],
)
def test_bad_input_is_one_error_line(tiny_root, args, line):
    out = sweep("data", "summary", *[str(a).format(root=tiny_root) for a in args])
    assert one_error_line(out) == line.format(root=tiny_root)


def test_an_option_a_data_set_of_the_root_does_not_take_is_refused_before_any_loads(tiny_root):
    line = one_error_line(sweep("data", "summary", tiny_root, "--option", "merge_classes=0"))
    assert line.startswith(
        "error: --option: got an unexpected keyword argument 'merge_classes' "
        "(data set 'multitask' takes (root: "
    )


def test_help_names_both_forms():
    out = sweep("data", "summary", "--help", columns=80)
    assert "Usage: sweep data summary [OPTIONS] [ROOT]\n" in out.stdout
    assert (
        "  --option KEY=VALUE  A data set option, as data.options in a spec, e.g.\n"
        "                      --option merge_classes=false (repeatable).\n"
        "  --spec FILE         Summarise the data this spec trains on (not ROOT).\n"
    ) in out.stdout
