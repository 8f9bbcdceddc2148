"""Sharing the machine's cores: the usable cores, and a fair share among the live runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sweep import cores
from sweep.storage import worker_id


@pytest.fixture
def register(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEP_CORES_DIR", str(tmp_path / "cores"))
    monkeypatch.setattr(cores, "usable_cores", lambda: 8)
    return tmp_path / "cores"


def test_usable_cores_follow_the_affinity_and_the_cgroup_quota(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(cores, "_cgroup_quota", lambda: None)
    assert cores.usable_cores() == 4
    monkeypatch.setattr(cores, "_cgroup_quota", lambda: 1.5)  # docker --cpus 1.5
    assert cores.usable_cores() == 2
    monkeypatch.setattr(cores, "_cgroup_quota", lambda: 0.2)
    assert cores.usable_cores() == 1


def test_a_run_alone_takes_every_core_and_shares_them_with_a_live_one(register):
    with cores.claim_cores(workers=1):
        assert cores.fair_threads() == 8
        other = subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
        )
        try:  # another run with 3 workers, alive
            entry = register / f"{other.pid}.json"
            entry.write_text(
                json.dumps({**worker_id(), "pid": other.pid, "started": None, "workers": 3})
            )
            assert cores.live_workers() == 4 and cores.fair_threads() == 2
        finally:
            other.communicate(b"")
        # it ended: its entry no longer counts, and is cleared away
        assert cores.fair_threads() == 8 and not entry.exists()
    assert list(register.glob("*.json")) == []  # ours is gone with the block


def test_more_workers_than_cores_still_get_one_thread_each(register):
    with cores.claim_cores(workers=12):
        assert cores.fair_threads() == 1


def test_a_register_that_cannot_be_written_leaves_every_core(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("SWEEP_CORES_DIR", str(blocker / "cores"))  # under a file: no folder
    with cores.claim_cores(workers=2):
        assert cores.fair_threads() == cores.usable_cores()
