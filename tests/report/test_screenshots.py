"""benchmarks/report_screenshots.py: without a headless browser the check is skipped, not
failed (Chromium is no dependency of sweep)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "report_screenshots.py"


def test_the_screenshots_are_skipped_without_a_browser(monkeypatch, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("report_screenshots", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setattr(script.shutil, "which", lambda name: None)
    assert script.main([str(tmp_path / "report.html"), "--out", str(tmp_path / "shots")]) == 0
    assert capsys.readouterr().out.startswith("skipped: no headless browser on the PATH")
    assert not (tmp_path / "shots").exists()
