"""benchmarks/ensemble_members.py: a study's chosen ensemble tested with its members' own
models and refitted, each way reproducing what the study's test scored that way."""

from __future__ import annotations

import pytest

from benchmarks.ensemble_members import run
from sweep.run import run_study
from tests.conftest import ensemble_spec, write_tiny_layout


@pytest.mark.parametrize("refit", [False, True])
def test_the_way_the_study_tested_its_ensemble_is_reproduced(tmp_path, refit):
    root = write_tiny_layout(tmp_path / "data")
    cosine = {"max_epochs": 6, "lr_schedule": "cosine", "patience": 2}
    spec = ensemble_spec(tmp_path, root, training=cosine, ensemble_refit=refit)
    outcome = run_study(spec, tmp_path / "results")
    tested = outcome.test["ensemble"]
    out = run(outcome.folder, root, threads=1)
    assert out["as_tested"] == round(tested["accuracy"], 4)
    assert out["refit_when_tested"] is refit
    assert out["refitted" if refit else "own models"] == out["as_tested"]
    assert [m["trial"] for m in out["members"]] == [m["trial"] for m in tested["members"]]
    for m in out["members"]:
        assert 0 <= m["own models"] <= 1 and 0 <= m["refitted"] <= 1
    assert 0 <= out["baseline"] <= 1 and out["test_n"] == tested["n"]
    # nothing written into the study: the refits stayed in memory
    if not refit:
        assert not any((outcome.folder / "trials").glob("*/refit.pt"))
