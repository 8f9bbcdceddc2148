"""sweep.report.study_data: a study's data found again and its split rebuilt exactly, the
baseline fitted on it (end to end), and a report written without the data."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import yaml

from sweep.report import study_data, write_report
from sweep.report.study_data import locate_root, study_split_spec
from sweep.spec import DataSpec
from tests.report.conftest import line_of, number


def test_the_baseline_runs_on_the_study_s_own_split(studies, tmp_path, monkeypatch):
    # The study's recorded split with a training and a validation track swapped: a split
    # its seed would not carve again, so only the split read back from split.json gives
    # the baseline these tracks.
    results = tmp_path / "results"
    shutil.copytree(studies["results"] / "tiny_genre", results / "tiny_genre")
    split_path = results / "tiny_genre" / "split.json"
    split = json.loads(split_path.read_text())
    split["train"][0], split["validation"][0] = split["validation"][0], split["train"][0]
    split_path.write_text(json.dumps(split))
    fitted_on = []

    def run_baseline(data, *args, **kwargs):
        fitted_on.append(
            {
                "train": data.train.ids,
                "validation": data.validation.ids,
                "test": data.test().ids,
            }
        )
        return real_run_baseline(data, *args, **kwargs)

    real_run_baseline = study_data.run_baseline
    monkeypatch.setattr(study_data, "run_baseline", run_baseline)
    written = write_report(results, out=tmp_path / "report", data_root=studies["root"])
    assert fitted_on == [{name: split[name] for name in ("train", "validation", "test")}]
    assert "tiny_genre" not in written.notes  # the test split is the one it recorded


def test_the_baselines_table_holds_the_baseline_of_each_study(studies):
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


def test_the_data_is_found_from_here_or_beside_the_results(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "override").mkdir()
    results = tmp_path / "results"
    monkeypatch.chdir(tmp_path / "override")  # "data" is not a folder from here
    assert locate_root("data", results) == tmp_path / "data"  # beside the results folder
    assert locate_root("data", results, tmp_path / "override") == tmp_path / "override"
    assert locate_root(tmp_path / "data", results) == tmp_path / "data"  # as given
    assert locate_root("absent", results) is None


def test_the_split_is_the_study_s_recorded_one_where_it_has_one(tmp_path):
    data = DataSpec.model_validate({"dataset": "fma_genre", "root": "old", "features": "fused"})
    without = study_split_spec(data, tmp_path, tmp_path / "data")
    assert without.root == tmp_path / "data" and without.split_file is None
    (tmp_path / "split.json").write_text("{}")
    assert study_split_spec(data, tmp_path, "new").split_file == tmp_path / "split.json"
