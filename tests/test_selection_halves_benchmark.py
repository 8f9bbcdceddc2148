"""benchmarks/selection_halves.py: ways of choosing the tested model, judged on halves of
the validation tracks, from a kept study's trials alone."""

from __future__ import annotations

import numpy as np

from benchmarks.selection_halves import WAYS, choose, held_out_outputs, run
from sweep.run import run_study
from tests.conftest import ensemble_spec, write_tiny_layout


def test_each_way_is_judged_on_the_half_it_was_not_chosen_on(tmp_path):
    root = write_tiny_layout(tmp_path / "data")
    outcome = run_study(ensemble_spec(tmp_path, root), tmp_path / "results")
    (outcome.folder / "test_outputs.npz").unlink()  # not read: validation only

    spec, outputs, targets = held_out_outputs(outcome.folder)
    assert len(outputs) == 3 and all(o.shape[0] == len(targets) for o in outputs.values())
    # on every validation track, in the study's order, "bagged" is the study's own choice
    tested = outcome.test["ensemble"]["members"]
    chosen = choose(
        "bagged", spec, spec.task.kind, outputs, targets, spec.training.seed, list(outputs)
    )
    assert {n: round(w, 6) for n, w in chosen.items()} == {
        m["trial"]: round(m["weight"], 6) for m in tested
    }
    assert choose("top 50 equal", spec, spec.task.kind, outputs, targets, seed=0) == {
        n: 1 / 3 for n in outputs
    }

    out = run(outcome.folder, repeats=4)
    assert out["candidates"] == 3 and out["validation_tracks"] == len(targets)
    assert list(out["ways"]) == list(WAYS)
    assert out["ways"]["bagged"]["minus_bagged"] == 0.0
    for way in out["ways"].values():
        assert 0.0 <= way["mean"] <= 1.0  # accuracy on the other half
    # the same halves and seeds: the same numbers
    assert run(outcome.folder, repeats=4) == out
    # the best trial chosen on every track is the study's best
    best = choose("best trial", spec, spec.task.kind, outputs, targets, seed=0)
    values = {n: (o.argmax(1) == targets).mean() for n, o in outputs.items()}
    assert values[next(iter(best))] == max(values.values())
    assert np.isclose(sum(chosen.values()), 1.0)
