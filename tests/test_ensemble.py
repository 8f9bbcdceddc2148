"""Ensembles of trials: greedy selection on held-out predictions, tested, saved, predicted."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ensemble_spec, tiny_spec

from sweep import ensemble
from sweep.checkpoints import EnsembleOfTrials, load_checkpoint
from sweep.data import prepare
from sweep.predict import model_outputs
from sweep.report.sections import how_chosen
from sweep.results import StudyFolder, find_model
from sweep.run import run_study
from sweep.spec import SelectionSpec


def one_hot(classes: list[int], n: int = 3, sure: float = 0.9) -> np.ndarray:
    """Probabilities putting `sure` on each track's class, the rest spread evenly."""
    out = np.full((len(classes), n), (1 - sure) / (n - 1))
    out[np.arange(len(classes)), classes] = sure
    return out


TARGETS = np.array([0, 1, 2, 0, 1, 2, 0, 1])


# ----------------------------------------------------------------------------- selection


def right_on(tracks: np.ndarray) -> np.ndarray:
    """0.6 on the true class of `tracks`; elsewhere a mild mistake, 0.4 on the next class."""
    out = np.full((len(TARGETS), 3), 0.2)
    for k, y in enumerate(TARGETS):
        if k in tracks:
            out[k, y] = 0.6
        else:
            out[k] = 0.3
            out[k, (y + 1) % 3] = 0.4
    return out


def test_two_trials_right_on_different_tracks_are_both_chosen_and_their_blend_is_right():
    a, b = right_on(np.arange(0, 5)), right_on(np.arange(3, 8))  # 5 of 8 each
    c = one_hot([0] * 8, sure=0.5)  # always the first class: 3 of 8
    weights = ensemble.select(
        {7: a, 9: b, 11: c}, TARGETS, "classification", "accuracy", "maximize"
    )
    assert weights == {7: 0.5, 9: 0.5}
    blended = ensemble.blend(weights, {7: a, 9: b})
    assert np.array_equal(blended.argmax(axis=1), TARGETS)


def test_a_trial_better_than_any_blend_is_the_whole_ensemble():
    perfect = one_hot(list(TARGETS), sure=0.95)
    poor = one_hot([1] * 8)
    weights = ensemble.select(
        {3: poor, 5: perfect}, TARGETS, "classification", "accuracy", "maximize"
    )
    assert weights == {5: 1.0}


def test_ties_in_accuracy_are_broken_by_log_loss():
    confident = one_hot(list(TARGETS), sure=0.9)
    timid = one_hot(list(TARGETS), sure=0.4)  # as accurate, less sure
    weights = ensemble.select(
        {1: timid, 2: confident}, TARGETS, "classification", "accuracy", "maximize"
    )
    assert weights == {2: 1.0}


def test_weights_are_multiples_of_one_over_the_rounds_and_sum_to_one():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(40, 2))
    candidates = {n: truth + rng.normal(scale=1.0, size=truth.shape) for n in range(6)}
    weights = ensemble.select(candidates, truth, "regression", "spearman", "maximize", rounds=20)
    assert abs(sum(weights.values()) - 1.0) < 1e-12
    assert all(abs(w * 20 - round(w * 20)) < 1e-9 for w in weights.values())
    assert len(weights) > 1  # independent errors: averaging several beats any one
    blended = ensemble.blend(weights, candidates)
    best_alone = max(
        ensemble.score_key(c, truth, "regression", "spearman", "maximize")
        for c in candidates.values()
    )
    assert ensemble.score_key(blended, truth, "regression", "spearman", "maximize") > best_alone
    assert list(weights.values()) == sorted(weights.values(), reverse=True)


def test_bagging_dilutes_a_trial_to_the_bags_that_hold_it():
    # One trial right on every held-out track, nine right on none: one greedy selection
    # gives the first all the weight; each bag holds half the trials, and the bags without
    # it choose among the others, so it keeps about half.
    perfect = one_hot(list(TARGETS), sure=0.95)
    candidates = {0: perfect} | {n: one_hot([(y + 1) % 3 for y in TARGETS]) for n in range(1, 10)}
    args = (candidates, TARGETS, "classification", "accuracy", "maximize")
    assert ensemble.select(*args, bags=1) == {0: 1.0}
    bagged = ensemble.select(*args, bags=200, seed=0)
    assert abs(sum(bagged.values()) - 1.0) < 1e-12
    assert next(iter(bagged)) == 0 and 0.4 < bagged[0] < 0.6  # half the bags hold it
    assert all(abs(w * 200 - round(w * 200)) < 1e-9 for w in bagged.values())  # whole bags
    assert ensemble.select(*args, bags=200, seed=0) == bagged  # the same seed, the same
    assert ensemble.select(*args, bags=200, seed=1) != bagged


def test_a_bag_of_one_trial_still_chooses_it():
    a, b = one_hot(list(TARGETS)), one_hot([1] * 8)
    weights = ensemble.select(
        {4: a, 6: b}, TARGETS, "classification", "accuracy", "maximize", bags=20
    )
    assert set(weights) == {4, 6}  # each bag draws one of the two, and that one is chosen
    assert abs(sum(weights.values()) - 1.0) < 1e-12


def test_a_loss_to_minimise_is_scored_as_a_loss():
    truth = np.linspace(0, 1, 10)[:, None]
    close, far = truth + 0.01, truth + 1.0
    weights = ensemble.select({0: far, 1: close}, truth, "regression", "loss", "minimize")
    assert weights == {1: 1.0}


def test_no_candidate_is_an_error_not_an_empty_ensemble():
    with pytest.raises(ValueError, match="no trial"):
        ensemble.select({}, TARGETS, "classification", "accuracy", "maximize")


def test_the_spec_offers_ensemble_selection_with_or_without_folds():
    assert SelectionSpec(final="ensemble_selection", folds=1).ensemble_size == 25
    assert SelectionSpec(final="ensemble_selection", folds=1).ensemble_bags == 20
    with pytest.raises(ValueError):
        SelectionSpec(final="ensemble_selection", ensemble_bags=0)
    with pytest.raises(ValueError):
        SelectionSpec(final="ensemble_selection", ensemble_size=0)


# ----------------------------------------------------------------------------- a study


@pytest.fixture(scope="module")
def ensemble_study(tmp_path_factory):
    from conftest import write_tiny_layout

    tmp = tmp_path_factory.mktemp("ensemble")
    root = write_tiny_layout(tmp / "data")
    spec = tiny_spec(
        tmp,
        root,
        search={
            "n_trials": 5,
            "pruner": {"name": "none"},
            "selection": {"folds": 1, "final": "ensemble_selection"},
            "space": {
                "model.backbone_params.hidden_size": {"low": 4, "high": 16},
                "training.lr": {"low": 1e-3, "high": 1e-1, "log": True},
            },
        },
    )
    outcome = run_study(spec, tmp / "results")
    return tmp, root, spec, outcome


def test_every_complete_trial_keeps_its_validation_predictions(ensemble_study):
    _, _, _, outcome = ensemble_study
    folder = StudyFolder(outcome.folder)
    split = folder.read_json(folder.split)
    for t in outcome.study.trials:
        with np.load(folder.trial(t.number).validation_outputs) as held_out:
            assert sorted(held_out["ids"]) == sorted(split["validation"])
            assert held_out["outputs"].shape == (len(split["validation"]), 3)
            assert np.allclose(held_out["outputs"].sum(axis=1), 1, atol=1e-5)


def test_the_ensemble_is_tested_beside_the_best_trial_with_each_members_own_score(ensemble_study):
    _, _, _, outcome = ensemble_study
    tested = outcome.test["ensemble"]
    assert tested["final"] == "ensemble_selection" and tested["candidates"] == 5
    assert tested["bags"] == 20 and tested["rounds"] == 25
    members = tested["members"]
    assert abs(sum(m["weight"] for m in members) - 1) < 1e-9
    numbers = {t.number for t in outcome.study.trials}
    for m in members:
        assert m["trial"] in numbers and 0 <= m["accuracy"] <= 1 and m["backbone"] == "lstm"
    assert outcome.test["best"]["final"] == "model"  # the single trials: their own models
    best = outcome.test["best"]["trial"]
    if best in {m["trial"] for m in members}:  # the same model, the same test
        own = next(m for m in members if m["trial"] == best)
        assert own["accuracy"] == outcome.test["best"]["accuracy"]
    # the ensemble's validation value is scored on the members' held-out predictions again
    folder = StudyFolder(outcome.folder)
    candidates, targets = {}, None
    for m in members:
        with np.load(folder.trial(m["trial"]).validation_outputs) as held_out:
            order = np.argsort(held_out["ids"])
            candidates[m["trial"]], targets = held_out["outputs"][order], held_out["targets"][order]
    weights = {m["trial"]: m["weight"] for m in members}
    blended = ensemble.blend(weights, candidates)
    assert tested["validation"] == pytest.approx(np.mean(blended.argmax(axis=1) == targets))


def test_predict_on_a_study_uses_its_ensemble_the_weighted_mean_of_its_members(ensemble_study):
    tmp, root, spec, outcome = ensemble_study
    source = find_model("tiny", tmp / "results")
    assert source.checkpoint == StudyFolder(outcome.folder).ensemble
    assert "ensemble of trials" in source.describe()
    model, ckpt = load_checkpoint(source.checkpoint)
    assert isinstance(model, EnsembleOfTrials)
    test_dir = root / "fma_genre_spectrograms_beat" / "test"
    out = tmp / "predictions.csv"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "sweep",
            "predict",
            "tiny",
            str(test_dir),
            "--results",
            str(tmp / "results"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "ensemble of trials" in run.stdout
    rows = list(csv.DictReader(out.open()))
    classes = ckpt["class_names"]
    predicted = np.array([[float(r[c]) for c in classes] for r in rows])

    # each member alone, through its own trial checkpoint, then weighted by hand
    from sweep.lab.inputs import read_inputs

    tracks, _ = read_inputs(test_dir, beat=True)
    by_id = {str(i): k for k, i in enumerate(tracks.ids)}
    expected = np.zeros_like(predicted)
    for m in ckpt["members"]:
        member, member_ckpt = load_checkpoint(
            StudyFolder(outcome.folder).trial(m["trial"]).checkpoint
        )
        member.eval()
        outputs = model_outputs(member, member_ckpt, tracks)
        expected += m["weight"] * outputs[[by_id[r["Id"]] for r in rows]]
    assert np.allclose(predicted, expected, atol=2e-6)

    # and the ensemble's test accuracy is the one its predictions of the test tracks give
    test = prepare(spec.resolved_data).test()
    truth = {str(i): classes[y] for i, y in zip(test.tracks.ids, test.targets, strict=True)}
    accuracy = np.mean([r["predicted"] == truth[r["Id"]] for r in rows])
    assert len(truth) == len(rows)
    assert accuracy == pytest.approx(outcome.test["ensemble"]["accuracy"])


def test_transfer_takes_the_best_trial_not_the_ensemble(ensemble_study):
    tmp, _, _, outcome = ensemble_study
    source = find_model("tiny", tmp / "results", ensemble=False)
    assert source.trial == outcome.test["best"]["trial"]


def test_the_report_shows_the_members_their_weights_and_scores(ensemble_study):
    tmp, _, _, outcome = ensemble_study
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "sweep",
            "report",
            "--results",
            str(tmp / "results"),
            "--no-baseline",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    text = (tmp / "results" / "report" / "REPORT.md").read_text()
    assert "Ensemble of trials" in text and "greedy ensemble selection" in text
    for m in outcome.test["ensemble"]["members"]:
        assert f"| #{m['trial']} | {m['weight']:.2f} | lstm |" in text
        assert m["tested_as"] == "checkpoint"  # one split: the trial's own model
    assert "fold models" not in text


def test_each_roles_test_outputs_are_kept_and_the_report_bootstraps_the_margin(ensemble_study):
    from sweep.metrics import paired_interval
    from sweep.report.numbers import margin_interval
    from sweep.report.records import load_study_record
    from sweep.report.study_data import attach_data

    tmp, _, _, outcome = ensemble_study
    saved = StudyFolder(outcome.folder).read_test_outputs()
    assert {"ids", "targets", "best", "reference", "ensemble"} <= set(saved)
    for role in ("best", "reference", "ensemble"):  # the outputs test.json's scores came from
        accuracy = np.mean(saved[role].argmax(axis=1) == saved["targets"])
        assert accuracy == pytest.approx(outcome.test[role]["accuracy"])
    record = load_study_record(outcome.folder)
    attach_data([record], tmp / "results", None, baseline=True)
    base = record.baseline  # its outputs are those of its score, on the same tracks
    assert [str(i) for i in base.ids] == [str(i) for i in saved["ids"]]
    assert np.mean(base.outputs.argmax(axis=1) == saved["targets"]) == base.test["accuracy"]
    low, high = margin_interval(record, "ensemble")
    assert (low, high) == paired_interval(
        "classification", "accuracy", saved["ensemble"], base.outputs, saved["targets"]
    )
    assert -1 <= low < high <= 1  # a few test tracks: a wide interval
    # outputs that do not give the score the table shows are not bootstrapped
    record.test = {**record.test, "ensemble": {**record.test["ensemble"], "accuracy": -1.0}}
    assert margin_interval(record, "ensemble") is None


def test_a_second_run_keeps_the_tested_ensemble(ensemble_study):
    tmp, _, spec, outcome = ensemble_study
    folder = StudyFolder(outcome.folder)
    before = folder.ensemble.stat().st_mtime_ns
    outputs = folder.read_test_outputs()
    again = run_study(spec, tmp / "results")
    assert again.test["ensemble"] == outcome.test["ensemble"]
    assert folder.ensemble.stat().st_mtime_ns == before  # chosen and tested once
    kept = folder.read_test_outputs()  # every role's outputs kept, though none was tested
    assert set(kept) == set(outputs) == {"ids", "targets", "best", "reference", "ensemble"}
    assert all(np.array_equal(kept[k], outputs[k]) for k in outputs)


def test_a_study_tested_before_outputs_were_kept_gets_them_when_continued(ensemble_study):
    tmp, _, spec, outcome = ensemble_study
    folder = StudyFolder(outcome.folder)
    before = folder.read_test_outputs()
    ensemble_written = folder.ensemble.stat().st_mtime_ns
    folder.test_outputs.unlink()  # as a study tested by an older sweep
    again = run_study(spec, tmp / "results")
    assert again.test == outcome.test  # nothing tested again
    assert folder.ensemble.stat().st_mtime_ns == ensemble_written
    rebuilt = folder.read_test_outputs()  # the same models predicted the same outputs
    assert set(rebuilt) == set(before) == {"ids", "targets", "best", "reference", "ensemble"}
    for role in ("best", "reference", "ensemble"):
        assert np.allclose(rebuilt[role], before[role], atol=1e-6)


def assert_scored_as(tested: dict, checkpoints: dict, data) -> None:
    """Each member's test score, and the ensemble's, are those of `checkpoints` (trial ->
    the checkpoint it should have been tested as) on the test split."""
    from sweep.checkpoints import predict_checkpoint

    test, own = data.test(), {}
    for m in tested["members"]:
        model, ckpt = load_checkpoint(checkpoints[m["trial"]])
        own[m["trial"]] = predict_checkpoint(model, ckpt, data, test, 4, torch.device("cpu"))
        assert m["accuracy"] == pytest.approx(
            np.mean(own[m["trial"]].argmax(axis=1) == test.targets)
        )
    blended = ensemble.blend({m["trial"]: m["weight"] for m in tested["members"]}, own)
    assert tested["accuracy"] == pytest.approx(np.mean(blended.argmax(axis=1) == test.targets))


def test_refitted_members_are_tested_on_what_they_learnt_from_train_and_validation(tmp_path):
    from conftest import write_tiny_layout

    root = write_tiny_layout(tmp_path / "data")
    spec = ensemble_spec(tmp_path, root, ensemble_refit=True)
    outcome = run_study(spec, tmp_path / "results")
    tested, folder = outcome.test["ensemble"], StudyFolder(outcome.folder)
    assert tested["refit"] is True and tested["cpu_seconds"] > 0
    assert outcome.test["best"]["final"] == "refit"  # tested as the members are
    refits = {m["trial"]: folder.trial(m["trial"]).refit for m in tested["members"]}
    assert all(path.is_file() for path in refits.values())
    assert_scored_as(tested, refits, prepare(spec.resolved_data))
    # ensemble.pt holds the refitted members, the models the test scored
    _, saved = load_checkpoint(folder.ensemble)
    for m, member in zip(tested["members"], saved["members"], strict=True):
        _, refit_ckpt = load_checkpoint(folder.trial(m["trial"]).refit)
        weights = refit_ckpt["state_dict"]
        assert all(torch.equal(weights[k], member["checkpoint"]["state_dict"][k]) for k in weights)


def test_cross_validated_members_are_the_means_of_their_fold_models(tmp_path):
    from conftest import write_tiny_layout

    root = write_tiny_layout(tmp_path / "data")
    spec = ensemble_spec(tmp_path, root, folds=2)
    outcome = run_study(spec, tmp_path / "results")
    tested, folder = outcome.test["ensemble"], StudyFolder(outcome.folder)
    # every complete trial keeps its fold models, not only those that were the best
    for t in outcome.study.trials:
        _, ckpt = load_checkpoint(folder.trial(t.number).fold_models)
        assert len(ckpt["fold_state_dicts"]) == 2
    fold_models = {m["trial"]: folder.trial(m["trial"]).fold_models for m in tested["members"]}
    assert_scored_as(tested, fold_models, prepare(spec.resolved_data))
    # the best and the reference trial are tested as the members are: their fold models
    assert outcome.test["best"]["final"] == outcome.test["reference"]["final"] == "ensemble"
    # ensemble.pt holds each member's two fold models, which sweep predict averages
    _, saved = load_checkpoint(folder.ensemble)
    assert all(len(m["checkpoint"]["fold_state_dicts"]) == 2 for m in saved["members"])
    # and the report says what a member is
    assert {m["tested_as"] for m in tested["members"]} == {"2 fold models"}
    assert "each member tested as the mean of its 2 fold models" in how_chosen(tested)


def test_fold_models_of_trials_that_can_no_longer_be_members_are_removed(tmp_path, monkeypatch):
    from conftest import write_tiny_layout

    import sweep.evaluate

    monkeypatch.setattr(sweep.evaluate, "ENSEMBLE_CANDIDATES", 1)  # the best trial only
    root = write_tiny_layout(tmp_path / "data")
    outcome = run_study(ensemble_spec(tmp_path, root, folds=2), tmp_path / "results")
    folder = StudyFolder(outcome.folder)
    kept = {t.number for t in outcome.study.trials if folder.trial(t.number).fold_models.is_file()}
    assert kept == {outcome.test["best"]["trial"], outcome.test["reference"]["trial"]}
    assert [m["trial"] for m in outcome.test["ensemble"]["members"]] == [
        outcome.test["best"]["trial"]
    ]
