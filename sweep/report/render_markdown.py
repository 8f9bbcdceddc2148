"""Rendering a report document to Markdown, its images as paths relative to the report."""

from __future__ import annotations

from collections.abc import Sequence

from sweep.report.document import Block, Bullets, Heading, Image, Para, Table, cell_parts


def to_markdown(blocks: Sequence[Block]) -> str:
    """REPORT.md's text: notes as quotes, images as links to the PNGs beside it."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {b.text}\n")
        elif isinstance(b, Para):
            out.append(("> " + b.text.replace("\n", "\n> ") if b.note else b.text) + "\n")
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {item}" for item in b.items) + "\n")
        elif isinstance(b, Table):
            esc = [c.replace("|", "\\|").replace("\n", "<br>") for c in b.columns]
            out.append("| " + " | ".join(esc) + " |")
            out.append(
                "|" + "|".join("---:" if i in b.numeric else "---" for i in range(len(esc))) + "|"
            )
            for row in b.rows:
                cells = [cell_parts(c)[0].replace("|", "\\|").replace("\n", "<br>") for c in row]
                cells += [""] * (len(esc) - len(cells))  # a short row spans in HTML only
                out.append("| " + " | ".join(cells) + " |")
            out.append("")
        elif isinstance(b, Image):
            out.append(f"![{b.alt}]({b.rel})\n")
    return "\n".join(out)
