"""sweep.report.formatting: numbers, durations, values and names as the report shows them."""

from __future__ import annotations

import numpy as np

from sweep.report.formatting import (
    delta_cell,
    format_duration,
    format_number,
    format_value,
    short_names,
)


def test_short_names():
    names = ["model.backbone_params.hidden_size", "training.lr", "model.head_params.dropout",
             "model.backbone_params.dropout"]  # fmt: skip
    assert short_names(names) == {
        "model.backbone_params.hidden_size": "hidden_size",
        "training.lr": "lr",
        "model.head_params.dropout": "head_params.dropout",
        "model.backbone_params.dropout": "backbone_params.dropout",
    }


def test_numbers_durations_and_values():
    assert format_number(None) == format_number(float("nan")) == "–"
    assert format_number(0.12345) == "0.123" and format_number(np.float32(0.5), 1) == "0.5"
    assert format_number(3, 0) == "3" and format_number(0.25, signed=True) == "+0.250"
    assert format_number(True) == "True" and format_number("n/a") == "n/a"  # not numbers
    assert format_duration(None) == format_duration(0) == "–"
    assert format_duration(89) == "89 s"
    assert format_duration(600) == "10.0 min"
    assert format_duration(3 * 3600) == "3.0 h"
    assert format_value(0.000123456) == "0.0001235" and format_value(16) == "16"
    assert format_value("mean") == "mean"


def test_a_delta_is_classed_by_its_sign():
    assert delta_cell(None) == "–"
    assert delta_cell(0.1) == ("+0.100", "pos")
    assert delta_cell(-0.1) == ("-0.100", "neg")
    assert delta_cell(0.0) == ("+0.000", "")
