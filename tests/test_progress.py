"""The run's progress: on a terminal a panel, in a log a line, both saying the same: the trial
by its number, fold, epoch of the trial's own max_epochs, current and best metric, counts, the
CPU budget and the time; epochs of a finished trial said with the folds they span."""

from __future__ import annotations

import dataclasses
import io

import optuna
from conftest import tiny_spec
from rich.console import Console

from sweep import progress as progress_module
from sweep import trials, workers
from sweep.progress import Snapshot, StudyProgress, clock, status_line, status_panel, status_rows
from sweep.pruning import FOLD_STEP
from sweep.run import run_study
from sweep.train import EpochRecord

STATES = optuna.trial.TrialState


class Clock:
    """The progress module's `time`, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now


def _progress(
    terminal: bool = False, cpu_budget: float | None = None, deadline: float | None = None
) -> tuple[StudyProgress, io.StringIO, optuna.Study]:
    out = io.StringIO()
    console = Console(  # as sweep.cli.app's: long lines stay whole when piped
        file=out, width=120, force_terminal=terminal, color_system=None, soft_wrap=True
    )
    progress = StudyProgress(console, "accuracy", max_epochs=2)
    study = optuna.create_study(study_name="demo", direction="maximize")
    progress.start(study, budget=3, cpu_budget=cpu_budget, deadline=deadline)
    return progress, out, study


def _record(epoch: int, seconds: float = 1.0) -> EpochRecord:
    return EpochRecord(epoch, 1.0, 1.0, {}, seconds, 1e-3)


def _finished(study, number_of_folds: int, epochs: int) -> optuna.trial.FrozenTrial:
    attrs = {trials.EPOCHS: epochs, trials.WALL_SECONDS: 1.0}
    if number_of_folds:
        attrs[trials.FOLD_VALUES] = [0.5] * number_of_folds
    study.add_trial(optuna.trial.create_trial(state=STATES.COMPLETE, value=0.5, user_attrs=attrs))
    return study.trials[-1]


def _add(study, state, value=None, **attrs) -> None:
    study.add_trial(optuna.trial.create_trial(state=state, value=value, user_attrs=attrs))


def _plain(renderable) -> str:
    """A renderable as the words a terminal shows, one space between them."""
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(renderable)
    return " ".join(out.getvalue().replace("│", " ").split())


def _shown(progress: StudyProgress) -> str:
    """What the terminal's panel shows now."""
    return _plain(progress.live.renderable)


def test_epochs_of_a_cross_validated_trial_are_said_with_their_folds():
    progress, out, study = _progress()
    progress.trial_finished(study, _finished(study, 5, 10))
    progress.trial_finished(study, _finished(study, 0, 2))
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("trial 0: complete accuracy 0.5000 after 10 epochs in 5 folds, 1 s")
    assert lines[1].startswith("trial 1: complete accuracy 0.5000 after 2 epochs, 1 s")


def test_a_reference_the_pruner_would_have_stopped_says_where():
    progress, out, study = _progress()
    for number_of_folds, step in [(0, 3), (5, 2), (5, FOLD_STEP + 1)]:
        attrs = {trials.EPOCHS: 10, trials.WALL_SECONDS: 1.0, trials.WOULD_PRUNE_AT: step}
        if number_of_folds:
            attrs[trials.FOLD_VALUES] = [0.5] * number_of_folds
        _add(study, STATES.COMPLETE, 0.5, **attrs)
        progress.trial_finished(study, study.trials[-1])
    lines = out.getvalue().splitlines()
    said = "(the pruner would have stopped it {})"
    assert said.format("at epoch 3") in lines[0]
    assert said.format("at epoch 2 of the first fold") in lines[1]
    assert said.format("after fold 2") in lines[2]


def test_a_finished_trials_line_ends_with_the_best_and_the_counts():
    progress, out, study = _progress()
    _add(study, STATES.PRUNED)
    progress.trial_finished(study, _finished(study, 0, 2))
    line = out.getvalue().splitlines()[0]
    assert line.endswith("| best 0.5000 (trial 1), 1 complete, 1 pruned, 0 failed")


def test_on_a_terminal_the_view_names_the_trial_by_its_number():
    progress, _, study = _progress(terminal=True)
    _finished(study, 0, 2)
    _finished(study, 0, 2)
    progress.epoch(2, _record(1), 0.5)
    assert "trial 2 (3 of 3) epoch 1/2 accuracy 0.5000" in _shown(progress)


def test_two_running_trials_each_have_their_own_place_in_the_budget():
    """With several workers: the places are counted as the objective's budget check counts
    them (trials numbered before, finished or running), not from the finished ones alone."""
    progress, _, study = _progress(terminal=True)
    first, second = study.ask(), study.ask()
    _add(study, STATES.COMPLETE, 0.5)  # trial 2, finished before the others
    progress.epoch(second.number, _record(1), 0.5)
    assert "trial 1 (2 of 3)" in _shown(progress)
    progress.epoch(first.number, _record(1), 0.5)
    assert "trial 0 (1 of 3)" in _shown(progress)


def test_on_a_terminal_the_view_says_the_fold_and_the_trials_own_max_epochs(monkeypatch):
    monkeypatch.setattr(progress_module, "time", clock_ := Clock())
    progress, _, _ = _progress(terminal=True)
    clock_.now += progress_module.REDRAW_SECONDS  # an epoch that is not a first is drawn then
    progress.epoch(0, _record(3), 0.5, "2/5")
    assert "fold 2/5 epoch 3/2" in _shown(progress)  # the spec's max_epochs
    progress.epoch(0, _record(1), 0.5, "3/5", max_epochs=12)  # enqueued or searched
    assert "fold 3/5 epoch 1/12" in _shown(progress)


def test_on_a_terminal_the_view_names_the_backbone_the_trials_parameters_name():
    progress, _, study = _progress(terminal=True)
    study.enqueue_trial({"model.backbone": "cnn"})
    trial = study.ask()
    trial.suggest_categorical("model.backbone", ["cnn", "lstm"])
    progress.epoch(trial.number, _record(1), 0.5)
    assert f"trial {trial.number} (1 of 3) backbone cnn epoch 1/2" in _shown(progress)
    other = study.ask()  # a search that does not name the backbone
    progress.epoch(other.number, _record(1), 0.5)
    assert "backbone" not in _shown(progress)


def test_on_a_terminal_the_view_says_current_and_best_values_and_the_counts():
    progress, _, study = _progress(terminal=True)
    _add(study, STATES.COMPLETE, 0.7)
    _add(study, STATES.PRUNED)
    _add(study, STATES.FAIL)
    _add(study, STATES.FAIL, **{trials.SURPLUS: True})  # dropped before training: not shown
    progress.epoch(4, _record(1), 0.25)
    shown = _shown(progress)
    assert "accuracy 0.2500 best 0.7000 (trial 0)" in shown
    assert "trials 1 complete, 1 pruned, 1 failed" in shown


def test_with_a_cpu_budget_the_view_says_the_minutes_spent_of_it_and_left(monkeypatch):
    monkeypatch.setattr(progress_module, "time", clock_ := Clock())
    progress, out, study = _progress(cpu_budget=15 * 60, deadline=clock_.now + 600)
    _add(study, STATES.COMPLETE, 0.5, **{trials.CPU_SECONDS: 180.0})
    running = study.ask()
    running.set_user_attr(trials.CPU_SECONDS_SO_FAR, 72.0)  # 252 s of 900: 4.2 min, 28%
    clock_.now += 65
    progress.epoch(running.number, _record(1), 0.5, "1/5")
    line = out.getvalue().splitlines()[-1]
    assert line.endswith("CPU 4.2 of 15 min (28%, 10.8 left)  elapsed 1:05 of 10:00")


def test_without_a_cpu_budget_the_view_says_the_time_alone(monkeypatch):
    monkeypatch.setattr(progress_module, "time", clock_ := Clock())
    progress, out, study = _progress()
    _add(study, STATES.COMPLETE, 0.5, **{trials.CPU_SECONDS: 180.0})
    clock_.now += 3725
    progress.epoch(1, _record(1), 0.5, "1/5")
    line = out.getvalue().splitlines()[-1]
    assert line.endswith("trials 1 complete, 0 pruned, 0 failed  elapsed 1:02:05")
    assert "CPU" not in line


def test_a_spent_cpu_budget_has_nothing_left():
    snapshot = Snapshot("demo", 3, 3, "-", 0, 3, 0, 0.0, cpu_spent=1200.0, cpu_budget=900.0)
    assert ("CPU", "20.0 of 15 min (133%, 0.0 left)") in status_rows(snapshot)[-1]


def test_the_panel_and_the_line_say_the_same_fields():
    snapshot = Snapshot(
        "demo", 20, 5, "0.7000 (trial 2)", 3, 1, 0, 42.0, None, 30.0, 900.0,
        trial=6, backbone="cnn", fold="2/5", epoch=3, max_epochs=12, metric="accuracy",
        value=0.5,
    )  # fmt: skip
    rows = status_rows(snapshot)
    assert [[label for label, _ in row] for row in rows] == [
        ["study", "trial", "backbone"],
        ["fold", "epoch", "accuracy", "best"],
        ["trials"],
        ["CPU", "elapsed"],
    ]
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(status_panel(rows))
    panel = [line.strip("│ ") for line in out.getvalue().splitlines()[1:-1]]
    line = status_line(rows)
    assert panel == ["  ".join(f"{label} {text}" for label, text in row) for row in rows]
    assert line == "  ".join(panel)


def test_the_clock_says_minutes_and_hours():
    assert [clock(s) for s in (0, 65.9, 3725)] == ["0:00", "1:05", "1:02:05"]


def test_stop_leaves_the_terminal_clean_and_may_be_called_twice():
    progress, out, study = _progress(terminal=True)
    progress.epoch(0, _record(1), 0.5)
    assert progress.live is not None
    progress.stop()
    progress.stop()  # a signal's acknowledgement, then the run's own cleanup
    progress.console.print("after")
    assert progress.live is None
    assert out.getvalue().endswith("after\n")  # no view drawn again below it
    assert "\x1b[?25h" in out.getvalue()  # the cursor shown again
    again = StudyProgress(progress.console, "accuracy", max_epochs=2)  # the next target's
    again.start(study, budget=3)
    again.console.print("next")
    assert not out.getvalue().endswith("next\n")  # its own view is drawn below the line
    again.stop()


def test_without_a_terminal_a_line_when_a_fold_begins_and_a_heartbeat_in_between(monkeypatch):
    monkeypatch.setattr(progress_module, "time", clock_ := Clock())
    progress, out, study = _progress()  # a StringIO console: no terminal, no live view
    assert progress.live is None

    def epoch(n: int, fold: str | None, seconds: float) -> None:
        clock_.now += seconds
        progress.epoch(0, _record(n, seconds), 0.5, fold)

    epoch(1, "1/5", 1)  # a fold begins: said
    epoch(2, "1/5", 1)  # 2 s later: quiet
    epoch(3, "1/5", progress_module.HEARTBEAT_SECONDS)  # a long epoch: said
    epoch(1, "2/5", 1)  # the next fold begins: said
    epoch(1, None, 1)  # one split: quiet until the heartbeat
    lines = out.getvalue().splitlines()
    assert [line.split("  ")[:4] for line in lines] == [
        ["study demo", "trial 0 (1 of 3)", "fold 1/5", "epoch 1/2"],
        ["study demo", "trial 0 (1 of 3)", "fold 1/5", "epoch 3/2"],
        ["study demo", "trial 0 (1 of 3)", "fold 2/5", "epoch 1/2"],
    ]


def test_a_workers_epoch_event_carries_the_trials_max_epochs():
    progress, out, study = _progress()
    event = [0, dataclasses.asdict(_record(1)), 0.5, "1/5", 7]  # as a worker sends it
    workers._dispatch("epoch", event, study, progress, errors=[])
    assert "  epoch 1/7  " in out.getvalue()


def test_each_epoch_event_says_the_trials_own_max_epochs_and_comes_with_its_cpu(
    tmp_path, tiny_root
):
    """An enqueued or searched `training.max_epochs` is the E of each epoch's e/E, the
    spec's (3) the reference's; and the study's CPU spent, as the view reads it then,
    includes the epoch that just ended (the first epoch's too)."""
    search = {
        "n_trials": 3,
        "budget": 10_000,  # CPU minutes: never spent here
        "space": {"training.max_epochs": {"low": 1, "high": 3}},
        "enqueue": [{"training.max_epochs": 1}],
    }
    spec = tiny_spec(tmp_path, tiny_root, search=search)
    said: list[tuple[int, int, float | None]] = []  # (trial, max_epochs, its CPU so far)

    class Epochs(StudyProgress):
        def epoch(self, number, record, value, fold=None, max_epochs=None) -> None:
            running = next(t for t in self.study.get_trials() if t.number == number)
            said.append((number, max_epochs, running.user_attrs.get(trials.CPU_SECONDS_SO_FAR)))

    progress = Epochs(Console(file=io.StringIO()), spec.metric, spec.training.max_epochs)
    study = run_study(spec, tmp_path / "results", progress=progress).study
    expected = {t.number: t.params["training.max_epochs"] for t in study.trials}
    assert {n for n, _, _ in said} == set(expected)
    assert all(max_epochs == expected[n] for n, max_epochs, _ in said)
    assert expected[0] == 3 and expected[1] == 1  # the reference's, the enqueued one's
    assert all(cpu is not None and cpu > 0 for _, _, cpu in said)
