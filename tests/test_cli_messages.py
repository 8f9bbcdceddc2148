"""What the command line says, to the line: help at 80 columns, errors, the extract summary."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import typer

from sweep.cli import app
from sweep.lab.audio_features import SR


def sweep(*args) -> subprocess.CompletedProcess:
    """The command line as a user runs it, in an 80-column terminal."""
    return subprocess.run(
        [sys.executable, "-m", "sweep", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
        timeout=300,
    )


def one_error_line(out: subprocess.CompletedProcess) -> str:
    """The single line a user error prints; fails unless it is one line, exit code 2."""
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


def command_paths() -> list[list[str]]:
    """Every group and command of `sweep`, as the words that name it ([] is `sweep`)."""
    paths = []

    def walk(command, path):
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


# ------------------------------------------------------------------------------------- help


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "sweep")
def test_help_names_what_options_take_and_fits_80_columns(path):
    out = sweep(*path, "-h")
    assert out.returncode == 0, out.stderr
    assert out.stdout == sweep(*path, "--help").stdout  # -h is --help
    # No Python type beside an option or argument (`--force <bool>`, `--set <list[str]>`).
    assert re.search(r"<\w[^>]*>", out.stdout) is None, out.stdout
    lines = out.stdout.splitlines()
    assert max(map(len, lines)) <= 80, out.stdout
    commands = lines[lines.index("Commands:") + 1 :] if "Commands:" in lines else []
    assert not [line for line in commands if line.endswith("...")], out.stdout  # cut short


@pytest.mark.parametrize(
    "path, fragment",
    [
        (
            ["run"],
            "Arguments:\n"
            "  SPEC  The spec (YAML).  [required]\n"
            "\n"
            "Options:\n"
            "  --trials N          Trials for the whole study.  [x>=1]\n"
            "  --timeout SECONDS   Time for this run.  [x>=1]\n"
            "  --data-root FOLDER  Override the spec's data.root.\n",
        ),
        (
            ["run"],
            "  --skip-bad          Skip bad tracks (data.skip_bad) and say which.\n"
            "  --set FIELD=VALUE   Override a spec field, e.g. --set training.lr=3e-4\n"
            "                      (repeatable).\n"
            "  --code FILE         Import a Python file of your own components first\n"
            "                      (repeatable).\n"
            "  -h, --help          Show this message and exit.\n",
        ),
        (  # a paragraph of the docstring is rewrapped, not broken where the source breaks
            ["run"],
            "  Runs the spec's study, or continues it where its results already are, then\n"
            "  tests the best and the reference trial. Another `sweep run` of the same spec\n"
            "  with the same --storage (on this machine or another) joins the study: the\n"
            "  trial budget is the whole study's.\n",
        ),
        (["validate"], "Arguments:\n  SPEC...  Spec files (YAML).  [required]\n"),
        (
            ["report"],
            "Arguments:\n  STUDY...  Study folder names under --results (default: every study "
            "there).\n",
        ),
        (["predict"], "  --skip-bad        Skip unreadable files and count them.\n"),
        (
            ["data", "summary"],
            "  --dataset NAME      A data set to load (repeatable; default: every one\n",
        ),
        (
            ["data", "extract"],
            "  --test-fraction FRACTION  Genre test share in [0, 1), where labels have no\n",
        ),
        (["data", "cache"], "Options:\n  --clear     Delete every cache entry.\n"),
        (
            [],
            "Commands:\n"
            "  run         Run or resume a study; test the best and the reference trial.\n"
            "  validate    Check specs without training: schema, components, the space.\n",
        ),
    ],
)
def test_help_fragment(path, fragment):
    assert fragment in sweep(*path, "--help").stdout


def test_a_group_without_a_command_prints_its_help_on_stdout():
    out = sweep("data")
    assert out.returncode == 2 and out.stderr == ""
    assert out.stdout.startswith("Usage: sweep data [OPTIONS] COMMAND [ARGS]...\n")


# ----------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "args, line",
    [
        (["run", "x.yaml", "--bogus"], "error: No such option: --bogus (see 'sweep run --help')"),
        (["run"], "error: Missing argument 'SPEC' (see 'sweep run --help')"),
        (
            ["run", "x.yaml", "--trials", "0"],
            "error: Invalid value for '--trials': Input should be greater than or equal to 1 "
            "(see 'sweep run --help')",
        ),
        (
            ["run", "x.yaml", "--set"],
            "error: Option '--set' requires an argument (see 'sweep run --help')",
        ),
        (
            ["run", "x.yaml", "--skip-bad=yes"],
            "error: Option '--skip-bad' does not take a value (see 'sweep run --help')",
        ),
        (["nocommand"], "error: No such command 'nocommand' (see 'sweep --help')"),
        (["data", "--bogus"], "error: No such option: --bogus (see 'sweep data --help')"),
        (
            ["check", "overfit", "x.yaml", "--steps", "-3"],
            "error: Invalid value for '--steps': Input should be greater than or equal to 1 "
            "(see 'sweep check overfit --help')",
        ),
        (
            ["data", "extract", "audio"],
            "error: Missing option '--labels' (see 'sweep data extract --help')",
        ),
        (
            ["data", "extract", "audio", "--labels", "l.tsv", "--out", "o", "--test-fraction", "1"],
            "error: Invalid value for '--test-fraction': must be at least 0 and below 1, got "
            "1.0 (see 'sweep data extract --help')",
        ),
        (
            ["data", "demo", "{tmp}/demo", "--workers", "0"],
            "error: Invalid value for '--workers': Input should be greater than or equal to 1 "
            "(see 'sweep data demo --help')",
        ),
        (
            ["data", "demo", "{tmp}/demo", "--seed", "-1"],
            "error: Invalid value for '--seed': Input should be greater than or equal to 0 "
            "(see 'sweep data demo --help')",
        ),
        (
            ["predict", "model.pt", "{tmp}", "--workers", "0"],
            "error: Invalid value for '--workers': Input should be greater than or equal to 1 "
            "(see 'sweep predict --help')",
        ),
    ],
)
def test_a_usage_error_is_one_line_naming_the_help(tmp_path, args, line):
    out = sweep(*[a.format(tmp=tmp_path) for a in args])
    assert one_error_line(out) == line
    assert out.stdout == ""
    assert not (tmp_path / "demo").exists()


def test_data_show_refuses_a_file_for_its_out_folder(tiny_root, tmp_path):
    taken = tmp_path / "taken.png"
    taken.write_bytes(b"")
    out = sweep("data", "show", tiny_root, "--out", taken)
    assert one_error_line(out) == f"error: --out {taken}: is a file, not a folder"
    assert taken.read_bytes() == b""


@pytest.mark.parametrize(
    "args, option",
    [
        (["data", "show", "{root}", "--out", "{out}"], "--out"),
        (["data", "demo", "{out}"], "OUT"),
        (["data", "extract", "{tmp}", "--labels", "{taken}", "--out", "{out}"], "--out"),
        (["run", "specs/demo.yaml", "--data-root", "{root}", "--results", "{out}"], "--results"),
        (["report", "--results", "{tmp}", "--out", "{out}"], "--out"),
    ],
)
def test_an_output_folder_under_a_file_is_one_line_before_any_work(
    tiny_root, tmp_path, args, option
):
    """A folder to write into whose path runs through a file (a typo, a file where a
    folder was meant) is refused before anything is read or written, not by a traceback
    from mkdir when the work is done."""
    taken = tmp_path / "taken"
    taken.write_text("kept")
    out = taken / "new"
    before = sorted(tmp_path.rglob("*"))
    command = [a.format(root=tiny_root, tmp=tmp_path, taken=taken, out=out) for a in args]
    line = one_error_line(sweep(*command))
    assert line == f"error: {option} {out}: {taken} is a file, so the folder cannot be made"
    assert taken.read_text() == "kept" and sorted(tmp_path.rglob("*")) == before


def test_validate_prefixes_every_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("study: x\n")
    out = sweep("validate", tmp_path / "nowhere.yaml", bad)
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.splitlines()
    assert lines[0] == f"error: {tmp_path / 'nowhere.yaml'}: spec file not found"
    assert lines[1] == f"error: {bad}:1:1 data: field required"
    assert len(lines) > 2 and all(line.startswith(f"error: {bad}:") for line in lines[1:])


@pytest.mark.parametrize(
    "args, line",
    [
        (["run", "{tmp}/x.yaml"], "error: {tmp}/x.yaml: spec file not found"),
        (["show", "{tmp}/x.yaml"], "error: {tmp}/x.yaml: spec file not found"),
        (
            ["report", "--results", "{tmp}"],
            "error: {tmp}: no study here; run `sweep run SPEC` with the same --results first",
        ),
        (
            ["predict", "{tmp}/model.pt", "{tmp}"],
            "error: {tmp}/model.pt: checkpoint not found",
        ),
        (["data", "summary", "{tmp}/nowhere"], "error: {tmp}/nowhere: data root not found"),
        (
            ["data", "extract", "{tmp}/audio", "--labels", "l.tsv", "--out", "{tmp}/o"],
            "error: {tmp}/audio: audio folder not found",
        ),
    ],
)
def test_a_sweep_error_is_one_line(tmp_path, args, line):
    out = sweep(*[a.format(tmp=tmp_path) for a in args])
    assert one_error_line(out) == line.format(tmp=tmp_path)


# ---------------------------------------------------------------------------------- extract


def write_clip(path: Path, seconds: float, pitch: float = 220.0) -> None:
    t = np.arange(int(seconds * SR)) / SR
    pulse = (np.sin(2 * np.pi * 2 * t) > 0).astype(float)  # on and off, twice a second
    sf.write(path, 0.3 * np.sin(2 * np.pi * pitch * t) * pulse, SR)


def test_extract_says_what_it_wrote_and_skipped_in_sentences_and_nothing_else(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    for name, pitch in [("r1.wav", 220.0), ("r2.flac", 246.9), ("j1.ogg", 261.6)]:
        write_clip(audio / name, 3.0, pitch)
    write_clip(audio / "short.wav", 1.0)  # librosa warns that chroma's FFT is too long for it
    sf.write(audio / "silent.wav", np.zeros(SR), SR)
    (audio / "tagged.mp3").write_bytes(b"ID3not audio" * 100)  # libmpg123 warns on its tag
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "file,genre,split\n"
        "r1,Rock,train\nr2,Rock,test\nj1,Jazz,train\nshort,Jazz,train\n"
        "tagged.mp3,Pop,train\nsilent,Pop,train\nghost,Pop,train\n"
    )
    out_dir = tmp_path / "out"
    out = sweep(
        "data", "extract", audio, "--labels", labels, "--out", out_dir, "--skip-bad",
        "--workers", "2",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # no decoder or librosa warnings
    lines = out.stdout.splitlines()
    assert re.fullmatch(
        r"Wrote 4 tracks in \d+\.\d s: 3 train, 1 test; genres Jazz 2, Rock 2\.", lines[0]
    ), lines[0]
    full, beat = out_dir / "fma_genre_spectrograms", out_dir / "fma_genre_spectrograms_beat"
    assert re.fullmatch(
        rf"Full arrays \(44-130 frames\) in {re.escape(str(full))}, beat-synchronised ones "
        rf"\(\d+(-\d+)? frames\) in {re.escape(str(beat))}\.",
        lines[1],
    ), lines[1]
    assert lines[2:4] == [
        "Skipped 3 files: 1 not found, 1 not decodable, 1 silent.",
        f"  {labels}:8: no audio file 'ghost' in {audio} (looked for .wav/.mp3/.ogg/.flac "
        "files by relative path, with or without extension, and by name)",
    ]
    # what soundfile says of the file depends on the libsndfile it was built with
    assert lines[4].startswith(
        f"  {audio / 'tagged.mp3'}: cannot decode audio (neither soundfile nor audioread reads "
        "it; soundfile: "
    ), lines[4]
    assert lines[5:] == [
        f"  {audio / 'silent.wav'}: cannot decode audio (silent: every sample is zero)"
    ]


def test_extract_summary_of_targets_and_of_one_track():
    from sweep.cli.data import _format_extract

    info = {
        "kind": "multitask",
        "folders": ["out/multitask_dataset", "out/multitask_dataset_beat"],
        "tracks": {"train": 1, "test": 0},
        "skipped": ["labels.csv:3: no audio file 'ghost' in audio (...)"],
        "n_skipped": 1,
        "skipped_problems": {"not found": 1},
        "frames_full": (130, 130),
        "frames_beat": (5, 5),
        "seconds": 1.26,
        "targets": ["valence", "energy"],
    }
    assert _format_extract(info).splitlines() == [
        "Wrote 1 track in 1.3 s: 1 train, 0 test; targets valence, energy.",
        "Full arrays (130 frames) in out/multitask_dataset, beat-synchronised ones (5 frames) "
        "in out/multitask_dataset_beat.",
        "Skipped 1 file: 1 not found.",
        "  labels.csv:3: no audio file 'ghost' in audio (...)",
    ]
