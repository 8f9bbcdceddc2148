"""The report as a document: a list of blocks (headings, paragraphs, bullets, tables, images).

A document is built once and rendered twice (`sweep.report.render_markdown`,
`sweep.report.render_html`): its text uses the few bits of Markdown both renderings know
(`code`, **bold**, *italic*, [links](#anchor)), and its images are PNG files beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

Cell = str | tuple[str, str]  # text, or (text, css class)


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    text: str
    note: bool = False


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    numeric: set[int] = field(default_factory=set)  # right-aligned columns
    row_classes: list[str] | None = None
    # on a narrow screen (a phone), each row a card of "column: value" lines rather than
    # columns squeezed to a word each and the last ones scrolled out of sight
    stacked: bool = False


@dataclass
class Image:
    path: Path  # absolute, for embedding
    rel: str  # relative to the report folder, for Markdown
    alt: str


Block = Heading | Para | Bullets | Table | Image


def anchor(text: str) -> str:
    """A heading's anchor as GitHub makes it (lower case, punctuation dropped, spaces to
    hyphens), so that the same `#link` works in REPORT.md on GitHub and in report.html."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def cell_parts(cell: Cell) -> tuple[str, str]:
    """A cell's (text, css class); the class is empty for a plain text cell."""
    return (cell, "") if isinstance(cell, str) else cell
