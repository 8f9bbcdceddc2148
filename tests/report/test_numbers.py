"""sweep.report.numbers: every reference row has its line, and a study's line holds its own
numbers (end to end, on the shared tiny studies); the numbers of hand-made records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pytest

from sweep.references import reference_table
from sweep.report.numbers import (
    baseline_lines,
    headline,
    main_lines,
    param_importances,
    report_number,
)
from sweep.report.records import StudyRecord
from tests.report.conftest import line_of, main_csv, number

STATES = optuna.trial.TrialState


def test_every_reference_row_is_in_the_table_with_or_without_a_study(studies):
    table = main_csv(studies)
    names = list(reference_table())
    assert len(names) == 11
    reference_lines = table[table.group != "other"]
    assert list(dict.fromkeys(reference_lines.reference_model)) == names  # in table order
    assert list(table.group[len(reference_lines) :]) == ["other"]  # then the studies without
    absent = table[table.status == "no study yet"]
    assert set(absent.reference_model) == set(names) - {
        "lstm_genre_all_beat",
        "lstm_emotion_all_beat",
    }
    markdown = (studies["written"].out / "REPORT.md").read_text()
    page = (studies["written"].out / "report.html").read_text()
    for name in names:
        assert name in markdown and name in page
    # the nine rows without a study: one line under the main table, not nine empty rows
    assert markdown.count("no study yet") == 0
    folded = next(line for line in markdown.splitlines() if "without a study here (9)" in line)
    for name in absent.reference_model:
        assert f"`{name}`" in folded
    for text in (markdown, page):  # the caveat is stated where the numbers are
        assert "575-track test set" in text and "Kaggle data" in text


def test_the_genre_line_is_the_study_s_own_numbers(studies):
    outcome = studies["outcomes"]["tiny_genre"]
    study, test = outcome.study, outcome.test
    line = line_of(studies, "tiny_genre", "lstm_genre_all_beat")
    assert number(line.report_value) == reference_table()["lstm_genre_all_beat"]["accuracy"]
    assert int(line.complete) == sum(t.state == STATES.COMPLETE for t in study.trials)
    assert int(line.pruned) == sum(t.state == STATES.PRUNED for t in study.trials)
    assert int(line.failed) == sum(t.state == STATES.FAIL for t in study.trials)
    assert number(line.best_validation) == study.best_value
    assert int(line.best_trial) == test["best"]["trial"] == study.best_trial.number
    assert number(line.best_test) == test["best"]["accuracy"]
    assert number(line.reference_test) == test["reference"]["accuracy"]
    assert int(line.reference_trial) == 0
    assert number(line.delta_test) == test["best"]["accuracy"] - test["reference"]["accuracy"]
    assert int(line.test_n) == test["best"]["n"] == 6
    assert number(line.trial_wall_seconds) == pytest.approx(
        sum(t.user_attrs["wall_seconds"] for t in study.trials), rel=1e-12
    )
    assert line.test_metric == "accuracy" and line.features == "chroma"


def test_a_regression_study_reports_spearman_per_target_and_the_mean(studies):
    test = studies["outcomes"]["tiny_emotion"].test
    line = line_of(studies, "tiny_emotion", "lstm_emotion_all_beat")
    row = reference_table()["lstm_emotion_all_beat"]
    assert number(line.report_value) == pytest.approx(
        np.mean([row["valence"], row["energy"], row["danceability"]])
    )
    assert line.test_metric == "mean Spearman (2 targets)"
    assert number(line.best_test) == test["best"]["spearman"]
    assert number(line.reference_test) == test["reference"]["spearman"]
    for target in ("valence", "energy"):
        stored = test["best"]["per_target"][target]["spearman"]
        assert number(line[f"best_test_spearman_{target}"]) == stored
        assert f"{target} {stored:.3f}" in line.best_test_details
    single = line_of(studies, "tiny_pt_valence", "lstm_emotion_all_beat")
    assert single.test_metric == "Spearman valence"


def test_single_target_studies_of_one_spec_get_a_mean_line(studies):
    table = main_csv(studies)
    combined = table[table.status == "combined"]
    assert list(combined.study) == ["tiny_pt: mean of 2 per-target studies"]
    parts = [
        line_of(studies, f"tiny_pt_{t}", "lstm_emotion_all_beat") for t in ("valence", "energy")
    ]
    expected = np.mean([number(p.best_test) for p in parts])
    assert number(combined.iloc[0].best_test) == pytest.approx(expected, abs=1e-12)
    assert int(combined.iloc[0].complete) == sum(int(p.complete) for p in parts)


def test_a_study_without_a_reference_row_gets_its_own_line(studies):
    line = line_of(studies, "tiny_multi", "")
    test = studies["outcomes"]["tiny_multi"].test
    assert line.group == "other" and line.task == "regression"
    assert number(line.best_test) == test["best"]["spearman"]
    assert line.test_metric == "mean Spearman (3 targets)"
    markdown = (studies["written"].out / "REPORT.md").read_text()
    section = markdown.split("## Study tiny_multi")[1].split("## Study")[0]
    assert "Skipped: 1 complete trial(s); importances need at least 2" in section
    assert "studies/tiny_multi/scatter.png" in section


# ----------------------------------------------------------------------------- hand-made


def record(name: str, test: dict, **raw) -> StudyRecord:
    """A study record without an Optuna study: what its test.json and spec say only."""
    return StudyRecord(name, Path(name), raw, None, None, test, {}, {})


def regression_test(spearman: float, **per_target: float) -> dict:
    per = {k: {"spearman": v, "pearson": v, "mse": 0.1} for k, v in per_target.items()}
    return {"trial": 1, "n": 10, "validation": 0.5, "spearman": spearman, "per_target": per}


def test_report_number_of_genre_emotion_and_transfer_rows():
    genre = {"accuracy": 0.5, "macro_f1": 0.25, "weighted_f1": 0.75, "beat": True}
    assert report_number(genre) == ("accuracy", 0.5, "macro-F1 0.25; weighted-F1 0.75")
    emotion = {"group": "emotion", "valence": 0.2, "energy": 0.4}
    what, value, details = report_number(emotion)
    assert (what, details) == ("mean Spearman", "valence 0.200; energy 0.400")
    assert value == pytest.approx(0.3)
    assert report_number({"group": "transfer", "valence": 0.1}) == ("Spearman valence", 0.1, "")
    assert report_number({"group": "x", "model": "lstm"}) == ("?", None, "")


def test_headline_matches_the_reference_row():
    assert headline(None, None) == ("", None, "")
    classified = {"accuracy": 0.8, "macro_f1": 0.75}
    assert headline(classified, None) == ("accuracy", 0.8, "macro-F1 0.750")
    both = regression_test(0.3, valence=0.2, energy=0.4)
    assert headline(both, {"valence": 0.5}) == ("Spearman valence", 0.2, "")  # the row's axis
    assert headline(both, None) == (
        "mean Spearman (2 targets)",
        0.3,
        "valence 0.200; energy 0.400",
    )
    assert headline(regression_test(0.2, valence=0.2), None) == ("Spearman valence", 0.2, "")


def test_main_lines_of_hand_made_records():
    tested = record(
        "genre",
        {
            "best": {"trial": 3, "n": 20, "validation": 0.9, "accuracy": 0.8, "macro_f1": 0.7},
            "reference": {"trial": 0, "n": 20, "validation": 0.6, "accuracy": 0.5, "macro_f1": 0.4},
        },
        reference=["lstm_genre_all_beat"],
        data={"dataset": "fma_genre", "features": "fused", "beat": True, "root": "data"},
    )
    lines = main_lines([tested, record("other", {})])
    assert len(lines) == len(reference_table()) + 1  # every row once, then the other study
    line = next(line for line in lines if line.get("study") == "genre")
    assert line["status"] == "study unreadable"  # no Optuna study behind the record
    assert (line["best_trial"], line["best_test"], line["reference_test"]) == (3, 0.8, 0.5)
    assert line["delta_test"] == pytest.approx(0.3)
    assert (line["complete"], line["trial_wall_seconds"]) == (0, 0.0)
    assert lines[-1]["group"] == "other" and lines[-1]["study"] == "other"


def test_per_target_studies_of_one_spec_are_averaged():
    members = [
        record(
            f"pt_{target}",
            {"best": regression_test(s, **{target: s}), "reference": regression_test(0.0)},
            reference=["lstm_emotion_all_beat"],
            task={"kind": "regression", "targets": [target]},
            data={"dataset": "multitask", "features": "chroma", "beat": True, "root": "r"},
        )
        for target, s in (("valence", 0.2), ("energy", 0.4))
    ]
    (combined,) = [line for line in main_lines(members) if line.get("status") == "combined"]
    assert combined["study"] == "pt: mean of 2 per-target studies"
    assert combined["best_test"] == pytest.approx(0.3)
    assert combined["delta_test"] == pytest.approx(0.3)
    assert combined["best_test_details"] == "valence 0.200; energy 0.400"
    assert combined["baseline_test"] is None  # no baseline for either member


def test_baseline_lines_are_one_per_baseline_key():
    from sweep.report.baseline import BaselineResult

    base = BaselineResult(
        "Ridge",
        {"alpha valence": 10.0},
        {"spearman valence": 0.5},
        regression_test(0.25, valence=0.25),
        {"train": 8, "validation": 2, "test": 3},
        1.5,
    )
    a, b = record("a", {}, data={"dataset": "multitask"}), record("b", {})
    for r in (a, b):
        r.baseline, r.baseline_key = base, "same data and split"
    (line,) = baseline_lines([a, b, record("c", {})])
    assert line["studies"] == "a, b"
    assert (line["train"], line["validation"], line["test"]) == (8, 2, 3)
    assert line["chosen"] == "alpha valence=10"
    assert line["validation_spearman_valence"] == 0.5
    assert (line["test_spearman_mean"], line["test_spearman_valence"]) == (0.25, 0.25)


def test_importances_need_two_complete_trials():
    assert param_importances(record("empty", {})) == (
        None,
        "0 complete trial(s); importances need at least 2",
    )
