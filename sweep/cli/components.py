"""`sweep components`: what is registered, with docs and parameters."""

from __future__ import annotations

from typing import Annotated

import typer

from sweep.cli.app import CodeOption, app, console
from sweep.errors import SweepError


@app.command("components")
def components(
    kind: Annotated[
        str | None, typer.Argument(help="datasets, features, backbones or heads.")
    ] = None,
    code: CodeOption = None,
) -> None:
    """List the registered components with their one-line docs and parameters."""
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
