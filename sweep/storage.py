"""Where a study lives, and what happens to the trials of a worker that died.

    storage = open_storage(None, folder)              # results/<study>/optuna.journal
    storage = open_storage("postgresql://u@host/db", folder)   # shared by many machines

Two kinds of storage, chosen for several processes at once:
- the default, Optuna's journal file in the study folder: safe for several processes on
  one machine (it appends under a file lock), no server needed;
- an RDB URL (PostgreSQL, MySQL): safe for several machines. Its trials send heartbeats;
  a trial whose worker stops beating for `GRACE_SECONDS` is marked failed and retried.

SQLite is refused for more than one worker (it locks the whole file and fails under
concurrent writers).

A worker that dies (SIGKILL, OOM killer, a power cut) leaves its trial RUNNING. Every trial
records the worker that runs it (host, pid and the process's start time), so any later
`sweep run` on the same machine can tell a live trial from a dead one: `fail_dead_trials`
marks the dead worker's trials failed and enqueues each once more, so the budget is still
spent on complete trials. On an RDB storage, the heartbeat does the same for workers on
other machines.
"""

from __future__ import annotations

import os
import random
import socket
import time
import warnings
from pathlib import Path
from typing import Any

import optuna

from sweep import trials
from sweep.errors import SweepError
from sweep.results import StudyFolder, open_journal

HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 60
CREATE_ATTEMPTS = 5
RUNNING = optuna.trial.TrialState.RUNNING
FAIL = optuna.trial.TrialState.FAIL


def is_url(storage: str | None) -> bool:
    return storage is not None and "://" in storage


def open_storage(storage: str | None, folder: Path) -> optuna.storages.BaseStorage:
    """The study's storage: the journal in `folder`, or the database at the URL `storage`."""
    if storage is None:
        folder.mkdir(parents=True, exist_ok=True)
        return open_journal(StudyFolder(folder).journal)
    if not is_url(storage):
        raise SweepError(
            f"--storage {storage}: not a database URL (e.g. postgresql://user:pw@host/db); "
            f"leave it out to use a journal file in the results folder"
        )
    kwargs: dict[str, Any] = {}
    if not storage.startswith("sqlite"):
        kwargs = {
            "heartbeat_interval": HEARTBEAT_SECONDS,
            "grace_period": GRACE_SECONDS,
            "heartbeat_stale_trial_callback": retry_trial,
            "engine_kwargs": {"pool_pre_ping": True},
        }
    try:
        return _rdb_storage(storage, kwargs)
    except ImportError as e:  # Optuna's message for a missing database driver
        hint = " (pip install 'psycopg[binary]')" if storage.startswith("postgres") else ""
        raise SweepError(f"--storage {redact(storage)}: no database driver{hint}") from e
    except Exception as e:  # a server not running, a wrong password, a bad URL...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SweepError(f"--storage {redact(storage)}: {first}") from e


def _rdb_storage(url: str, kwargs: dict[str, Any]) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage. Machines starting at once on an empty database race to create
    its tables; the losers see a duplicate-key error and simply try again."""
    import sqlalchemy.exc

    for attempt in range(CREATE_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.9
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, **kwargs)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == CREATE_ATTEMPTS - 1:
                raise
            time.sleep(0.2 + random.random() * (attempt + 1))
    raise AssertionError("unreachable")


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in creds:
        return url
    return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"


def study_names(storage: optuna.storages.BaseStorage) -> list[str]:
    return sorted(s.study_name for s in storage.get_all_studies())


# ----------------------------------------------------------------------------- workers


def worker_id() -> dict[str, Any]:
    """This process, as recorded on each trial it runs."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": _start_time(os.getpid())}


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[19])


def worker_alive(worker: dict[str, Any]) -> bool | None:
    """True/False for a worker of this machine; None (unknown) for another machine's."""
    if worker.get("host") != socket.gethostname():
        return None
    pid = int(worker.get("pid", -1))
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        pass
    started = worker.get("started")
    return started is None or _start_time(pid) in (None, started)


def fail_dead_trials(study: optuna.Study) -> list[int]:
    """Mark failed the RUNNING trials whose worker on this machine is gone; retry each once.

    Returns the numbers of the trials failed here.
    """
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(RUNNING,)):
        worker = trial.user_attrs.get(trials.WORKER)
        if not isinstance(worker, dict) or worker_alive(worker) is not False:
            continue
        storage = study._storage
        try:
            storage.set_trial_user_attr(
                trial._trial_id, trials.REASON, f"worker died (pid {worker.get('pid')})"
            )
            if not storage.set_trial_state_values(trial._trial_id, state=FAIL):
                continue
        except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError):
            continue  # another process got there first
        failed.append(trial.number)
        retry_trial(study, storage.get_trial(trial._trial_id))
    return failed


def retry_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """Enqueue a dead worker's trial once more, with its parameters (a retry is not retried)."""
    if trial.user_attrs.get(trials.RETRY_OF) is not None:
        return
    attrs: dict[str, Any] = {trials.RETRY_OF: trial.number}
    if trials.is_reference(trial):
        attrs[trials.REFERENCE] = True
    study.enqueue_trial(trial.params, user_attrs=attrs)
