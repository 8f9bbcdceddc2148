"""`sweep components`: what is registered, with docs and parameters."""

from __future__ import annotations

from typing import Annotated

import typer

from sweep.cli.app import CodeOption, Command, app, console
from sweep.errors import SweepError


@app.command("components", cls=Command)
def components(
    kind: Annotated[
        str | None,
        typer.Argument(
            metavar="KIND", help="datasets, features, backbones or heads (default: all)."
        ),
    ] = None,
    code: CodeOption = None,
) -> None:
    """List the registered components with their docs and parameters."""
    from sweep.registry import REGISTRIES, import_user_code

    for path in code or []:
        import_user_code(path)

    if kind is not None and kind not in REGISTRIES:
        raise SweepError(f"unknown component kind {kind!r}; choose from {', '.join(REGISTRIES)}")
    for key, registry in REGISTRIES.items():
        if kind not in (None, key):
            continue
        console.print(f"[bold]{key}[/]")
        for name in registry.names():
            info = registry.info(name)
            console.print(f"  [cyan]{name}[/]{info.signature}\n      {info.summary}")
