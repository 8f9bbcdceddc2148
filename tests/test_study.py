"""The study: one per spec (a changed spec is refused), and every sampler."""

import optuna
import pytest
import yaml

from sweep.errors import SpecError
from sweep.run import run_study
from tests.conftest import tiny_spec

STATES = optuna.trial.TrialState


def test_a_changed_spec_does_not_mix_into_an_existing_study(tmp_path, tiny_root):
    run_study(tiny_spec(tmp_path, tiny_root), tmp_path / "results")
    changed = tiny_spec(tmp_path, tiny_root, training={"max_epochs": 4})
    with pytest.raises(SpecError, match="was run with a different spec"):
        run_study(changed, tmp_path / "results")


def test_a_field_added_since_leaves_older_studies_fingerprints_alone_at_its_neutral_value(
    tmp_path, tiny_root
):
    """A study run before `training.ema_epochs` existed fingerprinted its spec without it;
    the same spec today (ema_epochs 0) must still continue it, and ema_epochs 5 must not."""
    import json

    from sweep.study import ADDED_SINCE, _fingerprint

    spec = tiny_spec(tmp_path, tiny_root)
    older = json.loads(_fingerprint(spec))
    for *sections, name in ADDED_SINCE:
        node = older
        for section in sections:
            node = node[section]
        assert name not in node
    averaged = tiny_spec(tmp_path, tiny_root, training={"ema_epochs": 5})
    assert json.loads(_fingerprint(averaged))["training"]["ema_epochs"] == 5
    last = tiny_spec(tmp_path, tiny_root, training={"keep": "last"})
    assert json.loads(_fingerprint(last))["training"]["keep"] == "last"
    searched = tiny_spec(tmp_path, tiny_root, search={"selection": {"keep": "last"}})
    assert json.loads(_fingerprint(searched))["search"]["selection"]["keep"] == "last"
    run_study(spec, tmp_path / "results")
    with pytest.raises(SpecError, match="was run with a different spec"):
        run_study(averaged, tmp_path / "results")


def test_selection_keep_last_judges_every_trial_but_the_reference_at_its_last_epoch(
    tmp_path, tiny_root
):
    """`search.selection.keep: last`: each searched trial trains to max_epochs (no early
    stopping), is judged by its last epoch's value and says so in its configuration; the
    reference keeps the spec's own training (early stopping, its best epoch), as the lab's
    did."""
    import json

    from sweep import trials as records
    from sweep.results import StudyFolder

    spec = tiny_spec(
        tmp_path,
        tiny_root,
        training={"max_epochs": 4, "patience": 1, "lr": 0.1},  # a high lr: erratic curves
        search={"n_trials": 3, "selection": {"folds": 1, "final": "model", "keep": "last"}},
    )
    folder = run_study(spec, tmp_path / "results").folder
    done = StudyFolder(folder).load_study().trials
    assert records.is_reference(done[0]) and len(done) == 3
    lifted = 0  # searched trials whose best epoch is not their last: where keep tells
    for trial in done:
        kept = yaml.safe_load(StudyFolder(folder).trial(trial.number).config.read_text())
        curve = [
            e["val"]["accuracy"]
            for e in json.loads(StudyFolder(folder).trial(trial.number).curves.read_text())
        ]
        if records.is_reference(trial):
            assert kept["training"]["keep"] == "best" and trial.value == max(curve)
            assert kept["training"]["patience"] == 1
        else:
            assert kept["training"]["keep"] == "last" and trial.value == curve[-1]
            assert kept["training"]["patience"] is None and len(curve) == 4
            assert trial.user_attrs[records.BEST_EPOCH] == 4
            lifted += max(curve) > curve[-1]
    assert lifted  # else judged at the best epoch, these trials would pass too


@pytest.mark.parametrize("sampler", ["random", "cmaes", "gp", "tpe"])
def test_every_sampler_runs(tmp_path, tiny_root, sampler):
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        training={"max_epochs": 1},
        search={"n_trials": 2, "sampler": {"name": sampler, "seed": 0, "n_startup_trials": 1}},
    )
    trials = run_study(spec, tmp_path / "results").study.trials
    assert len(trials) == 2 and all(t.state == STATES.COMPLETE for t in trials)


def test_grid_sampler_walks_the_grid(tmp_path, tiny_root):
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        training={"max_epochs": 1},
        search={
            "n_trials": 4,
            "sampler": {"name": "grid"},
            "space": {
                "model.backbone_params.hidden_size": {"choices": [4, 8]},
                "training.lr": {"low": 0.01, "high": 0.02, "step": 0.01},
            },
        },
    )
    trials = run_study(spec, tmp_path / "results").study.trials
    assert sorted(
        (t.params["model.backbone_params.hidden_size"], t.params["training.lr"]) for t in trials
    ) == [(4, 0.01), (4, 0.02), (8, 0.01), (8, 0.02)]
