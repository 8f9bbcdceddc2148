"""The command line as a user meets it: exit codes, one-line errors, no tracebacks."""

import subprocess
import sys

import pytest

from sweep import __version__
from tests.conftest import HANG_GUARD_S


def sweep(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "sweep", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=HANG_GUARD_S,
    )


def test_version_and_help():
    assert sweep("--version").stdout.strip() == f"sweep {__version__}"
    out = sweep("--help")
    assert out.returncode == 0 and "data" in out.stdout and "components" in out.stdout


def test_summary_of_a_tiny_data_set(tiny_root):
    out = sweep("data", "summary", tiny_root)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for expected in (
        "fma_genre (beat-synchronised",
        "fma_genre (full",
        "multitask (beat",
        "multitask (full",
        "dropped 4 tracks (train: Soundtrack 4)",
        "official test set",
        "test carved from train",
    ):
        assert expected in text, expected
    assert "cache built" in text
    assert "cache hit" in sweep("data", "summary", tiny_root, "--beat").stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["data", "summary", "{root}/nowhere"], "nowhere: data root not found"),
        (
            ["data", "summary", "{root}", "--dataset", "fma_genr"],
            "Unknown dataset 'fma_genr'. Available: fma_genre, multitask. "
            "Did you mean 'fma_genre'?",
        ),
        (["data", "summary", "{root}", "--features", "mell"], "Did you mean 'mel'?"),
        (["data", "summary", "{root}/fma_genre_spectrograms"], "no data set folder"),
        (["components", "backbone"], "unknown component kind 'backbone'"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_traceback(tiny_root, args, message):
    out = sweep(*[a.format(root=tiny_root) for a in args])
    assert out.returncode == 2
    assert "Traceback" not in out.stderr + out.stdout
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], out.stderr


def test_a_corrupt_file_names_the_file_and_skip_bad_counts_it(tiny_root):
    from sweep.lab import layout

    folder = layout.dataset_dir(tiny_root, "genre", True)
    labels = layout.read_label_file(folder / "train_labels.txt", "\t")
    victim = layout.npy_path(folder / "train", labels.rows[0].track_id)
    victim.write_bytes(victim.read_bytes()[:200])  # truncated
    before = {p: p.read_bytes() for p in tiny_root.rglob("*") if p.is_file()}
    out = sweep("data", "summary", tiny_root, "--dataset", "fma_genre", "--beat")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"train_labels.txt:2: {victim}: not a readable .npy file" in out.stderr
    out = sweep("data", "summary", tiny_root, "--dataset", "fma_genre", "--beat", "--skip-bad")
    assert out.returncode == 0 and "skipped 1 bad track(s)" in out.stdout
    assert {p: p.read_bytes() for p in tiny_root.rglob("*") if p.is_file()} == before


def test_components_lists_docs_and_parameters():
    out = sweep("components", "datasets")
    assert out.returncode == 0
    assert "fma_genre" in out.stdout and "merge_classes: bool | str = 'auto'" in out.stdout


def test_cache_command_shows_and_clears(tiny_root, isolated_cache):
    sweep("data", "summary", tiny_root, "--beat")
    out = sweep("data", "cache")
    assert (
        str(isolated_cache) in out.stdout and "3 entries" in out.stdout
    )  # train+test beat genre, multitask train
    assert "MiB freed" in sweep("data", "cache", "--clear").stdout
    assert "0 entries" in sweep("data", "cache").stdout
