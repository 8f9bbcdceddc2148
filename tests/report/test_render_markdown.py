"""sweep.report.render_markdown: a tiny hand-made document, rendered exactly."""

from __future__ import annotations

from pathlib import Path

from sweep.report.document import Bullets, Heading, Image, Para, Table
from sweep.report.render_markdown import to_markdown


def test_every_block_renders_as_markdown():
    blocks = [
        Heading(2, "Study a"),
        Para("Plain *text*."),
        Para("A note\non two lines", note=True),
        Bullets(["one", "two"]),
        Table(
            ["Name", "Value|x"],
            [["a\nb", ("0.5", "pos")], ["spans"]],  # a short row: its last cell spans
            numeric={1},
        ),
        Image(Path("/abs/h.png"), "studies/a/h.png", "history of a"),
    ]
    assert to_markdown(blocks) == (
        "## Study a\n\n"
        "Plain *text*.\n\n"
        "> A note\n> on two lines\n\n"
        "- one\n- two\n\n"
        "| Name | Value\\|x |\n"
        "|---|---:|\n"
        "| a<br>b | 0.5 |\n"
        "| spans |  |\n\n"
        "![history of a](studies/a/h.png)\n"
    )
