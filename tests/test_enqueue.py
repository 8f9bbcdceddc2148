"""search.enqueue: a portfolio of configurations tried right after the reference."""

from __future__ import annotations

import pytest
from conftest import tiny_spec

from sweep import trials
from sweep.run import run_study

SPACE = {
    "model.backbone_params.hidden_size": {"low": 4, "high": 16},
    "training.lr": {"low": 1e-3, "high": 1e-1, "log": True},
}


def test_enqueued_configurations_follow_the_reference_once(tmp_path, tiny_root):
    search = {"n_trials": 3, "space": SPACE, "enqueue": [{"training.lr": 0.05}]}
    spec = tiny_spec(tmp_path, tiny_root, search=search)
    outcome = run_study(spec, tmp_path / "results")
    first, second, third = outcome.study.trials
    assert trials.is_reference(first)
    assert second.params["training.lr"] == 0.05 and second.user_attrs[trials.ENQUEUED] == 0
    assert 4 <= second.params["model.backbone_params.hidden_size"] <= 16  # the rest: sampled
    assert trials.ENQUEUED not in third.user_attrs
    assert trials.exempt_from_pruning(second) and not trials.exempt_from_pruning(third)
    again = run_study(spec, tmp_path / "results", n_trials=4)  # a continued study
    assert [trials.ENQUEUED in t.user_attrs for t in again.study.trials] == [
        False,
        True,
        False,
        False,
    ]


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"training.lr": 0.5}, "search.enqueue[0]: outside the space's training.lr ("),
        ({"training.lr": 0.5}, "got 0.5"),
        ({"training.lrr": 0.01}, "search.enqueue[0]: not a path of the space"),
        ({"model.backbone_params.hidden_size": 8.5}, "got 8.5"),
    ],
)
def test_an_enqueued_value_outside_the_space_is_a_spec_error(tmp_path, tiny_root, entry, message):
    """As `sweep validate` and `sweep run` check a spec, each problem at its line."""
    from sweep.cli.app import load_checked_spec
    from sweep.errors import SpecError

    tiny_spec(tmp_path, tiny_root, search={"space": SPACE, "enqueue": [entry]})
    with pytest.raises(SpecError) as caught:
        load_checked_spec(tmp_path / "tiny.yaml", [], None)
    assert message in str(caught.value) and "tiny.yaml:" in str(caught.value)


def test_validate_notes_the_paths_an_enqueued_entry_leaves_to_the_sampler(tmp_path, tiny_root):
    """A portfolio entry is one fixed configuration only if it sets every path its branches
    open; `sweep validate` says which it leaves out (they are sampled, as documented)."""
    import subprocess
    import sys

    from sweep.space import sampled_in_enqueued

    space = {
        "model.backbone": {
            "choices": {
                "lstm": {"model.backbone_params.hidden_size": {"low": 4, "high": 16}},
                "pooled_mlp": {"model.backbone_params.dropout": {"low": 0.0, "high": 0.5}},
            }
        },
        "training.lr": {"low": 1e-3, "high": 1e-1, "log": True},
    }
    enqueue = [
        {"model.backbone": "pooled_mlp", "model.backbone_params.dropout": 0.1, "training.lr": 0.01},
        {"model.backbone": "lstm", "training.lr": 0.01},  # hidden_size left out
        {"training.lr": 0.02},  # the backbone itself left out
    ]
    spec = tiny_spec(tmp_path, tiny_root, search={"space": space, "enqueue": enqueue})
    assert sampled_in_enqueued(spec) == [
        (1, ["model.backbone_params.hidden_size"]),
        (2, ["model.backbone"]),
    ]
    out = subprocess.run(
        [sys.executable, "-m", "sweep", "validate", str(tmp_path / "tiny.yaml")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1:] == [
        "  note: search.enqueue[1] leaves model.backbone_params.hidden_size to the sampler",
        "  note: search.enqueue[2] leaves model.backbone to the sampler",
    ]
    # `sweep run` says it too, before its trials (one trial here: the reference)
    results = tmp_path / "results"
    command = [sys.executable, "-m", "sweep", "run", str(tmp_path / "tiny.yaml")]
    out = subprocess.run(
        [*command, "--trials", "1", "--results", str(results)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    notes = [
        "note: search.enqueue[1] leaves model.backbone_params.hidden_size to the sampler",
        "note: search.enqueue[2] leaves model.backbone to the sampler",
    ]
    at = lines.index(notes[0])
    assert lines[at : at + 2] == notes and lines[0].startswith("Study tiny:")
