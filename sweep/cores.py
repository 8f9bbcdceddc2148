"""The cores a run may use, shared with the other `sweep run`s on the same machine.

    usable_cores()                        # CPU affinity and the cgroup's quota, not the host's
    with claim_cores(workers=2):          # this run's workers, in the machine's register
        threads = fair_threads()          # each worker's torch threads, asked per trial

Torch starts as many threads as the machine has cores, and two runs that each do so on one
machine make each other 7-20x slower: their threads spin waiting for cores the other holds
(measured: two demo sweeps at once on 2 cores, 6.5x the time of one). So a run registers
its workers in a folder shared by the machine's runs (`SWEEP_CORES_DIR`, else one under the
temporary folder), and each worker, before each trial, takes an equal share of the usable
cores among all live workers registered: alone, all of them; beside another run's worker,
half. A run that ends (or dies) stops counting at once: a register entry counts while its
process lives. `training.threads` in a spec fixes the number instead.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sweep.storage import worker_alive, worker_id


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup CPU quota
    (a container's `--cpus`), at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def _cgroup_quota() -> float | None:
    """CPUs allowed by the cgroup (v2 `cpu.max`, else v1 `cfs_quota_us`); None if unlimited."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def register() -> Path:
    folder = os.environ.get("SWEEP_CORES_DIR")
    return Path(folder) if folder else Path(tempfile.gettempdir()) / f"sweep-cores-{os.getuid()}"


@contextlib.contextmanager
def claim_cores(workers: int = 1) -> Iterator[None]:
    """This process and its `workers` in the register while the block runs."""
    entry = None
    try:
        folder = register()
        folder.mkdir(parents=True, exist_ok=True)
        entry = folder / f"{os.getpid()}.json"
        entry.write_text(json.dumps({**worker_id(), "workers": workers}))
    except OSError:  # a register that cannot be written: each run then uses every core
        entry = None
    try:
        yield
    finally:
        if entry is not None:
            with contextlib.suppress(OSError):
                entry.unlink()


def live_workers() -> int:
    """Workers of the live runs in the register (at least 1: this one); dead runs' entries
    are removed."""
    total = 0
    with contextlib.suppress(OSError):
        for entry in register().glob("*.json"):
            try:
                claim = json.loads(entry.read_text())
            except (OSError, ValueError):
                continue  # being written
            if worker_alive(claim) is False:
                with contextlib.suppress(OSError):
                    entry.unlink()
                continue
            total += max(1, int(claim.get("workers", 1)))
    return max(1, total)


def fair_threads() -> int:
    """A worker's torch threads now: the usable cores shared equally among live workers."""
    return max(1, usable_cores() // live_workers())
