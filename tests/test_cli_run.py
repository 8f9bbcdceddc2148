"""sweep run / validate / show / check overfit as a user runs them, --code plugins included."""

import json
import os

import yaml

from tests.conftest import HANG_GUARD_S, wait_for
from tests.test_cli import sweep

TINY_GRU = '''
import torch
from torch import nn

from sweep.registry import backbones


class TinyGRU(nn.Module):
    def __init__(self, n_features: int, hidden_size: int) -> None:
        super().__init__()
        self.gru = nn.GRU(n_features, hidden_size, batch_first=True)
        self.out_features = hidden_size

    def forward(self, x, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                   enforce_sorted=False)
        return self.gru(packed)[1][-1]  # the last valid step


@backbones.register("tiny_gru")
def tiny_gru(n_features: int, hidden_size: int = 16):
    """A one-layer GRU; its last valid step is the embedding."""
    return TinyGRU(n_features, hidden_size)
'''


def write_spec(tmp_path, root, backbone="lstm", params=None, space=None, **training):
    """A tiny spec for the command line, one torch thread: `sweep check overfit` of it took
    19 s with two threads and 6 s with one beside two trainings on 2 cores, 79 s and 15 s
    beside four busy processes."""
    raw = {
        "study": f"cli_{backbone}",
        "data": {"dataset": "fma_genre", "root": str(root), "features": "chroma"},
        "task": {"kind": "classification"},
        "model": {"backbone": backbone, "backbone_params": params or {}},
        "training": {"max_epochs": 2, "batch_size": 4, "lr": 1e-2, "threads": 1, **training},
        "search": {"n_trials": 3, "space": space or {}, "selection": {"folds": 1}},
    }
    path = tmp_path / f"{backbone}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def long_spec(tmp_path, root, max_epochs: int, **training):
    """A tiny LSTM whose trials run `max_epochs` epochs (no early stopping), the learning
    rate searched: a run to interrupt in the middle of a trial."""
    return write_spec(
        tmp_path,
        root,
        params={"hidden_size": 8, "num_layers": 1},
        space={"training.lr": {"low": 1e-3, "high": 1e-1, "log": True}},
        max_epochs=max_epochs,
        patience=None,
        **training,
    )


def test_a_user_backbone_in_a_few_lines_is_searched(tmp_path, tiny_root):
    code = tmp_path / "tiny_gru.py"
    code.write_text(TINY_GRU)
    spec = write_spec(
        tmp_path,
        tiny_root,
        backbone="tiny_gru",
        params={"hidden_size": 8},
        space={"model.backbone_params.hidden_size": {"low": 4, "high": 32}},
    )
    out = sweep("validate", spec)
    assert out.returncode == 2 and "Unknown backbone 'tiny_gru'" in out.stderr
    assert sweep("validate", spec, "--code", code).returncode == 0
    listed = sweep("components", "backbones", "--code", code)
    assert "tiny_gru(n_features: int, hidden_size: int = 16)" in listed.stdout
    assert "A one-layer GRU; its last valid step is the embedding." in listed.stdout
    out = sweep("run", spec, "--code", code, "--results", tmp_path / "results")
    assert out.returncode == 0, out.stderr
    assert "3 trials: 3 complete" in out.stdout
    assert "reference" in out.stdout and "best" in out.stdout
    test = json.loads((tmp_path / "results" / "cli_tiny_gru" / "test.json").read_text())
    assert test["reference"]["params"] == {"model.backbone_params.hidden_size": 8}


def test_run_continues_and_overrides_are_validated(tmp_path, tiny_root):
    spec = write_spec(
        tmp_path,
        tiny_root,
        params={"hidden_size": 8, "num_layers": 1},
        space={"training.lr": {"low": 1e-3, "high": 1e-1, "log": True}},
    )
    results = tmp_path / "results"
    out = sweep("run", spec, "--results", results, "--trials", "2")
    assert out.returncode == 0, out.stderr
    out = sweep("run", spec, "--results", results, "--trials", "3")
    assert "Continuing study 'cli_lstm': 2 of 3 trials already finished." in out.stdout
    assert "3 trials: 3 complete" in out.stdout
    out = sweep("run", spec, "--results", results, "--set", "training.lr=fast")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == (
        "error: --set training.lr=fast training.lr: Input should be a "
        "valid number, unable to parse string as a number, got 'fast'"
    )


def test_validate_lists_every_problem_and_show_fills_defaults(tmp_path, tiny_root):
    spec = write_spec(
        tmp_path,
        tiny_root,
        params={"hidden_size": 8, "hiden": 3},
        space={"training.lr": {"low": 1.0, "high": 0.1}},
    )
    out = sweep("validate", spec)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "training.lr: `low <= high` must hold" in lines[0]
    good = write_spec(
        tmp_path, tiny_root, backbone="cnn", params={"channels": [4, 8], "kernel_sizes": [3, 3]}
    )
    out = sweep("show", good)
    assert out.returncode == 0
    shown = yaml.safe_load(out.stdout)
    assert shown["training"]["optimizer"] == "adam" and shown["search"]["sampler"]["name"] == "tpe"
    assert shown["data"]["val_fraction"] == 0.2


def test_check_overfit_drives_the_loss_to_zero(tmp_path, tiny_root):
    spec = write_spec(tmp_path, tiny_root, params={"hidden_size": 32, "num_layers": 1})
    out = sweep("check", "overfit", spec, "--steps", "150")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PASSED" in out.stdout


def test_help_lists_the_commands():
    out = sweep("--help")
    for command in ("run", "validate", "show", "check", "components", "data"):
        assert command in out.stdout


def test_ctrl_c_then_the_same_command_continues_the_study(tmp_path, tiny_root):
    import signal
    import subprocess
    import sys

    import optuna

    spec = long_spec(tmp_path, tiny_root, max_epochs=200)
    results = tmp_path / "results"
    first_step = tmp_path / "first_step"
    command = [
        sys.executable,
        "-m",
        "sweep",
        "run",
        str(spec),
        "--results",
        str(results),
        "--trials",
        "2",
        "--set",
        "search.pruner.name=none",
    ]
    env = {**os.environ, "SWEEP_MARK_FIRST_STEP": str(first_step)}
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    wait_for(first_step.exists, proc, "the first training step")
    proc.send_signal(signal.SIGINT)  # inside the first trial's 200 epochs
    out, err = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode == 130, err
    assert "interrupted (SIGINT): finished trials are kept" in err and "Traceback" not in err

    out = subprocess.run(command, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert out.returncode == 0, out.stderr
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(results / "cli_lstm" / "optuna.journal"))
    )
    trials = optuna.load_study(study_name="cli_lstm", storage=storage).trials
    states = [t.state.name for t in trials]
    # the interrupted trial is failed, not left running; the budget is then met in full
    assert states.count("FAIL") == 1 and "RUNNING" not in states
    assert states.count("COMPLETE") == 2
    # the reference is measured, again if the interrupted trial was its first try
    assert [t.state.name for t in trials if t.user_attrs.get("reference")][-1] == "COMPLETE"


def test_same_spec_same_numbers_in_separate_processes(tmp_path, tiny_root):
    spec = write_spec(
        tmp_path,
        tiny_root,
        params={"hidden_size": 8, "num_layers": 1},
        space={"training.lr": {"low": 1e-3, "high": 1e-1, "log": True}},
    )
    tests = []
    for results in ("a", "b"):
        out = sweep("run", spec, "--results", tmp_path / results, "--trials", "2")
        assert out.returncode == 0, out.stderr
        tests.append(json.loads((tmp_path / results / "cli_lstm" / "test.json").read_text()))
    assert tests[0] == tests[1]


def test_run_skip_bad_skips_bad_tracks_and_says_which(tmp_path, tiny_root):
    from sweep.lab import layout

    train = layout.dataset_dir(tiny_root, "genre", True) / "train"
    labels = layout.read_label_file(train.parent / "train_labels.txt", "\t")
    victim = labels.rows[0].track_id
    layout.npy_path(train, victim).write_bytes(b"\x93NUMPY truncated")
    spec = write_spec(tmp_path, tiny_root)
    refused = sweep("run", spec, "--trials", "1", "--results", tmp_path / "results")
    assert refused.returncode == 2 and "data.skip_bad skips such tracks" in refused.stderr
    assert not (tmp_path / "results" / "cli_lstm").exists()  # refused before anything
    out = sweep("run", spec, "--skip-bad", "--trials", "1", "--results", tmp_path / "results")
    assert out.returncode == 0, out.stderr
    [said] = [line for line in out.stdout.splitlines() if line.startswith("note: skipped")]
    assert said.startswith("note: skipped 1 bad track (data.skip_bad): ")
    assert f"{victim}.fused.full.npy: not a readable .npy file" in said
    split = json.loads((tmp_path / "results" / "cli_lstm" / "split.json").read_text())
    assert victim not in split["train"] + split["validation"] + split["test"]
