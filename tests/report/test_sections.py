"""sweep.report.sections: a study's section from what its folder holds, figures or not."""

from __future__ import annotations

from pathlib import Path

from sweep.report.document import Bullets, Heading, Image, Para, Table
from sweep.report.records import StudyRecord
from sweep.report.sections import study_section


def test_a_study_with_no_trial_gets_a_section_that_says_so(tmp_path):
    raw = {
        "description": "A study that never ran.",
        "reference": ["lstm_genre_all_beat", "not_a_row"],
        "data": {"dataset": "fma_genre", "features": "fused", "beat": True, "root": "data"},
    }
    split = {"train": ["a", "b"], "validation": ["c"], "test": ["d"], "test_fraction": 0.2}
    record = StudyRecord("s", Path("results/s"), raw, None, None, {}, {}, split, ["a note"])
    blocks = study_section(record, tmp_path, [])
    assert blocks[0] == Heading(2, "Study s") and blocks[1] == Para("A study that never ran.")
    facts = blocks[2]
    assert isinstance(facts, Bullets)
    assert facts.items[0].startswith("Compared with: `lstm_genre_all_beat` of the lab report")
    assert facts.items[1] == "Compared with: `not_a_row` (not a row of the reference table)"
    assert facts.items[2].endswith("; split 2 train / 1 validation / 1 test tracks (test set "
                                   "carved from train)")  # fmt: skip
    assert facts.items[3] == (
        "Trials: 0 (0 complete, 0 pruned, 0 failed); trial wall time – summed over trials"
    )
    assert Para("Note: a note", note=True) in blocks
    assert Para("No trial has reported a value yet.", note=True) in blocks
    assert Para("Skipped: 0 complete trial(s); importances need at least 2.", note=True) in blocks
    assert not any(isinstance(b, Table | Image) for b in blocks)  # nothing tested or drawn
    assert blocks[-1].text.startswith("All trials: `studies/s/trials.csv`")
    assert (tmp_path / "studies" / "s" / "trials.csv").is_file()


def test_the_history_caption_names_the_failed_trials_it_draws_at_the_foot(tmp_path):
    import optuna

    study = optuna.create_study(direction="maximize")
    distributions = {"x": optuna.distributions.FloatDistribution(0, 1)}
    for value, x in ((0.5, 0.1), (0.75, 0.9)):
        study.add_trial(
            optuna.trial.create_trial(value=value, params={"x": x}, distributions=distributions)
        )
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    raw = {"data": {"dataset": "fma_genre", "features": "fused", "beat": True, "root": "data"}}
    record = StudyRecord("s", Path("results/s"), raw, None, study, {}, {}, {})
    blocks = study_section(record, tmp_path, [])
    history = blocks.index(Heading(3, "Optimisation history"))
    assert blocks[history + 1].text.endswith(
        "; failed trials (#2) have no value: triangles at the foot."
    )
    assert (tmp_path / "studies" / "s" / "history.png").is_file()


def test_an_ensemble_of_one_candidate_is_said_in_the_singular(tmp_path):
    member = {"trial": 0, "weight": 1.0, "backbone": "lstm", "validation": 0.67}
    ensemble = {"candidates": 1, "rounds": 25, "members": [member], "validation": 0.67}
    raw = {"data": {"dataset": "fma_genre", "features": "fused", "beat": True, "root": "data"}}
    record = StudyRecord("s", Path("results/s"), raw, None, None, {"ensemble": ensemble}, {}, {})
    texts = [b.text for b in study_section(record, tmp_path, []) if isinstance(b, Para)]
    assert any("over 1 complete trial's predictions on the tracks" in t for t in texts), texts


def test_the_best_epoch_line_of_a_cross_validated_trial_is_its_first_fold_s(tmp_path, monkeypatch):
    import json

    import optuna

    from sweep.report import figures

    study = optuna.create_study(direction="maximize")
    study.add_trial(  # best_epoch is the mean of the folds' (5, 5, 3): what a refit trains
        optuna.trial.create_trial(
            value=0.98,
            user_attrs={"best_epoch": 4, "fold_best_epochs": [5, 5, 3]},
        )
    )
    folder = tmp_path / "results" / "s"
    (folder / "trials" / "0").mkdir(parents=True)
    curves = [
        {"epoch": e, "fold": f, "train_loss": 1 / e, "val_loss": 1 / e, "val": {"accuracy": 0.5}}
        for f in range(3)
        for e in (1, 2, 3, 4, 5)
    ]
    (folder / "trials" / "0" / "curves.json").write_text(json.dumps(curves))
    drawn = []
    real = figures.curves_plot
    monkeypatch.setattr(figures, "curves_plot", lambda *args: drawn.append(args[3]) or real(*args))
    raw = {"data": {"dataset": "fma_genre", "features": "fused", "beat": True, "root": "data"}}
    record = StudyRecord("s", folder, raw, None, study, {}, {}, {})
    blocks = study_section(record, tmp_path / "report", [])
    assert Heading(3, "Learning curves: best trial #0, fold 1 of 3") in blocks
    assert drawn == [5]  # fold 1's best epoch, on fold 1's curves; not the mean's 4
