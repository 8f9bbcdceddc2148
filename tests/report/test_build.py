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
