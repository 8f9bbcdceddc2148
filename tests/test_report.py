"""sweep report: every reference row, numbers equal to the study's records, a baseline on the
study's own split, plots that exist, a self-contained HTML file, and one-line errors."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import optuna
import pandas as pd
import pytest
import torch
import yaml

from sweep.baseline import pooled_features
from sweep.errors import SweepError
from sweep.references import reference_table
from sweep.report import find_studies, short_names, write_report
from sweep.report_plots import anchor
from sweep.run import run_study
from sweep.spec import TaskSpec
from sweep.tracks import TrackSet
from tests.conftest import tiny_spec as shared_tiny_spec
from tests.conftest import write_tiny_layout
from tests.test_cli import sweep

STATES = optuna.trial.TrialState
PNG = b"\x89PNG\r\n\x1a\n"


def tiny_spec(folder, root, study, reference, **sections):
    """A tiny LSTM study (as in test_study.py) that names a row of the reference table."""
    training = {"max_epochs": 2, **sections.pop("training", {})}
    return shared_tiny_spec(
        folder,
        root,
        f"{study}.yaml",
        study=study,
        reference=reference,
        training=training,
        **sections,
    )


def regression(root, targets):
    return {
        "data": {"dataset": "multitask", "root": str(root), "features": "chroma"},
        "task": {"kind": "regression", "targets": targets},
    }


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    """One results folder: a genre study, a two-target emotion study and two single-target
    studies of one spec (named <study>_<target>), all on the tiny data; and its report."""
    base = tmp_path_factory.mktemp("report")
    threads = torch.get_num_threads()
    # One thread: tiny models gain nothing from more, and a busy machine (other tests in
    # parallel) makes torch's thread pool spin instead of compute.
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:  # the module's own cache, never the user's
        mp.setenv("SWEEP_CACHE_DIR", str(base / "cache"))
        root = write_tiny_layout(base / "data")
        results = base / "results"
        outcomes = {}
        specs = [
            tiny_spec(base, root, "tiny_genre", ["lstm_genre_all_beat"]),
            tiny_spec(
                base,
                root,
                "tiny_emotion",
                ["lstm_emotion_all_beat"],
                **regression(root, ["valence", "energy"]),
            ),
        ]
        for target in ("valence", "energy"):
            specs.append(
                tiny_spec(
                    base,
                    root,
                    f"tiny_pt_{target}",
                    ["lstm_emotion_all_beat"],
                    **regression(root, [target]),
                    search={"n_trials": 2},
                )
            )
        specs.append(  # the multitask head, compared with no row: an "other" line
            tiny_spec(
                base,
                root,
                "tiny_multi",
                [],
                **regression(root, ["valence", "energy", "danceability"]),
                search={"n_trials": 1},
            ).model_copy(update={"task": TaskSpec(kind="multitask")})
        )
        try:
            for spec in specs:
                outcomes[spec.study] = run_study(spec, results)
            written = write_report(results)
        finally:
            torch.set_num_threads(threads)
    return {"root": root, "results": results, "outcomes": outcomes, "written": written}


def main_csv(studies) -> pd.DataFrame:
    return pd.read_csv(studies["written"].out / "main_table.csv", keep_default_na=False)


def line_of(studies, study: str, reference: str) -> pd.Series:
    table = main_csv(studies)
    rows = table[(table.study == study) & (table.reference_model == reference)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def number(x):
    return None if x == "" else float(x)


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
    assert markdown.count("no study yet") == 9
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


def test_files_exist_and_every_image_of_the_markdown_is_a_png(studies):
    out = studies["written"].out
    for name in ("REPORT.md", "report.html", "main_table.csv", "baselines.csv"):
        assert (out / name).is_file(), name
    markdown = (out / "REPORT.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    for path in images:
        assert (out / path).read_bytes()[:8] == PNG, path
    for study in ("tiny_genre", "tiny_emotion"):
        for figure in ("history", "importances", "curves"):
            assert f"studies/{study}/{figure}.png" in images, (study, figure)
    assert "studies/tiny_genre/confusion.png" in images
    assert "studies/tiny_emotion/scatter.png" in images
    assert all(p.is_file() for p in studies["written"].files)


def test_the_html_is_self_contained(studies):
    out = studies["written"].out
    page = (out / "report.html").read_text()
    sources = re.findall(r"""src\s*=\s*["']?([^"' >]*)""", page)
    markdown_images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (out / "REPORT.md").read_text())
    assert len(sources) == len(markdown_images) > 0
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', page))
    assert "<link" not in page and "<script" not in page
    assert "<table>" in page and "<style>" in page


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


def test_the_baseline_runs_on_the_study_s_own_split(studies):
    bases = pd.read_csv(studies["written"].out / "baselines.csv")
    split = json.loads((studies["results"] / "tiny_genre" / "split.json").read_text())
    genre = bases[bases.studies == "tiny_genre"].iloc[0]
    assert (genre.train, genre.validation, genre.test) == (
        len(split["train"]),
        len(split["validation"]),
        len(split["test"]),
    )
    assert 0 <= genre.test_accuracy <= 1 and 0 <= genre.test_macro_f1 <= 1
    assert genre.model == "LogisticRegression"
    emotion = bases[bases.studies == "tiny_emotion"].iloc[0]
    assert -1 <= emotion.test_spearman_mean <= 1
    assert {"test_spearman_valence", "test_spearman_energy"} <= set(bases)
    line = line_of(studies, "tiny_genre", "lstm_genre_all_beat")
    assert number(line.baseline_test) == genre.test_accuracy


def test_without_the_data_the_report_is_still_written(studies, tmp_path):
    results = tmp_path / "moved"
    for name in ("tiny_genre", "tiny_emotion"):
        shutil.copytree(studies["results"] / name, results / name)
        spec_path = results / name / "spec.yaml"
        raw = yaml.safe_load(spec_path.read_text())
        raw["data"]["root"] = str(tmp_path / "elsewhere")  # as on another machine
        spec_path.write_text(yaml.safe_dump(raw))
    written = write_report(results)
    assert any("data not found" in n for n in written.notes["tiny_genre"])
    markdown = (written.out / "REPORT.md").read_text()
    assert "No baseline" in markdown and "could not be rebuilt" in markdown
    line = pd.read_csv(written.out / "main_table.csv").query("study == 'tiny_genre'").iloc[0]
    assert line.best_test == studies["outcomes"]["tiny_genre"].test["best"]["accuracy"]
    # --data-root finds it again
    again = write_report(results, out=tmp_path / "again", data_root=studies["root"])
    assert "tiny_genre" not in again.notes
    assert len(pd.read_csv(again.out / "baselines.csv")) == 2


def test_errors_are_one_line(tmp_path, studies):
    with pytest.raises(SweepError, match="no such results folder"):
        find_studies(tmp_path / "absent")
    (tmp_path / "empty" / "not_a_study").mkdir(parents=True)
    with pytest.raises(SweepError, match="no study here"):
        find_studies(tmp_path / "empty")
    with pytest.raises(SweepError, match=r"no study 'nope' in .*; available: tiny_emotion, "):
        find_studies(studies["results"], ["nope"])
    with pytest.raises(SweepError, match="is a study folder"):
        write_report(studies["results"], ["tiny_genre"], out=studies["results"] / "tiny_genre")
    out = sweep("report", "--results", tmp_path / "empty")
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "no study here" in out.stderr and "Traceback" not in out.stderr
    out = sweep("report", "nope", "--results", studies["results"])
    assert out.returncode == 2 and "available: tiny_emotion, tiny_genre" in out.stderr


def test_the_command_reports_named_studies(tmp_path, studies):
    out = sweep("report", "tiny_genre", "--results", studies["results"], "--out", tmp_path / "r")
    assert out.returncode == 0, out.stderr
    assert "Reported 1 study (tiny_genre)" in out.stdout
    table = pd.read_csv(tmp_path / "r" / "main_table.csv", keep_default_na=False)
    assert set(table.study) == {"", "tiny_genre"} and len(table) == 11


def test_pooled_features_are_mean_and_std_over_valid_frames():
    rng = np.random.default_rng(0)
    lengths = [3, 0, 5, 1]  # an empty track pools to zeros
    frames = rng.normal(size=(sum(lengths), 4)).astype(np.float32)
    tracks = TrackSet(
        np.array(["a", "b", "c", "d"]), frames, np.concatenate([[0], np.cumsum(lengths)])
    )
    pooled = pooled_features(tracks)
    for i in range(4):
        track = tracks.track(i).astype(np.float64)
        expected = np.concatenate([track.mean(0), track.std(0)]) if len(track) else np.zeros(8)
        np.testing.assert_allclose(pooled[i], expected, atol=1e-9)


def test_names_and_anchors():
    names = ["model.backbone_params.hidden_size", "training.lr", "model.head_params.dropout",
             "model.backbone_params.dropout"]  # fmt: skip
    assert short_names(names) == {
        "model.backbone_params.hidden_size": "hidden_size",
        "training.lr": "lr",
        "model.head_params.dropout": "head_params.dropout",
        "model.backbone_params.dropout": "backbone_params.dropout",
    }
    assert anchor("Practitioner's baseline") == "practitioners-baseline"
    assert anchor("Study genre_all.beat") == "study-genre_allbeat"


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
