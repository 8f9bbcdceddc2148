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
        "cpus": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }
