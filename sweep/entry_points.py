"""Where components are declared: the `sweep.components` entry points of every distribution.

An entry point is named `<registry>.<component>` and its value is the module that registers
the component (`"backbones.lstm" = "components.backbones.lstm"`). sweep declares its own
components in its pyproject.toml exactly as a third party does; `sweep.registry` imports a
module only when one of its names is asked for.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

ENTRY_POINT_GROUP = "sweep.components"
DISTRIBUTION = "sweep"  # the distribution whose pyproject.toml declares the built-in components


@dataclass(frozen=True)
class Declared:
    """A component declared as an entry point, and the distribution that declares it."""

    entry_point: EntryPoint
    distribution: str


def declared_components() -> dict[str, Declared]:
    """Every component declared in the `sweep.components` group, by entry-point name.

    What importlib.metadata finds depends on sys.path alone within a process, so the scan
    (milliseconds: every distribution's metadata is read) is cached on it.
    """
    return _declared_on(tuple(sys.path), entry_points)


@cache
def _declared_on(path: tuple[str, ...], find: Callable[..., Any]) -> dict[str, Declared]:
    checkout = _checkout_entry_points()
    declared: dict[str, Declared] = {}
    for ep in find(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist else "an unknown distribution"
        if checkout is not None and dist == DISTRIBUTION:
            continue  # the checkout's own pyproject.toml says what sweep declares
        declared.setdefault(ep.name, Declared(ep, dist))
    for ep in checkout or ():
        declared[ep.name] = Declared(ep, f"{DISTRIBUTION}'s pyproject.toml")
    return declared


def _checkout_entry_points() -> list[EntryPoint] | None:
    """sweep's own entry points when it runs from a source checkout, else None.

    An editable install writes the entry points into its metadata when it is installed, and
    they go stale when pyproject.toml changes after (a built-in component added, a branch
    switched): the components would go missing, or point to modules that are gone. In a
    checkout, the pyproject.toml beside the `sweep` package is the truth.
    """
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if not pyproject.is_file():
        return None
    project = tomllib.loads(pyproject.read_text()).get("project", {})
    if project.get("name") != DISTRIBUTION:
        return None
    group = project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
    return [EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in group.items()]
