"""sweep.report (write_report and `sweep report`): the files it writes, and one-line errors."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from sweep.errors import SweepError
from sweep.report import write_report
from sweep.report.records import find_studies
from tests.test_cli import sweep

PNG = b"\x89PNG\r\n\x1a\n"


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


def markdown_table(text: str) -> list[dict[str, str]]:
    """The first Markdown table in `text`, as one dict per row (header -> cell)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    header, rows = _cells(lines[start]), lines[start + 2 : end]  # then the |---| rule
    return [dict(zip(header, _cells(row), strict=True)) for row in rows]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def test_the_numbers_of_report_md_are_the_study_s_test_json_and_baselines_csv(studies):
    test = studies["outcomes"]["tiny_genre"].test
    best, reference = test["best"], test["reference"]
    bases = pd.read_csv(studies["written"].out / "baselines.csv")
    baseline = bases[bases.studies == "tiny_genre"].iloc[0]
    markdown = (studies["written"].out / "REPORT.md").read_text()

    # the main table's line of the study
    main = markdown.split("## Reference models and studies")[1].split("\n## ")[0]
    line = next(row for row in markdown_table(main) if row["Study"] == "tiny_genre")
    assert line["Reference config (test)"] == f"{reference['accuracy']:.3f} (#0)"
    assert line["Best trial (validation)"].startswith(f"#{best['trial']}: {best['validation']:.3f}")
    assert line["Best trial (test)"].startswith(f"{best['accuracy']:.3f}<br>")
    assert line["Δ test"] == f"{best['accuracy'] - reference['accuracy']:+.3f}"
    assert line["Baseline (test)"] == f"{baseline.test_accuracy:.3f}"
    assert line["Test n"] == str(best["n"])

    # the study's own table of the test split
    section = markdown.split("## Study tiny_genre")[1].split("\n## ")[0]
    tested = section.split("### Test split: best trial, reference configuration, baseline")[1]
    rows = {row[""].split("<br>")[0]: row for row in markdown_table(tested)}
    assert set(rows) == {"Reference configuration", "Best trial", "Baseline: LogisticRegression"}
    for name, numbers, trial in (
        ("Reference configuration", reference, "#0"),
        ("Best trial", best, f"#{best['trial']}"),
    ):
        row = rows[name]
        assert row["Trial"] == trial
        assert row["Validation accuracy"] == f"{numbers['validation']:.3f}"
        assert row["Test accuracy"] == f"{numbers['accuracy']:.3f}"
        assert row["Test macro-F1"] == f"{numbers['macro_f1']:.3f}"
        assert row["Test weighted-F1"] == f"{numbers['weighted_f1']:.3f}"
    row = rows["Baseline: LogisticRegression"]
    assert row["Validation accuracy"] == f"accuracy {baseline.validation_accuracy:.3f}"
    assert row["Test accuracy"] == f"{baseline.test_accuracy:.3f}"
    assert row["Test macro-F1"] == f"{baseline.test_macro_f1:.3f}"
    assert row["Test weighted-F1"] == f"{baseline.test_weighted_f1:.3f}"
