"""What a study ran on: package versions, the git revision, the machine (environment.json)."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import torch


def environment() -> dict[str, Any]:
    packages = {}
    for name in ("sweep", "torch", "optuna", "numpy", "scikit-learn", "scipy", "pydantic"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    try:
        here = Path(__file__).resolve().parent
        revision = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        revision = None
    return {
        "packages": packages,
        "git_revision": revision,
        "python": platform.python_version(),
        "platform": platform.platform(),
        # the same code and seeds can train to other numbers on another machine (one
        # configuration: 0.650 against 0.656): comparisons of studies check these match
        "cpu": processor(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),  # AVX2, AVX512, ...
        "cpus": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }


def processor() -> str | None:
    """The processor's model name (Linux: /proc/cpuinfo), else what `platform` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or None
