"""sweep.report.tables: CSV files keep integers integers; the document tables of hand-made
lines and records (a spanning "no study yet", changed parameters, the reference kept)."""

from __future__ import annotations

from pathlib import Path

from sweep.report.records import StudyRecord
from sweep.report.tables import main_table, params_table, top_trials_table, write_csv


def test_counts_stay_integers_where_a_line_has_none(tmp_path):
    path = tmp_path / "lines.csv"
    write_csv([{"study": "a", "complete": 3, "value": 0.5}, {"study": "b", "complete": None}], path)
    assert path.read_text().splitlines() == ["study,complete,value", "a,3,0.5", "b,,"]


def line(**values) -> dict:
    base = {
        "group": "genre",
        "reference_model": "row",
        "reference_model_config": "lstm, fused, beat",
        "report_metric": "accuracy",
        "report_value": 0.5,
        "report_details": "macro-F1 0.40; weighted-F1 0.45",
        "study": "s",
        "status": "ok",
        "dataset": "fma_genre",
        "targets": "",
        "features": "fused",
        "beat": True,
        "data_root": "data",
        "test_n": 16,
        "test_metric": "accuracy",
        "reference_trial": 0,
        "reference_test": 0.5,
        "best_trial": 2,
        "validation_metric": "accuracy",
        "best_validation": 0.75,
        "best_test": 0.625,
        "best_test_details": "",
        "delta_test": 0.125,
        "baseline_test": None,
        "complete": 3,
        "pruned": 1,
        "failed": 0,
        "running": 0,
        "trial_wall_seconds": 120.0,
    }
    return {**base, **values}


def test_main_table_shows_a_row_s_cells_once_and_spans_an_absent_study():
    lines = [
        line(),
        line(study="t", status="not tested yet"),
        {**line(reference_model="other_row"), "study": "", "status": "no study yet"},
    ]
    table = main_table(lines)
    first, second, absent = table.rows
    assert first[0] == ("row\nlstm, fused, beat", "nowrap")
    assert first[1] == ("accuracy 0.500\nmacro-F1 0.40\nweighted-F1 0.45", "nowrap")
    assert first[2:] == [
        "s",
        "fma_genre\nfused · beat\ndata",
        "16",
        "accuracy",
        "0.500 (#0)",
        "#2: 0.750\naccuracy",
        "0.625",
        ("+0.125", "pos"),
        "–",
        "3 / 1 / 0",
        "2.0 min",
    ]
    assert second[:3] == ["", "", "t\n(not tested yet)"]  # the row's cells only once
    assert absent[2:] == ["no study yet"]  # one cell, spanning the rest in HTML
    assert table.row_classes == ["group-genre first", "group-genre", "absent group-genre first"]


def record(test: dict) -> StudyRecord:
    return StudyRecord("s", Path("s"), {}, None, None, test, {}, {})


def test_params_table_marks_what_the_best_trial_changed():
    table = params_table(
        record(
            {
                "best": {"params": {"training.lr": 0.001234567, "pooling": "mean"}},
                "reference": {"params": {"training.lr": 0.0001, "pooling": "mean"}},
            }
        )
    )
    assert table.rows == [
        ["`training.lr`", ("0.001235", "changed"), "0.0001"],
        ["`pooling`", ("mean", ""), "mean"],
    ]
    assert params_table(record({})) is None


def test_top_trials_keep_the_reference_beyond_the_ten_best():
    def trial(n: int, value: float, reference: bool = False) -> dict:
        return {
            "number": n,
            "state": "COMPLETE",
            "value": value,
            "reference": reference,
            "epochs": 5,
            "wall_seconds": 2.0,
            "params.training.lr": 0.01,
        }

    trials = [trial(0, 0.0, reference=True)] + [trial(n, n / 100) for n in range(1, 13)]
    table = top_trials_table(record({}), trials)
    # "Wall s" kept on one line (a no-break space): a narrow column broke it in two
    assert table.columns == ["Rank", "Trial", "accuracy", "Epochs", "Wall\u00a0s", "lr"]
    assert [row[1] for row in table.rows][:2] == ["#12", "#11"]  # maximised: best first
    assert table.rows[-1][:2] == ["13", "#0 (reference)"]
    assert len(table.rows) == 11 and table.row_classes[-1] == "ref"
    assert top_trials_table(record({}), []) is None


def _headline(best, ensemble, reference, baseline, **more):
    line = {
        "study": "s",
        "status": "ok",
        "test_metric": "accuracy",
        "test_n": 80,
        "best trial": best,
        "ensemble of trials": ensemble,
        "reference configuration": reference,
        "baseline": baseline,
        **more,
    }
    known = {k: v for k, v in line.items() if k in HEADLINE and v is not None}
    line["highest"] = [k for k, v in known.items() if v == max(known.values())]
    line["result"] = "ensemble of trials" if ensemble is not None else "best trial"
    result = ensemble if ensemble is not None else best
    line["margin_over_baseline"] = None if baseline is None else result - baseline
    return line


HEADLINE = ("best trial", "ensemble of trials", "reference configuration", "baseline")


def test_the_headline_bolds_the_highest_and_flags_a_baseline_win():
    from sweep.report.tables import headline_table

    table = headline_table(
        [
            _headline(0.6625, 0.7, 0.6375, 0.6875),  # the ensemble beats the baseline
            _headline(0.613, None, 0.638, 0.688),  # the baseline wins
        ]
    )
    won, lost = table.rows
    assert won[2:6] == ["0.662", "**0.700**", "0.637", "0.688"]
    assert won[6] == ("the ensemble of trials beats the baseline by 0.013 (1 of 80 tracks)", "pos")
    assert lost[2:6] == ["0.613", "–", "0.638", "**0.688**"]
    text, css = lost[6]
    assert css == "neg" and text.startswith("the baseline beats the best trial by 0.075 (6 of 80")


def test_a_gain_over_the_reference_is_flagged_when_the_baseline_is_above_the_best():
    from sweep.report.tables import _delta_cell

    assert _delta_cell({"delta_test": 0.25, "best_test": 0.5, "baseline_test": 0.588}) == (
        "+0.250\nbaseline above best by 0.088",
        "neg",
    )
    assert _delta_cell({"delta_test": 0.25, "best_test": 0.7, "baseline_test": 0.6}) == (
        "+0.250",
        "pos",
    )


def test_trials_that_did_not_complete_are_counted_by_reason_failed_first():
    from sweep.report.tables import unfinished_table

    trials = [
        {"number": 0, "state": "COMPLETE", "reason": ""},
        {"number": 1, "state": "PRUNED", "reason": "pruned at epoch 2"},
        {"number": 2, "state": "PRUNED", "reason": "pruned at epoch 2"},
        {"number": 3, "state": "FAIL", "reason": "out of memory: CUDA"},
        {"number": 4, "state": "FAIL", "reason": ""},
    ]
    table = unfinished_table(trials)
    assert table.rows == [
        ["fail", "no reason recorded", "1", "#4"],
        ["fail", "out of memory: CUDA", "1", "#3"],
        ["pruned", "pruned at epoch 2", "2", "#1, #2"],
    ]
    assert unfinished_table(trials[:1]) is None


def test_the_tables_a_reader_needs_first_stack_on_a_narrow_screen():
    from sweep.report.tables import headline_table

    assert main_table([line()]).stacked
    assert headline_table([_headline(0.6, None, 0.5, 0.4)]).stacked


def test_a_trial_s_numeric_parameter_keeps_to_one_line():
    trials = [
        {"number": 0, "state": "COMPLETE", "value": 0.5, "epochs": 3, "wall_seconds": 2.0,
         "reference": True, "params.training.lr": 2.086e-05, "params.model.pooling": "mean",
         "params.training.batch_size": 8},
    ]  # fmt: skip
    (row,) = top_trials_table(record({}), trials).rows
    assert row[5:] == [("2.086e-05", "nowrap"), "mean", ("8", "nowrap")]


def test_a_margin_inside_the_paired_bootstrap_interval_is_said_to_be_noise():
    from sweep.report.tables import headline_table

    noise, clear = headline_table(
        [
            _headline(0.6625, 0.7, 0.6375, 0.6875, margin_interval=(-0.05, 0.075)),
            _headline(0.6625, 0.8, 0.6375, 0.6875, margin_interval=(0.05, 0.175)),
        ]
    ).rows
    assert noise[6] == (
        "the ensemble of trials beats the baseline by 0.013 (1 of 80 tracks); 95% paired "
        "bootstrap interval -0.050 to +0.075: within the noise of this test split"
    )  # plain: neither praised nor flagged
    assert clear[6] == (
        "the ensemble of trials beats the baseline by 0.113 (9 of 80 tracks); 95% paired "
        "bootstrap interval +0.050 to +0.175",
        "pos",
    )


def test_a_loss_inside_the_interval_is_noise_and_still_no_win():
    from sweep.report.tables import headline_table

    (row,) = headline_table(
        [_headline(0.675, None, 0.6375, 0.6875, margin_interval=(-0.1, 0.075))]
    ).rows
    text, css = row[6]
    assert css == "neg"
    assert text == (
        "the baseline beats the best trial by 0.013 (1 of 80 tracks); 95% paired bootstrap "
        "interval -0.100 to +0.075: within the noise of this test split, and nothing shown "
        "that the clip statistics did not say"
    )
