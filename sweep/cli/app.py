"""The command line's shared parts: the Typer apps, the consoles, the spec options.

Each command group is a module of `sweep.cli` that registers its commands on the apps here;
`sweep.cli.main` runs them and is the only place that prints an error and exits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sweep import __version__

app = typer.Typer(
    name="sweep",
    help="Declarative AutoML sweeps for music models trained on spectrograms.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
data_app = typer.Typer(
    help="Data sets: demo data, feature extraction, summaries, the cache.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
check_app = typer.Typer(help="Sanity checks before a long sweep.", no_args_is_help=True)
app.add_typer(check_app, name="check")

console = Console(soft_wrap=True)  # long paths stay on one line when piped
err_console = Console(stderr=True, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"sweep {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Declarative AutoML sweeps for music models trained on spectrograms."""


SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a spec field: --set training.lr=3e-4 (repeatable)."),
]
CodeOption = Annotated[
    list[Path] | None,
    typer.Option("--code", help="Import a Python file of your own components first."),
]


def load_checked_spec(
    spec_path: Path,
    overrides: list[str] | None,
    code: list[Path] | None,
    data_root: Path | None = None,
):
    """Read and fully check a spec (schema, registry names, space) before anything runs."""
    from sweep.registry import import_user_code
    from sweep.specfile import load_spec_with_source
    from sweep.validate import check_spec

    for path in code or []:
        import_user_code(path)
    spec, source = load_spec_with_source(spec_path, overrides or [], data_root)
    check_spec(spec, source)
    return spec
