"""The `sweep` command line: the only place that prints errors and exits.

Every user error is printed as one line on stderr starting with `error: `, with exit code 2
and without a traceback: sweep's own (`SweepError`) and click's alike (an unknown option, a
missing argument, a bad option value), the latter pointing at the command's help. Anything
else is a bug in sweep and keeps its traceback. One module per command group registers its
commands on the apps of `sweep.cli.app`; each command is a thin call into the engine and
prints what it returns.
"""

from __future__ import annotations

import os
import signal
import sys

import typer

from sweep import signals
from sweep.cli.app import ClickException, app, err_console, print_error, usage_error_line
from sweep.errors import SweepError
from sweep.signals import exit_code

# isort: off
# the command groups register their commands; the order here is `sweep --help`'s
from sweep.cli import run, specs, components, predict, report, data  # noqa: F401, E402
# isort: on

__all__ = ["app", "main"]


def main() -> None:
    # Not standalone: click's own errors come here, to be printed as sweep prints its own.
    try:
        status = app(prog_name="sweep", standalone_mode=False)
    except ClickException as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # `sweep data`: the group's help
            _print_help(e.format_message())
        else:
            print_error(usage_error_line(e))
        sys.exit(e.exit_code)
    except SweepError as e:
        print_error(str(e))
        sys.exit(e.exit_code)
    except typer.Abort:
        print_error("aborted")
        sys.exit(1)
    except KeyboardInterrupt as e:
        err_console.print("interrupted", markup=False)
        sys.exit(exit_code(e))
    if status == 130 and signals.received:  # Typer's bare exit for an interrupt while parsing
        name = signal.Signals(signals.received[-1]).name
        err_console.print(f"interrupted ({name}): nothing was started", markup=False)
        sys.exit(128 + signals.received[-1])
    # a typer.Exit's code (`validate` exits 2 on a bad spec), else what the command returned
    sys.exit(status if isinstance(status, int) else 0)


def _print_help(text: str) -> None:
    try:
        print(text, flush=True)
    except BrokenPipeError:  # `sweep | head`: the reader has gone; so has stdout
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
