"""The live view of a running study: trial i/N, fold, epoch, current and best metric, counts.

On a terminal it is one status line redrawn in place, with a line printed per finished trial.
Piped to a file, a CI log or a notebook cell, the per-trial lines, and between them the
status as a line when a fold begins and at least every HEARTBEAT_SECONDS of a long trial
(at an epoch's end), so that a log shows life.
"""

from __future__ import annotations

import time

import optuna
from rich.console import Console
from rich.status import Status

from sweep import trials
from sweep.train import EpochRecord

STATES = trials.STATES
HEARTBEAT_SECONDS = 30.0


class StudyProgress:
    def __init__(self, console: Console, metric: str, max_epochs: int) -> None:
        self.console = console
        self.metric = metric
        self.max_epochs = max_epochs
        self.status: Status | None = None
        self.budget = 0
        self.study: optuna.Study | None = None
        self._last_line = time.monotonic()  # without a terminal: when a line was last printed

    def start(self, study: optuna.Study, budget: int) -> None:
        self.study, self.budget = study, budget
        done = self._count(STATES.COMPLETE, STATES.PRUNED)
        if done:
            self.console.print(
                f"Continuing study {study.study_name!r}: {done} of {budget} "
                f"trials already finished."
            )
        if self.console.is_terminal:
            self.status = Status("starting", console=self.console)
            self.status.start()

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def note(self, text: str) -> None:
        """A line the user must read now (printed above the live status line)."""
        self.console.print(f"note: {text}", markup=False, highlight=False)

    def epoch(
        self, number: int, record: EpochRecord, value: float, fold: str | None = None
    ) -> None:
        """An epoch ended; `fold` is "k/K" in a cross-validated trial."""
        if self.status is not None:
            self.status.update(self._line(number, record, value, fold))
            return
        now = time.monotonic()
        fold_begins = fold is not None and record.epoch == 1
        if fold_begins or now - self._last_line >= HEARTBEAT_SECONDS:  # read the study then only
            line = self._line(number, record, value, fold)
            self.console.print(line, markup=False, highlight=False)
            self._last_line = now

    def _line(self, number: int, record: EpochRecord, value: float, fold: str | None) -> str:
        return (
            f"trial {number} ({self._position(number)} of {self.budget})  "
            + (f"fold {fold}  " if fold else "")
            + f"epoch {record.epoch}/{self.max_epochs}  {self.metric} {value:.4f}  best "
            f"{self._best()}  pruned {self._count(STATES.PRUNED)}  failed "
            f"{self._count(STATES.FAIL)}"
        )

    def trial_finished(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trials.is_surplus(trial):  # dropped before training (sweep.objective)
            return
        tag = " (reference)" if trials.is_reference(trial) else ""
        value = "" if trial.value is None else f" {self.metric} {trial.value:.4f}"
        reason = trial.user_attrs.get(trials.REASON, "")
        epochs = trial.user_attrs.get(trials.EPOCHS) or len(trial.intermediate_values)
        folds = len(trial.user_attrs.get(trials.FOLD_VALUES) or [])
        # with folds, the epochs are every fold's together: say so, or 5 x 2 reads as 10
        over = f" in {folds} fold{'s' if folds > 1 else ''}" if folds else ""
        seconds = trial.user_attrs.get(trials.WALL_SECONDS, 0.0)
        why = f" ({reason})" if reason and trial.value is None else ""
        self._last_line = time.monotonic()
        self.console.print(
            f"trial {trial.number}{tag}: {trial.state.name.lower()}{value} after {epochs} "
            f"epochs{over}, {seconds:.0f} s{why}"
            f"  | best {self._best()}, pruned {self._count(STATES.PRUNED)}"
        )

    def _best(self) -> str:
        try:
            best = self.study.best_trial
        except (ValueError, AttributeError):
            return "-"
        return f"{best.value:.4f} (trial {best.number})"

    def _count(self, *states: optuna.trial.TrialState) -> int:
        if self.study is None:
            return 0
        return len(trials.shown(self.study.get_trials(deepcopy=False, states=states)))

    def _position(self, number: int) -> int:
        finished = self._count(STATES.COMPLETE, STATES.PRUNED)
        return min(finished + 1, self.budget)
