"""benchmarks/seeds.py: one configuration trained again with other seeds on the same split,
and the test score of averages of its seeds."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.seeds import seed_figures, seed_runs
from sweep.metrics import validation_scores
from sweep.run import run_study
from tests.conftest import tiny_spec, write_tiny_layout


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seeds_benchmark")
    root = write_tiny_layout(tmp / "data")
    spec = tiny_spec(tmp, root)  # written to tmp/tiny.yaml
    one_thread = ["training.threads=1"]  # after the benchmark's own: a tiny model's fastest
    return tmp, seed_runs(tmp / "tiny.yaml", [0, 1, 2], one_thread, tmp / "work", None, print), spec


def test_each_seed_is_the_reference_configuration_on_the_same_split(runs):
    tmp, seeded, spec = runs
    assert [r["seed"] for r in seeded] == [0, 1, 2]
    # seed 0 is the spec's own training seed: its run is the spec's reference trial again
    alone = run_study(spec, tmp / "alone", n_trials=1)
    assert seeded[0]["validation"] == pytest.approx(alone.study.best_value)
    # the same test tracks, other models
    for r in seeded[1:]:
        assert np.array_equal(r["targets"], seeded[0]["targets"])
    assert not np.allclose(seeded[0]["outputs"], seeded[1]["outputs"])


def test_the_figures_are_the_seeds_scores_and_their_averages(runs):
    _, seeded, _ = runs
    figures = seed_figures(seeded, "classification", "accuracy")
    targets = seeded[0]["targets"]

    def accuracy(outputs):
        return validation_scores("classification", outputs, targets)["accuracy"]

    tests = [accuracy(r["outputs"]) for r in seeded]
    assert [row["test"] for row in figures["seeds"]] == pytest.approx(tests)
    assert figures["test"]["mean"] == pytest.approx(np.mean(tests))
    assert figures["test"]["min"] == min(tests) and figures["test"]["max"] == max(tests)
    averages = figures["test_of_seed_averages"]
    assert list(averages) == [1, 2, 3]
    assert averages[1]["mean"] == pytest.approx(np.mean(tests)) and averages[1]["subsets"] == 3
    assert averages[2]["subsets"] == 3
    everything = accuracy(np.mean([r["outputs"] for r in seeded], axis=0))
    assert averages[3] == {"mean": everything, "min": everything, "max": everything, "subsets": 1}


def test_seeds_tested_on_other_tracks_are_refused(runs):
    _, seeded, _ = runs
    moved = [seeded[0], {**seeded[1], "targets": seeded[1]["targets"][::-1]}]
    with pytest.raises(ValueError, match="seed 1 was tested on other tracks"):
        seed_figures(moved, "classification", "accuracy")
