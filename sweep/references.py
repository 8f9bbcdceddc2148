"""The reference table: the lab report's models and their test numbers (shipped as data)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import yaml


@cache
def reference_table() -> dict[str, dict[str, Any]]:
    """Row name -> its configuration and numbers, with the row's group (genre, emotion, ...)."""
    text = files("sweep").joinpath("references.yaml").read_text()
    groups = yaml.safe_load(text)
    return {
        name: {"group": group, **row}
        for group, rows in groups.items()
        for name, row in rows.items()
    }
