"""sweep.report.document: anchors as GitHub makes them, and cells with or without a class."""

from __future__ import annotations

from sweep.report.document import anchor, cell_parts


def test_anchors():
    assert anchor("Practitioner's baseline") == "practitioners-baseline"
    assert anchor("Study genre_all.beat") == "study-genre_allbeat"


def test_a_cell_is_text_or_text_and_class():
    assert cell_parts("0.5") == ("0.5", "")
    assert cell_parts(("+0.1", "pos")) == ("+0.1", "pos")
