"""Several workers on one study, crash safety, and a real PostgreSQL shared by two `sweep run`s.

The PostgreSQL tests use SWEEP_TEST_POSTGRES_URL (set by .ci/run, which installs and starts a
server), else start a throwaway server where PostgreSQL is installed, else skip saying why.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import pgserver
import pytest
from conftest import HANG_GUARD_S, tiny_spec, wait_for

from sweep import space
from sweep.results import StudyFolder
from sweep.run import run_study
from sweep.storage import open_storage, worker_alive
from sweep.study import open_study

COUNTED = ("COMPLETE", "PRUNED")


def load(storage, name: str = "tiny") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=storage)


def journal(results: Path, name: str = "tiny") -> optuna.Study:
    return load(open_storage(None, results / name), name)


def shown(trials) -> list[optuna.trial.FrozenTrial]:
    """Trials that count for a study's record: not the ones dropped as over the budget."""
    return [t for t in trials if not t.user_attrs.get("surplus")]


def study_row(table: Path, study: str = "tiny") -> dict[str, str]:
    """The report's main-table line of a study."""
    return next(row for row in csv.DictReader(table.open()) if row["study"] == study)


def sweep_command(spec: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "sweep", "run", str(spec), *args]


def slow_spec(tmp_path: Path, root: Path, **search):
    """Trials of a few seconds each on the tiny data: time to kill one in the middle."""
    tiny_spec(
        tmp_path,
        root,
        training={"max_epochs": 40, "patience": None, "threads": 1},
        search={"n_trials": 3, "pruner": {"name": "none"}, **search},
    )
    return tmp_path / "tiny.yaml"


def wait_for_running_trial(study_of, min_epochs: int, proc: subprocess.Popen):
    """The first RUNNING trial with `min_epochs` reported epochs, once there is one (the
    study is read every 0.2 s: reading it more often would slow the run it waits on)."""
    found = []

    def running() -> bool:
        try:
            trials = study_of().get_trials(deepcopy=False)
        except (KeyError, FileNotFoundError):  # the study is not created yet
            return False
        found[:] = [
            t
            for t in trials
            if t.state.name == "RUNNING" and len(t.intermediate_values) >= min_epochs
        ]
        return bool(found)

    wait_for(running, proc, f"a running trial with {min_epochs} epochs", every=0.2)
    return found[0]


# ----------------------------------------------------------------------------- one machine


def test_two_workers_share_one_budget_with_distinct_samplers(tmp_path, tiny_root):
    spec = tiny_spec(tmp_path, tiny_root, search={"n_trials": 6})
    outcome = run_study(spec, tmp_path / "results", workers=2)
    trials = shown(outcome.study.trials)
    states = [t.state.name for t in trials]
    assert sum(s in COUNTED for s in states) == 6  # the study's budget, not 6 per worker
    assert "RUNNING" not in states and "WAITING" not in states
    params = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(params)) == len(params)  # no worker replays another's samples
    workers = {t.user_attrs["worker"]["pid"] for t in trials}
    assert len(workers) == 2 and os.getpid() not in workers
    assert outcome.test["best"]["trial"] == outcome.study.best_trial.number


def test_a_reference_enqueued_by_two_runs_at_once_is_measured_once(tmp_path, tiny_root):
    spec = tiny_spec(tmp_path, tiny_root, search={"n_trials": 3})
    study, _ = open_study(
        spec, StudyFolder.of(tmp_path / "results", spec.study).path, None, folds=1
    )
    for _ in range(2):  # as two machines opening a new study at the same moment do
        values = space.enqueue_form(spec, space.reference_params(spec))
        study.enqueue_trial(values, user_attrs={"reference": True})
    outcome = run_study(spec, tmp_path / "results")
    references = [t for t in outcome.study.trials if t.user_attrs.get("reference")]
    assert [t.state.name for t in references] == ["COMPLETE", "FAIL"]
    assert references[1].user_attrs["surplus"]  # hidden, and not counted
    assert sum(t.state.name in COUNTED for t in shown(outcome.study.trials)) == 3


def test_sigkill_mid_trial_then_resume_keeps_every_finished_trial(tmp_path, tiny_root):
    spec = slow_spec(tmp_path, tiny_root)
    results = tmp_path / "results"
    command = sweep_command(spec, "--results", str(results))
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_running_trial(lambda: journal(results), 1, proc)
        victim = wait_for_running_trial(lambda: journal(results), 3, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(HANG_GUARD_S)
    before = {t.number: t for t in journal(results).trials if t.state.name in COUNTED}
    assert journal(results).trials[victim.number].state.name == "RUNNING"  # left behind

    again = subprocess.run(command, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert again.returncode == 0, again.stderr
    trials = journal(results).trials
    by_number = {t.number: t for t in trials}
    for number, t in before.items():  # every finished trial is still there, unchanged
        assert by_number[number].state == t.state and by_number[number].value == t.value
    killed = by_number[victim.number]
    assert killed.state.name == "FAIL" and killed.user_attrs["reason"].startswith("worker died")
    retry = [t for t in trials if t.user_attrs.get("retry_of") == victim.number]
    assert len(retry) == 1 and retry[0].params == killed.params
    states = [t.state.name for t in trials]
    assert "RUNNING" not in states and sum(s in COUNTED for s in states) == 3

    report = subprocess.run(
        [sys.executable, "-m", "sweep", "report", "--results", str(results), "--no-baseline"],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    assert report.returncode == 0, report.stderr
    row = study_row(results / "report" / "main_table.csv")
    assert row["complete"] == str(states.count("COMPLETE")) and row["failed"] == "1"


def test_a_killed_worker_is_replaced_and_its_trial_retried(tmp_path, tiny_root):
    spec = slow_spec(tmp_path, tiny_root, n_trials=3)
    results = tmp_path / "results"
    command = sweep_command(spec, "--results", str(results), "--workers", "2")
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = wait_for_running_trial(lambda: journal(results), 2, proc)
    os.kill(victim.user_attrs["worker"]["pid"], signal.SIGKILL)
    out, err = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode == 0, err
    trials = shown(journal(results).trials)
    killed = next(t for t in trials if t.number == victim.number)
    assert killed.state.name == "FAIL"
    retry = [t for t in trials if t.user_attrs.get("retry_of") == victim.number]
    assert len(retry) == 1 and retry[0].state.name in COUNTED
    states = [t.state.name for t in trials]
    assert "RUNNING" not in states and sum(s in COUNTED for s in states) == 3
    assert "Traceback" not in err


def test_worker_alive_tells_a_dead_pid_from_a_live_one():
    me = {"host": os.uname().nodename, "pid": os.getpid()}
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert worker_alive(me) is True
    assert worker_alive({**me, "pid": dead.pid}) is False
    assert worker_alive({**me, "host": "another-machine"}) is None  # the heartbeat's job


def test_sqlite_storage_is_refused_for_several_workers(tmp_path, tiny_root):
    spec = tiny_spec(tmp_path, tiny_root)
    out = subprocess.run(
        sweep_command(
            tmp_path / "tiny.yaml",
            "--results",
            str(tmp_path / "r"),
            "--workers",
            "2",
            "--storage",
            f"sqlite:///{tmp_path / 's.db'}",
        ),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "SQLite" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and spec.study == "tiny"


def test_an_unreachable_database_is_a_one_line_error(tmp_path, tiny_root):
    tiny_spec(tmp_path, tiny_root)
    out = subprocess.run(
        sweep_command(
            tmp_path / "tiny.yaml",
            "--results",
            str(tmp_path / "r"),
            "--storage",
            "postgresql://sweep:secret@127.0.0.1:1/nowhere",
        ),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "secret" not in out.stderr and "--storage postgresql://sweep:***@" in out.stderr


# ----------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres_server():
    url = os.environ.get("SWEEP_TEST_POSTGRES_URL")
    if url:  # CI started one: it must answer, never skip
        problem = pgserver.reachable(url)
        assert problem is None, f"SWEEP_TEST_POSTGRES_URL={url} does not answer: {problem}"
        yield url
        return
    # not under pytest's own temporary folder: the server's user could not reach it
    folder = Path(tempfile.mkdtemp(prefix="sweep-test-postgres-"))
    try:
        url = pgserver.start(folder)
    except pgserver.Unavailable as e:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"no PostgreSQL server can be started here: {e}")
    try:
        yield url
    finally:
        pgserver.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server, request) -> str:
    """A fresh database per test."""
    name = "sweep_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    return pgserver.create_database(postgres_server, name)


def test_two_machines_join_one_study_on_postgresql(tmp_path, tiny_root, postgres_url):
    spec = tiny_spec(tmp_path, tiny_root, search={"n_trials": 8}, training={"threads": 1})
    # two `sweep run`s, as on two machines: their own results folders, one database
    machines = [
        subprocess.Popen(
            sweep_command(
                tmp_path / "tiny.yaml",
                "--results",
                str(tmp_path / f"machine{i}"),
                "--storage",
                postgres_url,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (1, 2)
    ]
    for proc in machines:
        out, err = proc.communicate(timeout=HANG_GUARD_S)
        assert proc.returncode == 0, err
    storage = open_storage(postgres_url, tmp_path)
    trials = shown(load(storage, spec.study).trials)
    states = [t.state.name for t in trials]
    assert sum(s in COUNTED for s in states) == 8 and "RUNNING" not in states
    params = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(params)) == len(params)
    assert len({t.user_attrs["worker"]["pid"] for t in trials}) == 2  # both did work

    # the report reads the study back from the database, from a third folder
    report = subprocess.run(
        [sys.executable, "-m", "sweep", "report", "--storage", postgres_url]
        + ["--results", str(tmp_path / "elsewhere"), "--no-baseline"],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    assert report.returncode == 0, report.stderr
    row = study_row(tmp_path / "elsewhere" / "report" / "main_table.csv")
    assert int(row["complete"]) + int(row["pruned"]) == 8


def test_workers_on_postgresql_and_a_killed_one(tmp_path, tiny_root, postgres_url):
    spec = slow_spec(tmp_path, tiny_root, n_trials=3)
    command = sweep_command(
        spec, "--results", str(tmp_path / "r"), "--workers", "2", "--storage", postgres_url
    )
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    storage = open_storage(postgres_url, tmp_path)
    victim = wait_for_running_trial(lambda: load(storage), 2, proc)
    os.kill(victim.user_attrs["worker"]["pid"], signal.SIGKILL)
    out, err = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode == 0, err
    trials = shown(load(storage).trials)
    states = [t.state.name for t in trials]
    assert sum(s in COUNTED for s in states) == 3 and "RUNNING" not in states
    assert next(t for t in trials if t.number == victim.number).state.name == "FAIL"
    assert any(t.user_attrs.get("retry_of") == victim.number for t in trials)


def test_a_worker_killed_in_the_middle_of_a_message_ends_only_its_own_pipe():
    import multiprocessing.connection
    import struct

    from sweep.workers import _Worker

    events, sender = multiprocessing.Pipe(duplex=False)
    sender.send(("note", "a whole message first"))
    os.write(sender.fileno(), struct.pack("!i", 100) + b"ten bytes.")  # then cut at 10 of 100
    sender.close()  # the worker is dead: its write end is gone
    worker = _Worker(process=None, events=events)
    assert worker.receive() == [("note", "a whole message first")]
    assert worker.ended  # and the read did not wait for the 90 bytes that never come
    assert worker.receive() == []
