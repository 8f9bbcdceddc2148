"""SIGINT and SIGTERM as one exception: acknowledged at once, the running trial recorded.

    with stop_on_signals(acknowledge=lambda name: print(f"{name}: stopping")):
        run_study(...)      # raises Interrupted(SIGTERM) when `timeout` or a scheduler stops it
    # exit code: interrupted.exit_code (130 for SIGINT, 143 for SIGTERM)

Python turns SIGINT into KeyboardInterrupt; SIGTERM (what `timeout`, a batch scheduler or
`docker stop` sends) would end the process at once, leaving its trial RUNNING for a later run
to find. Here both raise `Interrupted`, a KeyboardInterrupt, so every `except
KeyboardInterrupt` cleans up the same way for either: Optuna records the running trial as
failed, the objective stores the signal as its reason, and workers are stopped.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)
received: list[int] = []  # every signal taken here, in order (Typer turns an interrupt into
# a bare exit code 130 when it comes while the command line is parsed: this tells which)


class Interrupted(KeyboardInterrupt):
    """A stop asked for by a signal; `exit_code` is the shell's 128 + its number."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        self.signum = int(signum)
        self.name = signal.Signals(signum).name
        super().__init__(self.name)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def signal_name(error: BaseException) -> str:
    """The signal an interruption came from (a bare KeyboardInterrupt is SIGINT's)."""
    return error.name if isinstance(error, Interrupted) else "SIGINT"


def exit_code(error: BaseException) -> int:
    return error.exit_code if isinstance(error, Interrupted) else 128 + signal.SIGINT


def raise_interrupted(signum: int, frame=None) -> None:
    """A signal handler: raise `Interrupted` for the signal received."""
    received.append(int(signum))
    raise Interrupted(signum)


@contextlib.contextmanager
def stop_on_signals(acknowledge: Callable[[str], None] | None = None) -> Iterator[None]:
    """SIGINT and SIGTERM raise `Interrupted` inside the block; the first one is first
    acknowledged (`acknowledge(signal name)`, before anything is cleaned up). The handlers
    before it are restored after the block."""
    acknowledged = False

    def handler(signum: int, frame) -> None:
        nonlocal acknowledged
        if acknowledge is not None and not acknowledged:
            acknowledged = True
            acknowledge(signal.Signals(signum).name)
        raise_interrupted(signum)

    before = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, previous in before.items():
            signal.signal(s, previous)
