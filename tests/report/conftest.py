"""The report's shared study: one results folder of tiny studies, trained once per session
and reported, for the tests that check the report end to end; and helpers to read it."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from sweep.report import write_report
from sweep.run import run_study
from sweep.spec import TaskSpec
from tests.conftest import tiny_spec as shared_tiny_spec
from tests.conftest import write_tiny_layout


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


@pytest.fixture(scope="session")
def studies(tmp_path_factory):
    """One results folder: a genre study, a two-target emotion study and two single-target
    studies of one spec (named <study>_<target>), all on the tiny data; and its report."""
    base = tmp_path_factory.mktemp("report")
    threads = torch.get_num_threads()
    # One thread: tiny models gain nothing from more, and a busy machine (other tests in
    # parallel) makes torch's thread pool spin instead of compute.
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:  # the session's own cache, never the user's
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
