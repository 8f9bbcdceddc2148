"""SIGINT and SIGTERM: acknowledged at once, exit 130 / 143, the running trial failed with
the signal as its reason, nothing left RUNNING; at several moments of a run.

Each moment is an event the run itself produces (its first line of output, the marker file
its first optimizer step writes), never a sleep, so a busy machine only makes it slower.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import optuna
import pytest
from conftest import HANG_GUARD_S, wait_for
from test_cli_run import long_spec, write_spec

from sweep import signals
from sweep.results import StudyFolder


def test_sigterm_is_an_interrupt_with_the_shells_exit_code():
    assert signals.Interrupted(signal.SIGTERM).exit_code == 143
    assert signals.exit_code(KeyboardInterrupt()) == 130
    assert signals.signal_name(signals.Interrupted(signal.SIGTERM)) == "SIGTERM"
    assert isinstance(signals.Interrupted(signal.SIGTERM), KeyboardInterrupt)


def test_the_first_signal_is_acknowledged_once_and_the_old_handlers_come_back():
    heard = []
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(signals.Interrupted) as caught, signals.stop_on_signals(heard.append):
        try:
            signal.raise_signal(signal.SIGTERM)
        except signals.Interrupted:
            signal.raise_signal(signal.SIGINT)  # a second one, while cleaning up
    assert caught.value.name == "SIGINT" and heard == ["SIGTERM"]
    assert signal.getsignal(signal.SIGTERM) is before


def interrupted_trials(results):
    folder = StudyFolder(results / "cli_lstm")
    if not folder.has_journal():
        return []
    return folder.load_study().trials


@pytest.mark.parametrize(
    "sig, moment, workers",
    [
        (signal.SIGINT, "start-up", 1),
        (signal.SIGTERM, "start-up", 1),
        (signal.SIGINT, "mid-trial", 1),
        (signal.SIGTERM, "mid-trial", 1),
        (signal.SIGTERM, "mid-trial", 2),
    ],
)
def test_a_signal_at_any_moment_stops_the_run_and_records_its_trial(
    tmp_path, tiny_root, sig, moment, workers
):
    spec = long_spec(tmp_path, tiny_root, max_epochs=500, threads=1)
    results, first_step = tmp_path / "results", tmp_path / "first_step"
    command = [sys.executable, "-m", "sweep", "run", str(spec), "--results", str(results)]
    command += ["--trials", "2", "--workers", str(workers), "--set", "search.pruner.name=none"]
    env = {**os.environ, "SWEEP_MARK_FIRST_STEP": str(first_step)}
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    if moment == "start-up":
        assert proc.stdout.readline().startswith("Study cli_lstm")  # then it loads the data
    else:
        wait_for(first_step.exists, proc, "the first step")  # inside the first trial's 500 epochs
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=HANG_GUARD_S)  # a guard against a hang, not a measure
    name = signal.Signals(sig).name
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err
    assert f"interrupted ({name}): finished trials are kept" in err
    trials = interrupted_trials(results)
    assert all(t.state.name != "RUNNING" for t in trials)
    if moment == "mid-trial":
        assert f"{name} received: stopping" in err.splitlines()[0]
        failed = [t for t in trials if t.state.name == "FAIL"]
        assert failed and {t.user_attrs.get("reason") for t in failed} == {f"interrupted ({name})"}


def test_a_run_after_a_killed_one_says_it_retries_the_trial(tmp_path, tiny_root):
    spec = write_spec(
        tmp_path,
        tiny_root,
        params={"hidden_size": 8, "num_layers": 1},
        max_epochs=60,
        patience=None,
    )
    results, first_step = tmp_path / "results", tmp_path / "first_step"
    command = [sys.executable, "-m", "sweep", "run", str(spec), "--results", str(results)]
    env = {**os.environ, "SWEEP_MARK_FIRST_STEP": str(first_step)}
    proc = subprocess.Popen(command + ["--trials", "1"], env=env, stdout=subprocess.DEVNULL)
    wait_for(first_step.exists, proc, "the first step")
    proc.kill()  # no chance to record anything: the trial stays RUNNING
    proc.wait()
    assert [t.state.name for t in interrupted_trials(results)] == ["RUNNING"]
    again = subprocess.run(
        command + ["--trials", "1"],
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0, again.stderr
    assert "trial 0 had been left running by a run that ended" in again.stdout
    assert "retried once with the same parameters" in again.stdout
    states = [t.state.name for t in interrupted_trials(results)]
    assert states[0] == "FAIL" and "RUNNING" not in states
    assert optuna.trial.TrialState.COMPLETE.name in states
