"""The `sweep` command line: the only place that prints errors and exits.

Every user error (`SweepError`) is printed as one line on stderr with exit code 2, without a
traceback; anything else is a bug in sweep and keeps its traceback. One module per command
group registers its commands on the apps of `sweep.cli.app`; each command is a thin call
into the engine and prints what it returns.
"""

from __future__ import annotations

import sys

from sweep.cli.app import app, err_console
from sweep.errors import SweepError
from sweep.signals import exit_code

# isort: off
# the command groups register their commands; the order here is `sweep --help`'s
from sweep.cli import run, specs, components, predict, report, data  # noqa: F401, E402
# isort: on

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except SweepError as e:
        err_console.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt as e:
        err_console.print("interrupted", markup=False)
        sys.exit(exit_code(e))
