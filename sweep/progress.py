"""The live view of a running study: trial, fold, epoch, current and best metric, counts, budget.

    progress = StudyProgress(console, "accuracy", max_epochs=30)
    progress.start(study, budget=20, cpu_budget=900.0)   # 15 CPU minutes
    progress.epoch(3, record, 0.61, "2/5", max_epochs=12)  # the trial's own max_epochs
    progress.trial_finished(study, trial)
    progress.stop()                                        # safe twice, and in a signal handler

What the view says is one function's, `status_rows`: rows of (label, text) pairs, shown two ways.
On a terminal they are a panel redrawn in place (rich's `Live`), with a line printed above it
per finished trial and per note. Piped to a file, a CI log or a notebook cell, they are one
line (`status_line`), printed when a fold begins and at least every HEARTBEAT_SECONDS of a
long trial (at an epoch's end), so that a log shows life.

The panel is redrawn on the run's own events only (an epoch's end, at most every
REDRAW_SECONDS, a finished trial), in the thread that runs them, and the study is read then
and only then. There is no refresh thread: `stop()` is called from a signal handler, and a
thread holding the view's lock while it waits for the console's (which the interrupted main
thread may hold) would hang it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import optuna
from rich.console import Console, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from sweep import trials
from sweep.pruning import FOLD_STEP
from sweep.train import EpochRecord

STATES = trials.STATES
HEARTBEAT_SECONDS = 30.0  # without a terminal: the longest silence within a trial
REDRAW_SECONDS = 0.25  # on a terminal: the shortest time between two redraws of the panel
BACKBONE_PARAM = "model.backbone"  # the parameter a search over backbones names them by


@dataclass(frozen=True)
class Snapshot:
    """What the view shows at one moment: the study's counts and budget, and, at an epoch's
    end, the trial that ran it (`trial` is None before the first epoch)."""

    study: str
    budget: int  # trials of the whole study
    position: int  # the running trial's place in that budget, from 1
    best: str  # "0.6120 (trial 4)", or "-" before a trial completes
    complete: int
    pruned: int
    failed: int
    elapsed: float  # wall seconds since the run started
    time_limit: float | None = None  # wall seconds this run may start trials in (--timeout)
    cpu_spent: float = 0.0  # CPU seconds, running trials' so far included
    cpu_budget: float | None = None  # CPU seconds of the whole study (search.budget)
    trial: int | None = None  # Optuna's trial.number
    backbone: str | None = None  # where the trial's parameters name one
    fold: str | None = None  # "k/K" in a cross-validated trial
    epoch: int = 0
    max_epochs: int = 0  # the trial's own (searched or enqueued training.max_epochs)
    metric: str = ""
    value: float = math.nan  # the metric at this epoch


def status_rows(snapshot: Snapshot) -> list[list[tuple[str, str]]]:
    """What the view says, as rows of (label, text) pairs: the terminal's panel shows the
    rows, a log's line runs them together, so that both say the same with the same numbers."""
    s = snapshot
    trial, epoch = [("study", s.study)], []
    if s.trial is not None:
        trial.append(("trial", f"{s.trial} ({s.position} of {s.budget})"))
        if s.backbone is not None:
            trial.append(("backbone", s.backbone))
        if s.fold is not None:
            epoch.append(("fold", s.fold))
        epoch += [("epoch", f"{s.epoch}/{s.max_epochs}"), (s.metric, f"{s.value:.4f}")]
    epoch.append(("best", s.best))
    budget = [] if s.cpu_budget is None else [("CPU", cpu_budget_text(s.cpu_spent, s.cpu_budget))]
    limit = "" if s.time_limit is None else f" of {clock(s.time_limit)}"
    budget.append(("elapsed", clock(s.elapsed) + limit))
    counts = [("trials", state_counts_text(s.complete, s.pruned, s.failed))]
    return [trial, epoch, counts, budget]


def status_line(rows: list[list[tuple[str, str]]]) -> str:
    """The rows as one line of a log: `study demo  trial 4 (5 of 20)  epoch 3/30  ...`."""
    return "  ".join(f"{label} {text}" for row in rows for label, text in row)


def status_panel(rows: list[list[tuple[str, str]]]) -> RenderableType:
    """The rows as the terminal's panel, a line each (wrapped where the terminal is narrow)."""
    text = Text()  # not markup: a study's or a backbone's name is shown as it is
    for i, row in enumerate(rows):
        for j, (label, value) in enumerate(row):
            text.append(("\n" if i else "") if j == 0 else "  ")
            text.append(label, style="dim")
            text.append(f" {value}")
    return Panel(text, expand=False, border_style="dim")


def state_counts_text(complete: int, pruned: int, failed: int) -> str:
    return f"{complete} complete, {pruned} pruned, {failed} failed"


def cpu_budget_text(spent: float, budget: float) -> str:
    """CPU seconds spent of a budget in seconds, in minutes: `4.2 of 15 min (28%, 10.8 left)`."""
    share = spent / budget if budget > 0 else 1.0
    left = max(0.0, budget - spent)
    return f"{spent / 60:.1f} of {budget / 60:g} min ({share:.0%}, {left / 60:.1f} left)"


def clock(seconds: float) -> str:
    """Wall seconds as m:ss, or h:mm:ss from an hour on."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


class StudyProgress:
    """The progress display `sweep run` gives `run_study` (see the module's docstring)."""

    def __init__(self, console: Console, metric: str, max_epochs: int) -> None:
        self.console = console
        self.metric = metric
        self.max_epochs = max_epochs  # the spec's: a trial's own comes with its epochs
        self.live: Live | None = None
        self.budget = 0
        self.cpu_budget: float | None = None
        self.time_limit: float | None = None
        self.study: optuna.Study | None = None
        self._maximize = True  # the study's direction, read once in start()
        self._started = time.monotonic()
        self._last_line = self._started  # without a terminal: when a line was last printed
        self._last_redraw = -math.inf  # on a terminal: when the panel was last drawn

    def start(
        self,
        study: optuna.Study,
        budget: int,
        cpu_budget: float | None = None,
        deadline: float | None = None,
    ) -> None:
        """`budget`: trials of the study; `cpu_budget`: its CPU seconds (sweep.workers'
        WorkPlan has both); `deadline`: the time.time() after which no trial starts."""
        self.study, self.budget, self.cpu_budget = study, budget, cpu_budget
        self._maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        self._started = self._last_line = time.monotonic()
        # to the second: the deadline was set a moment ago, from the whole seconds of --timeout
        self.time_limit = None if deadline is None else max(0, round(deadline - time.time()))
        done = self._snapshot()
        if done.complete + done.pruned:
            self.console.print(
                f"Continuing study {study.study_name!r}: {done.complete + done.pruned} of "
                f"{budget} trials already finished."
            )
        if self.console.is_terminal and not self.console.is_dumb_terminal:  # TERM=dumb: lines
            self.live = Live(console=self.console, auto_refresh=False, transient=True)
            self.live.start()
            self._redraw(done)

    def stop(self) -> None:
        """Ends the panel, leaving the terminal as it was; safe to call again (a signal's
        acknowledgement stops it first, then the run's own cleanup)."""
        live, self.live = self.live, None  # first: a signal during live.stop() finds it done
        if live is not None:
            live.stop()

    def note(self, text: str) -> None:
        """A line the user must read now (printed above the panel)."""
        self.console.print(f"note: {text}", markup=False, highlight=False)

    def epoch(
        self,
        number: int,
        record: EpochRecord,
        value: float,
        fold: str | None = None,
        max_epochs: int | None = None,
    ) -> None:
        """An epoch of trial `number` ended; `fold` is "k/K" in a cross-validated trial, and
        `max_epochs` the trial's own (None: the spec's)."""
        now = time.monotonic()
        begins = record.epoch == 1  # a trial's or a fold's first epoch: said at once
        if self.live is not None:
            if begins or now - self._last_redraw >= REDRAW_SECONDS:
                self._redraw(self._snapshot(number, record, value, fold, max_epochs))
            return
        if (begins and fold is not None) or now - self._last_line >= HEARTBEAT_SECONDS:
            snapshot = self._snapshot(number, record, value, fold, max_epochs)  # read only now
            self.console.print(status_line(status_rows(snapshot)), markup=False, highlight=False)
            self._last_line = now

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
        would = trial.user_attrs.get(trials.WOULD_PRUNE_AT)
        if would is not None and trial.value is not None:  # exempt from pruning (sweep.sampling)
            first = " of the first fold" if folds else ""
            at = (
                f"at epoch {would}{first}"
                if would < FOLD_STEP
                else f"after fold {would - FOLD_STEP + 1}"
            )
            why = f" (the pruner would have stopped it {at})"
        self._last_line = time.monotonic()
        now = self._snapshot()
        self.console.print(
            f"trial {trial.number}{tag}: {trial.state.name.lower()}{value} after {epochs} "
            f"epochs{over}, {seconds:.0f} s{why}  | best {now.best}, "
            + state_counts_text(now.complete, now.pruned, now.failed)
        )
        if self.live is not None:
            self._redraw(now)

    def _redraw(self, snapshot: Snapshot) -> None:
        self.live.update(status_panel(status_rows(snapshot)), refresh=True)
        self._last_redraw = time.monotonic()

    def _snapshot(
        self,
        number: int | None = None,
        record: EpochRecord | None = None,
        value: float = math.nan,
        fold: str | None = None,
        max_epochs: int | None = None,
    ) -> Snapshot:
        """The study read once (counts, best and CPU from the same list); with a trial's
        epoch, where that trial stands."""
        every = self.study.get_trials(deepcopy=False) if self.study else []
        shown = trials.shown(every)
        count = trials.state_counts(shown)
        running = next((t for t in shown if t.number == number), None)
        backbone = None if running is None else running.params.get(BACKBONE_PARAM)
        return Snapshot(
            study="" if self.study is None else self.study.study_name,
            budget=self.budget,
            position=min(self.budget, 1 + _counted_before(shown, number)),
            best=self._best(shown),
            complete=count["complete"],
            pruned=count["pruned"],
            failed=count["fail"],
            elapsed=time.monotonic() - self._started,
            time_limit=self.time_limit,
            cpu_spent=trials.cpu_spent(every) if self.cpu_budget else 0.0,
            cpu_budget=self.cpu_budget,
            trial=number,
            backbone=None if backbone is None else str(backbone),
            fold=fold,
            epoch=0 if record is None else record.epoch,
            max_epochs=max_epochs or self.max_epochs,
            metric=self.metric,
            value=value,
        )

    def _best(self, shown: list[optuna.trial.FrozenTrial]) -> str:
        """The best complete trial of `shown`, as Optuna's best_trial (the first of equals)."""
        complete = [t for t in shown if t.state == STATES.COMPLETE]
        if not complete:
            return "-"
        pick = max if self._maximize else min
        best = pick(complete, key=lambda t: t.value)
        return f"{best.value:.4f} (trial {best.number})"


def _counted_before(shown: list[optuna.trial.FrozenTrial], number: int | None) -> int:
    """Trials numbered before `number` that count for the budget, finished or running (as
    `sweep.objective.within_budget` counts them): with several workers, two running trials
    each have a place of their own; finished trials numbered after it do not move it."""
    if number is None:
        return sum(t.state in trials.FINISHED for t in shown)
    return sum(t.number < number and t.state in trials.IN_BUDGET for t in shown)
