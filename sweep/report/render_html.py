"""Rendering a report document to one self-contained HTML file: images as data: URIs.

The page needs nothing beside it (no stylesheet, script or image file), so that it can be
mailed or moved alone.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence

from sweep.report.document import (
    Block,
    Bullets,
    Heading,
    Image,
    Para,
    Table,
    anchor,
    cell_parts,
)

CSS = """
body { font: 14px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1d1d1f; background: #fff; margin: 0; }
main { max-width: 1500px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 20px; margin: 40px 0 8px; padding-top: 12px; border-top: 2px solid #e3e3e8; }
h3 { font-size: 15.5px; margin: 26px 0 6px; color: #333; }
p, ul { max-width: 1100px; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 8px 14px; margin: 12px 0; }
.wrap { overflow-x: auto; margin: 8px 0 18px; }
table { border-collapse: collapse; font-size: 12.5px; line-height: 1.35; }
th, td { border: 1px solid #dcdce3; padding: 4px 7px; vertical-align: top; text-align: left; }
th { background: #eef1f6; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num, td.nowrap { white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fafafc; }
tr.absent td { color: #8a8a92; }
tr.first td { border-top: 2px solid #a9adb9; }
tr.combined td { background: #f2f7ff !important; font-style: italic; }
tr.ref td { background: #fff1f0 !important; }
td.pos { color: #11772d; font-weight: 600; }
td.neg { color: #b3261e; font-weight: 600; }
td.changed { font-weight: 600; background: #fff6d6 !important; }
code { background: #f1f1f4; padding: 1px 4px; border-radius: 3px; font-size: 12px; }
img { max-width: 100%; height: auto; border: 1px solid #ececf0; margin: 4px 0 12px; }
@media (max-width: 700px) {
  main { padding: 16px 12px 48px; }
  table.stacked, table.stacked tbody, table.stacked tr, table.stacked td { display: block; }
  table.stacked thead { display: none; }
  table.stacked tr { border: 1px solid #dcdce3; margin: 0 0 10px; }
  table.stacked td { border: none; border-top: 1px solid #ececf0; position: relative;
                     padding-left: 44%; text-align: left; white-space: normal; }
  table.stacked td:first-child { border-top: none; }
  table.stacked td::before { content: attr(data-label); position: absolute; left: 7px;
                             width: 40%; color: #55555c; font-weight: 600; font-style: normal; }
  table.stacked td[data-label=""] { padding-left: 7px; font-weight: 600; }
  table.stacked td:empty { display: none; }
}
"""


def _inline_html(text: str) -> str:
    """Escape, then the bits of Markdown the report uses: `code`, **bold**, *italic* and
    [links](#anchor) inside the document."""
    out = html.escape(text)
    out = re.sub(r"\[([^\]]+)\]\((#[\w\-]+)\)", r'<a href="\2">\1</a>', out)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"\*([^*]+)\*", r"<em>\1</em>", out)
    return out.replace("\n", "<br>")


def to_html(blocks: Sequence[Block], title: str) -> str:
    """report.html's text: one page titled `title`, its style inline, its images embedded."""
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><main>",
    ]
    for b in blocks:
        if isinstance(b, Heading):
            attr = f' id="{anchor(b.text)}"'
            out.append(f"<h{b.level}{attr}>{_inline_html(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            cls = ' class="note"' if b.note else ""
            out.append(f"<p{cls}>{_inline_html(b.text)}</p>")
        elif isinstance(b, Bullets):
            items = "".join(f"<li>{_inline_html(i)}</li>" for i in b.items)
            out.append(f"<ul>{items}</ul>")
        elif isinstance(b, Table):
            head = "".join(
                f"<th{' class=num' if i in b.numeric else ''}>{_inline_html(c)}</th>"
                for i, c in enumerate(b.columns)
            )
            labels = [html.escape(c.replace("\n", " ")) for c in b.columns]
            body = []
            for r, row in enumerate(b.rows):
                cls = b.row_classes[r] if b.row_classes else ""
                cells = []
                for i, cell in enumerate(row):
                    text, extra = cell_parts(cell)
                    classes = " ".join(c for c in ("num" if i in b.numeric else "", extra) if c)
                    attr = f' class="{classes}"' if classes else ""
                    if i == len(row) - 1 and len(row) < len(b.columns):  # spans the rest
                        attr += f' colspan="{len(b.columns) - i}"'
                    if b.stacked:  # the card's line names its column
                        attr += f' data-label="{labels[i]}"'
                    cells.append(f"<td{attr}>{_inline_html(text)}</td>")
                row_attr = f' class="{cls}"' if cls else ""
                body.append(f"<tr{row_attr}>{''.join(cells)}</tr>")
            table = '<table class="stacked">' if b.stacked else "<table>"
            out.append(
                f'<div class="wrap">{table}<thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(body)}</tbody></table></div>"
            )
        elif isinstance(b, Image):
            data = base64.b64encode(b.path.read_bytes()).decode("ascii")
            out.append(f'<img alt="{html.escape(b.alt)}" src="data:image/png;base64,{data}">')
    out.append("</main></body></html>")
    return "\n".join(out)
