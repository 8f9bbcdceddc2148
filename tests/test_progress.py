"""The run's progress: the same trial number in the live line and the trial's own line, and
epochs said with the folds they span."""

from __future__ import annotations

import io

import optuna
from rich.console import Console

from sweep import trials
from sweep.progress import StudyProgress
from sweep.train import EpochRecord

STATES = optuna.trial.TrialState


def _progress() -> tuple[StudyProgress, io.StringIO, optuna.Study]:
    out = io.StringIO()
    progress = StudyProgress(Console(file=out, width=200), "accuracy", max_epochs=2)
    study = optuna.create_study(direction="maximize")
    progress.start(study, budget=3)
    return progress, out, study


def _finished(study, number_of_folds: int, epochs: int) -> optuna.trial.FrozenTrial:
    attrs = {trials.EPOCHS: epochs, trials.WALL_SECONDS: 1.0}
    if number_of_folds:
        attrs[trials.FOLD_VALUES] = [0.5] * number_of_folds
    study.add_trial(optuna.trial.create_trial(state=STATES.COMPLETE, value=0.5, user_attrs=attrs))
    return study.trials[-1]


def test_epochs_of_a_cross_validated_trial_are_said_with_their_folds():
    progress, out, study = _progress()
    progress.trial_finished(study, _finished(study, 5, 10))
    progress.trial_finished(study, _finished(study, 0, 2))
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("trial 0: complete accuracy 0.5000 after 10 epochs in 5 folds, 1 s")
    assert lines[1].startswith("trial 1: complete accuracy 0.5000 after 2 epochs, 1 s")


def test_the_live_line_names_the_trial_by_its_number():
    progress, _, study = _progress()
    _finished(study, 0, 2)
    _finished(study, 0, 2)

    class Status:  # the live line, as rich's Status takes it
        def update(self, text: str) -> None:
            self.text = text

    progress.status = Status()
    progress.epoch(2, EpochRecord(1, 1.0, 1.0, {}, 1.0, 1e-3), 0.5)
    assert progress.status.text.startswith("trial 2 (3 of 3)  epoch 1/2  accuracy 0.5000")


def test_the_live_line_says_the_fold():
    progress, _, study = _progress()

    class Status:
        def update(self, text: str) -> None:
            self.text = text

    progress.status = Status()
    progress.epoch(0, EpochRecord(3, 1.0, 1.0, {}, 1.0, 1e-3), 0.5, "2/5")
    assert progress.status.text.startswith("trial 0 (1 of 3)  fold 2/5  epoch 3/2")


def test_without_a_terminal_a_line_when_a_fold_begins_and_a_heartbeat_in_between(monkeypatch):
    from sweep import progress as progress_module

    clock = [1000.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    progress, out, study = _progress()  # a StringIO console: no terminal, no status line
    assert progress.status is None

    def epoch(n: int, fold: str | None, seconds: float) -> None:
        clock[0] += seconds
        progress.epoch(0, EpochRecord(n, 1.0, 1.0, {}, seconds, 1e-3), 0.5, fold)

    epoch(1, "1/5", 1)  # a fold begins: said
    epoch(2, "1/5", 1)  # 2 s later: quiet
    epoch(3, "1/5", progress_module.HEARTBEAT_SECONDS)  # a long epoch: said
    epoch(1, "2/5", 1)  # the next fold begins: said
    epoch(1, None, 1)  # one split: quiet until the heartbeat
    lines = out.getvalue().splitlines()
    assert [line.split("  ")[1:3] for line in lines] == [
        ["fold 1/5", "epoch 1/2"],
        ["fold 1/5", "epoch 3/2"],
        ["fold 2/5", "epoch 1/2"],
    ]
