"""Where a study lives: the journal or a database URL, refused URLs, and dead workers' trials."""

from __future__ import annotations

import os
import subprocess
import sys

import optuna
import pytest

from sweep import trials
from sweep.errors import SweepError
from sweep.storage import (
    fail_dead_trials,
    is_url,
    open_storage,
    redact,
    study_names,
    worker_alive,
    worker_id,
)


def test_the_default_storage_is_the_journal_in_the_study_folder(tmp_path):
    storage = open_storage(None, tmp_path / "s")
    optuna.create_study(study_name="s", storage=storage)
    assert (tmp_path / "s" / "optuna.journal").is_file()
    assert study_names(storage) == ["s"]


def test_a_storage_that_is_no_url_is_refused_in_one_line(tmp_path):
    with pytest.raises(SweepError, match=r"^--storage results/x.db: not a database URL"):
        open_storage("results/x.db", tmp_path)
    assert not is_url("results/x.db") and not is_url(None) and is_url("sqlite:///x.db")


def test_passwords_never_reach_a_message():
    assert redact("postgresql://sweep:secret@db/sweep") == "postgresql://sweep:***@db/sweep"
    assert redact("postgresql://sweep@db/sweep") == "postgresql://sweep@db/sweep"
    assert redact("not a url") == "not a url"


def test_a_dead_workers_trial_is_failed_with_its_reason_and_retried_once(tmp_path):
    study = optuna.create_study(storage=open_storage(None, tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    mine = worker_id()
    lost = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    lost.set_user_attr(trials.WORKER, {**mine, "pid": dead.pid})
    lost.set_user_attr(trials.REFERENCE, True)
    alive = study.ask()
    alive.set_user_attr(trials.WORKER, mine)
    assert worker_alive(mine) is True and os.getpid() == mine["pid"]

    assert fail_dead_trials(study) == [lost.number]
    frozen = study.trials
    assert frozen[lost.number].state == optuna.trial.TrialState.FAIL
    assert frozen[lost.number].user_attrs[trials.REASON] == f"worker died (pid {dead.pid})"
    assert frozen[alive.number].state == optuna.trial.TrialState.RUNNING
    retry = frozen[-1]
    assert retry.state == optuna.trial.TrialState.WAITING
    assert retry.user_attrs[trials.RETRY_OF] == lost.number and trials.is_reference(retry)
    assert fail_dead_trials(study) == []  # done once
