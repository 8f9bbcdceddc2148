"""The command line's shared parts: the Typer apps, the consoles, the spec options.

Each command group is a module of `sweep.cli` that registers its commands on the apps here,
each with `cls=Command`; `sweep.cli.main` runs them and is the only place that prints an
error and exits (`validate`, which lists every problem, prints them with `print_error`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

from sweep import __version__
from sweep.errors import SweepError

try:  # newer Typer carries its own copy of click, with its own exception classes
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # older Typer runs on click itself
    from click.exceptions import ClickException, UsageError

console = Console(soft_wrap=True)  # long paths stay on one line when piped
err_console = Console(stderr=True, soft_wrap=True)


def print_error(message: str) -> None:
    """Print a user error as the command line does: one line on stderr, `error: ` first."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)


def usage_error_line(error: ClickException) -> str:
    """Click's message on one line, with the help of the command it is about.

    "No such option: --bogus (see 'sweep run --help')".
    """
    message = " ".join(line.strip() for line in error.format_message().splitlines())
    message = message.strip().removesuffix(".")
    ctx = getattr(error, "ctx", None)
    return f"{message} (see '{ctx.command_path if ctx else 'sweep'} --help')"


class _UsageErrorsNameTheCommand:
    """click's parser raises some usage errors ("Option '--set' requires an argument")
    without the context that names the command; `main` points at that command's help."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except UsageError as e:
            if e.ctx is None:
                e.ctx, e.cmd = ctx, self
            raise


class Group(_UsageErrorsNameTheCommand, TyperGroup):
    """A command group (`sweep`, `sweep data`, `sweep check`)."""


class Command(_UsageErrorsNameTheCommand, TyperCommand):
    """A command whose help names an argument by its metavar alone.

    Typer writes its own type beside every argument (`SPEC <list[Path]>`, `STUDY
    <list[str]>`); an argument given a metavar here says what it is in its name and help.
    """

    def format_options(self, ctx, formatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {"Arguments": [], "Options": []}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            name, text = record
            if param.param_type_name == "argument":
                if param.metavar is not None:
                    name = param.metavar + ("..." if param.nargs != 1 else "")
                sections["Arguments"].append((name, text))
            elif param.param_type_name == "option":
                sections["Options"].append((name, text))
        for title, rows in sections.items():
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


# Help as click writes it, not in Rich panels: it fills 80 columns, rewraps paragraphs, and
# shows no type beside a flag (Rich panels show `--force <bool>` and `--help <bool>`).
_APP_SETTINGS = dict(
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

app = typer.Typer(
    name="sweep",
    cls=Group,
    help="Declarative AutoML sweeps for music models trained on spectrograms.",
    pretty_exceptions_show_locals=False,
    add_completion=False,
    **_APP_SETTINGS,
)
data_app = typer.Typer(
    cls=Group, help="Data sets: demo data, feature extraction, summaries, cache.", **_APP_SETTINGS
)
app.add_typer(data_app, name="data")
check_app = typer.Typer(cls=Group, help="Sanity checks before a long sweep.", **_APP_SETTINGS)
app.add_typer(check_app, name="check")


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


SpecArgument = Annotated[Path, typer.Argument(metavar="SPEC", help="The spec (YAML).")]
DataRootOption = Annotated[
    Path | None, typer.Option(metavar="FOLDER", help="Override the spec's data.root.")
]
ResultsOption = Annotated[Path, typer.Option(metavar="FOLDER", help="Folder of study results.")]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="FIELD=VALUE",
        help="Override a spec field, e.g. --set training.lr=3e-4 (repeatable).",
    ),
]
CodeOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--code",
        metavar="FILE",
        help="Import a Python file of your own components first (repeatable).",
    ),
]


def check_output_folder(folder: Path, option: str) -> None:
    """Refuse, in one line and before any work, a folder a command would write into but
    cannot: `folder` itself, or the nearest part of its path that exists, is a file or is
    not writable. `option` names the flag or argument it came from (`--out`, `OUT`)."""
    if folder.exists() and not folder.is_dir():
        raise SweepError(f"{option} {folder}: is a file, not a folder")
    existing = next(p for p in (folder.absolute(), *folder.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise SweepError(f"{option} {folder}: {existing} is a file, so the folder cannot be made")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SweepError(f"{option} {folder}: {existing} is not writable")


def enqueue_notes(spec) -> list[str]:
    """One line per `search.enqueue` entry that leaves paths of its branches to the sampler
    (so it is not one fixed configuration), for `sweep validate` and `sweep run` to show."""
    from sweep.space import sampled_in_enqueued

    return [
        f"search.enqueue[{i}] leaves {', '.join(paths)} to the sampler"
        for i, paths in sampled_in_enqueued(spec)
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
