"""sweep.report.render_html: the report's page is self-contained (end to end), and a tiny
hand-made document renders with its classes, spans, links and embedded image."""

from __future__ import annotations

import base64
import re

from sweep.report.document import Bullets, Heading, Image, Para, Table
from sweep.report.render_html import to_html

PNG = b"\x89PNG\r\n\x1a\n"


def test_the_html_is_self_contained(studies):
    out = studies["written"].out
    page = (out / "report.html").read_text()
    sources = re.findall(r"""src\s*=\s*["']?([^"' >]*)""", page)
    markdown_images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (out / "REPORT.md").read_text())
    assert len(sources) == len(markdown_images) > 0
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', page))
    assert "<link" not in page and "<script" not in page
    assert "<table>" in page and "<style>" in page


def test_every_block_renders_as_html(tmp_path):
    png = tmp_path / "h.png"
    png.write_bytes(PNG + b"tiny")
    blocks = [
        Heading(2, "Study a.b"),
        Para("See [the table](#study-ab), `code`, **bold** and <b>escaped</b>."),
        Para("A note", note=True),
        Bullets(["*one*"]),
        Table(["Name", "Value", "More"], [["a", ("+0.1", "pos"), "x"], ["spans"]], numeric={1}),
        Image(png, "h.png", 'a "quoted" alt'),
    ]
    page = to_html(blocks, "Report <1>")
    assert page.startswith("<!doctype html>") and page.endswith("</main></body></html>")
    assert "<title>Report &lt;1&gt;</title>" in page
    assert '<h2 id="study-ab">Study a.b</h2>' in page
    assert (
        '<p>See <a href="#study-ab">the table</a>, <code>code</code>, <strong>bold</strong> '
        "and &lt;b&gt;escaped&lt;/b&gt;.</p>"
    ) in page
    assert '<p class="note">A note</p>' in page
    assert "<ul><li><em>one</em></li></ul>" in page
    assert "<th>Name</th><th class=num>Value</th><th>More</th>" in page
    assert '<td>a</td><td class="num pos">+0.1</td><td>x</td>' in page
    assert '<tr><td colspan="3">spans</td></tr>' in page  # a short row spans the rest
    data = base64.b64encode(PNG + b"tiny").decode("ascii")
    assert f'<img alt="a &quot;quoted&quot; alt" src="data:image/png;base64,{data}">' in page


def test_a_stacked_table_names_each_cell_s_column_for_a_narrow_screen():
    stacked = Table(["Study", "Best\ntrial"], [["a", "0.5"], ["spans"]], stacked=True)
    page = to_html([stacked, Table(["Plain"], [["b"]])], "r")
    assert '<table class="stacked"><thead>' in page
    assert '<td data-label="Study">a</td><td data-label="Best trial">0.5</td>' in page
    assert '<td colspan="2" data-label="Study">spans</td>' in page
    assert "<table><thead><tr><th>Plain</th></tr></thead><tbody><tr><td>b</td></tr>" in page
    assert "@media (max-width: 700px)" in page and "content: attr(data-label)" in page
