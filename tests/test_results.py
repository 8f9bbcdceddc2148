"""A study's results folder: its paths, reading it read-only, finding the model it stands for."""

from __future__ import annotations

import json

import optuna
import pytest

from sweep.errors import SweepError
from sweep.results import (
    NoSuchModel,
    StudyFolder,
    TrialFolder,
    find_model,
    open_journal,
)
from sweep.results import (
    tested_as as how_tested,
)


def _journal_study(folder: StudyFolder, values: list[float | None], name: str | None = None):
    """A study in `folder`'s journal with one trial per value (None: a pruned trial)."""
    folder.path.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=name or folder.name, storage=open_journal(folder.journal), direction="maximize"
    )
    states = optuna.trial.TrialState
    for value in values:
        state = states.COMPLETE if value is not None else states.PRUNED
        study.add_trial(optuna.trial.create_trial(state=state, value=value))
    return study


def test_every_path_of_the_layout(tmp_path):
    folder = StudyFolder.of(tmp_path, "genre")
    assert folder.path == tmp_path / "genre" and folder.name == "genre"
    names = [folder.journal, folder.spec, folder.environment, folder.split, folder.test]
    assert [p.name for p in names] == [
        "optuna.journal",
        "spec.yaml",
        "environment.json",
        "split.json",
        "test.json",
    ]
    trial = folder.trial(3)
    assert trial.path == tmp_path / "genre" / "trials" / "3" and trial.number == 3
    assert [p.name for p in (trial.config, trial.curves, trial.checkpoint)] == [
        "config.yaml",
        "curves.json",
        "checkpoint.pt",
    ]
    assert (trial.fold_models.name, trial.refit.name) == ("folds.pt", "refit.pt")
    assert not (tmp_path / "genre").exists()  # naming paths creates nothing


def test_the_tested_model_is_the_fold_ensemble_then_the_refit_then_the_checkpoint(tmp_path):
    trial = TrialFolder(tmp_path / "trials" / "0")
    trial.path.mkdir(parents=True)
    assert trial.tested_model() == trial.checkpoint
    trial.refit.write_bytes(b"")
    assert trial.tested_model() == trial.refit
    trial.fold_models.write_bytes(b"")
    assert trial.tested_model() == trial.fold_models


def test_its_own_model_is_the_fold_ensemble_else_the_checkpoint_never_the_refit(tmp_path):
    trial = TrialFolder(tmp_path / "trials" / "0")
    trial.path.mkdir(parents=True)
    trial.refit.write_bytes(b"")
    assert trial.own_model() == trial.checkpoint
    trial.fold_models.write_bytes(b"")
    assert trial.own_model() == trial.fold_models


def test_trial_folders_are_numbered_and_sorted(tmp_path):
    folder = StudyFolder(tmp_path / "s")
    assert folder.trial_folders() == []
    for name in ("10", "2", "notes", "0"):
        (folder.trials / name).mkdir(parents=True)
    assert [t.number for t in folder.trial_folders()] == [0, 2, 10]


def test_curves_and_test_read_as_empty_when_absent_or_damaged(tmp_path):
    folder = StudyFolder(tmp_path / "s")
    trial = folder.trial(0)
    assert trial.read_curves() == [] and folder.read_test() == {}
    trial.path.mkdir(parents=True)
    trial.curves.write_text("[{")
    folder.test.write_text("not json")
    assert trial.read_curves() == [] and folder.read_test() == {}
    folder.write_json(folder.test, {"best": {"trial": 4}})
    trial.curves.write_text(json.dumps([{"epoch": 1}]))
    assert trial.read_curves() == [{"epoch": 1}]
    assert folder.read_test() == {"best": {"trial": 4}}


def test_the_best_trial_is_test_jsons_else_the_journals(tmp_path):
    folder = StudyFolder(tmp_path / "s")
    _journal_study(folder, [0.5, 0.9, None, 0.7])
    assert folder.best_trial_number() == 1
    folder.write_json(folder.test, {"best": {"trial": 3}})  # what the study tested wins
    assert folder.best_trial_number() == 3


def test_a_renamed_study_folder_still_reads_its_one_study(tmp_path):
    folder = StudyFolder(tmp_path / "renamed")
    _journal_study(folder, [0.2, 0.4], name="original")
    assert folder.load_study().study_name == "original"
    assert folder.best_trial_number() == 1


def test_reading_a_folder_that_is_no_study_creates_nothing(tmp_path):
    folder = StudyFolder(tmp_path / "empty")
    folder.path.mkdir()
    with pytest.raises(SweepError, match=r"not a study folder \(no test.json or optuna.journal\)"):
        folder.best_trial_number()
    assert list(folder.path.iterdir()) == []


def test_a_study_without_a_complete_trial_has_no_best(tmp_path):
    folder = StudyFolder(tmp_path / "s")
    _journal_study(folder, [None])
    with pytest.raises(SweepError, match="no completed trial, so no model to predict with"):
        folder.best_trial_number()


def test_find_model_takes_a_checkpoint_a_study_folder_or_a_study_name(tmp_path):
    results = tmp_path / "results"
    folder = StudyFolder.of(results, "genre")
    _journal_study(folder, [0.1, 0.8])
    folder.trial(1).path.mkdir(parents=True)
    folder.trial(1).checkpoint.write_bytes(b"")
    by_name = find_model("genre", results)
    by_folder = find_model(folder.path, tmp_path / "elsewhere")
    by_file = find_model(folder.trial(1).checkpoint, results)
    assert by_name.checkpoint == by_folder.checkpoint == by_file.checkpoint
    assert (by_name.study, by_name.trial) == (folder.path, 1)
    assert by_name.describe() == f"trial 1 of study {folder.path}"
    assert by_file.study is None and by_file.describe() == str(folder.trial(1).checkpoint)


def test_find_model_says_what_is_missing(tmp_path):
    results = tmp_path / "results"
    with pytest.raises(NoSuchModel, match=r"^nope.pt: checkpoint not found$"):
        find_model("nope.pt", results)
    with pytest.raises(NoSuchModel, match="no checkpoint file, study folder or study named 'x'"):
        find_model("x", results)
    folder = StudyFolder.of(results, "genre")
    _journal_study(folder, [0.3])
    with pytest.raises(SweepError, match=r"the best trial \(0\) has no checkpoint at "):
        find_model("genre", results)


def test_tested_as_reads_both_spellings():
    assert how_tested({"final": "ensemble"}) == "ensemble"
    assert how_tested({"refit": True}) == "refit"  # sweep 0.1
    assert how_tested({"refit": False}) == how_tested({}) == "model"
