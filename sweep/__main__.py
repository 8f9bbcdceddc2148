"""`python -m sweep` and the `sweep` command: SIGTERM taken from the first moment, then the CLI.

The command line's imports (torch, Typer, rich) take a second or more; a SIGTERM in that
second (a scheduler stopping a job it has just started) would otherwise end the process
with Python's default, silently and with no exit code of its own. Raised as `Interrupted`
here, it exits 143 as it does later.
"""

import signal
import sys

from sweep.signals import SIGNALS, exit_code, raise_interrupted


def main() -> None:
    for sig in SIGNALS:
        signal.signal(sig, raise_interrupted)
    try:
        from sweep.cli import main as command_line
    except KeyboardInterrupt as e:  # during the imports: nothing has started, nothing to keep
        sys.exit(exit_code(e))
    command_line()


if __name__ == "__main__":
    main()
