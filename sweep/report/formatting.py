"""Numbers and names as a reader wants them: the text of the report's cells and facts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sweep.report.document import Cell


def format_number(x: Any, digits: int = 3, signed: bool = False) -> str:
    """A number to `digits` decimals ("–" for none or NaN); anything else as it prints."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, bool) or not isinstance(x, int | float | np.floating | np.integer):
        return str(x)
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def format_duration(seconds: float | None) -> str:
    """Seconds in the unit a reader thinks in: s, min or h."""
    if not seconds:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_value(v: Any) -> str:
    """A parameter value as a reader wants it: floats to 4 significant digits."""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def trial_numbers(numbers: Sequence[int], shown: int = 8) -> str:
    """Trial numbers as a reader scans them: "#3, #4, #5", the first `shown` and "..."."""
    return ", ".join(f"#{n}" for n in numbers[:shown]) + (" ..." if len(numbers) > shown else "")


def delta_cell(delta: float | None) -> Cell:
    """A signed difference, classed "pos" or "neg" so that HTML colours its sign."""
    if delta is None:
        return "–"
    return (format_number(delta, signed=True), "pos" if delta > 0 else "neg" if delta < 0 else "")


def short_names(names: Sequence[str]) -> dict[str, str]:
    """The shortest dotted suffix that still tells parameters apart:
    model.backbone_params.hidden_size -> hidden_size, training.lr -> lr."""
    short = {}
    for name in names:
        parts = name.split(".")
        short[name] = name
        for k in range(1, len(parts) + 1):
            candidate = ".".join(parts[-k:])
            if not any(
                other != name and (other == candidate or other.endswith("." + candidate))
                for other in names
            ):
                short[name] = candidate
                break
    return short
