"""sweep.report.records: a study folder read into a record, every problem a note; the
trials.csv of a real study (end to end) and of a hand-made journal."""

from __future__ import annotations

import json

import optuna
import pandas as pd
import pytest

from sweep.errors import SweepError
from sweep.report.records import (
    find_studies,
    is_study_folder,
    load_study_record,
    split_file,
    trial_curves,
    trial_lines,
)
from sweep.storage import open_storage

STATES = optuna.trial.TrialState


def test_the_trials_table_has_every_trial(studies):
    study = studies["outcomes"]["tiny_genre"].study
    trials = pd.read_csv(studies["written"].out / "studies" / "tiny_genre" / "trials.csv")
    assert list(trials.number) == [t.number for t in study.trials]
    assert list(trials.state) == [t.state.name for t in study.trials]
    assert list(trials.value) == [t.value for t in study.trials]
    assert list(trials.reference) == [bool(t.user_attrs.get("reference")) for t in study.trials]
    assert list(trials.wall_seconds) == [t.user_attrs["wall_seconds"] for t in study.trials]
    assert list(trials.epochs) == [t.user_attrs["epochs"] for t in study.trials]
    assert {"params.model.backbone_params.hidden_size", "params.training.lr"} <= set(trials)


def journal_study(folder, name: str = "s") -> optuna.Study:
    """A journal study in `folder` as `sweep run` leaves one: a complete reference, a
    better complete trial, a pruned one and one dropped as over the budget."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(
        study_name=name, storage=open_storage(None, folder), direction="maximize"
    )
    study.set_user_attr("metric", "accuracy")
    distribution = optuna.distributions.FloatDistribution(0.0, 1.0)

    def add(state, value, **attrs) -> None:
        trial = optuna.trial.create_trial(
            state=state,
            value=value,
            params={"x": 0.5},
            distributions={"x": distribution},
            user_attrs={"wall_seconds": 2.0, **attrs},
            intermediate_values={1: 0.25, 2: 0.5} if state == STATES.PRUNED else {},
        )
        study.add_trial(trial)

    add(STATES.COMPLETE, 0.5, reference=True, epochs=4, best_epoch=3)
    add(STATES.COMPLETE, 0.75, epochs=5)
    add(STATES.PRUNED, None, reason="pruned at epoch 2")
    add(STATES.FAIL, None, surplus=True)
    return study


def test_a_record_reads_the_journal_and_the_folder(tmp_path):
    folder = tmp_path / "s"
    journal_study(folder)
    (folder / "test.json").write_text(json.dumps({"best": {"trial": 1}}))
    (folder / "split.json").write_text(json.dumps({"train": ["a"], "test": ["b"]}))
    record = load_study_record(folder)
    assert [t.number for t in record.trials] == [0, 1, 2]  # the surplus trial is not shown
    assert record.counts == {"COMPLETE": 2, "PRUNED": 1, "FAIL": 0, "RUNNING": 0, "WAITING": 0}
    assert record.wall_seconds == 6.0
    assert (record.metric, record.direction) == ("accuracy", "maximize")
    assert record.best_trial.number == 1 and record.reference_trial.number == 0
    assert record.split == {"train": ["a"], "test": ["b"]}
    assert record.notes == ["no `spec.yaml`: data, model and reference row unknown"]
    assert is_study_folder(folder) and split_file(folder) == folder / "split.json"
    assert record.trial_folder(3) == folder / "trials" / "3"
    lines = trial_lines(record)
    assert [(t["number"], t["state"], t["value"]) for t in lines] == [
        (0, "COMPLETE", 0.5),
        (1, "COMPLETE", 0.75),
        (2, "PRUNED", None),
    ]
    assert lines[0]["reference"] and not lines[1]["reference"]
    assert [t["epochs"] for t in lines] == [4, 5, 2]  # a pruned trial: the epochs it reported
    assert (lines[0]["best_epoch"], lines[2]["last_reported"], lines[2]["reason"]) == (
        3,
        0.5,
        "pruned at epoch 2",
    )
    assert lines[0]["params.x"] == 0.5


def test_every_problem_is_a_note(tmp_path):
    folder = tmp_path / "s"
    journal_study(folder, name="renamed")  # a renamed folder still holds its one study
    (folder / "test.json").write_text("{not json")
    (folder / "spec.yaml").write_text("study: s\nno_such_section: 1\n")
    record = load_study_record(folder)
    assert record.study is not None and record.spec is None and record.test == {}
    assert record.raw == {"study": "s", "no_such_section": 1}
    assert record.notes[0].startswith("`spec.yaml` does not validate with this sweep")
    assert record.notes[1].startswith("`test.json` could not be read (JSONDecodeError")
    assert record.notes[2] == "no test result yet: run the spec again to test the best trial"

    empty = load_study_record(tmp_path / "nothing")
    assert empty.study is None and empty.trials == [] and empty.best_trial is None
    assert "holds no study named 'nothing'" in empty.notes[0]
    assert split_file(tmp_path / "nothing") is None and not is_study_folder(tmp_path)


def test_the_studies_to_report(tmp_path):
    for name in ("b", "a"):
        journal_study(tmp_path / name, name)
    (tmp_path / "report").mkdir()  # no journal: not a study
    assert find_studies(tmp_path) == [tmp_path / "a", tmp_path / "b"]
    assert find_studies(tmp_path, ["b", "b"]) == [tmp_path / "b"]
    with pytest.raises(SweepError, match="no study 'c' in .*; available: a, b"):
        find_studies(tmp_path, ["c"])


def test_curves_of_a_cross_validated_trial_are_its_first_fold_s(tmp_path):
    folder = tmp_path / "s"
    journal_study(folder)
    record = load_study_record(folder)
    assert trial_curves(record, 0) is None  # no curves.json
    record.trial_folder(0).mkdir(parents=True)
    curves = [{"fold": f, "epoch": e} for f in (0, 1) for e in (1, 2)]
    (record.trial_folder(0) / "curves.json").write_text(json.dumps(curves))
    assert trial_curves(record, 0) == curves[:2]
