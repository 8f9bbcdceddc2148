"""Writing the report: collect the studies, compute their lines, build the document, render.

    outcome = write_report(Path("results"), ["demo"], out=Path("report"))

The order is the report's: read every study into a record (`records`), rebuild its data,
baseline and predictions (`study_data`), compute the lines of the tables (`numbers`) and
write them as CSV (`tables`), build the document (this module's front matter, then one
section per study, `sections`), and render it twice (`render_markdown`, `render_html`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sweep import __version__
from sweep.errors import SweepError
from sweep.report import prose
from sweep.report.document import Block, Heading, Para, anchor
from sweep.report.numbers import baseline_lines, headline_lines, main_lines
from sweep.report.records import StudyRecord, find_studies, is_study_folder, load_study_record
from sweep.report.render_html import to_html
from sweep.report.render_markdown import to_markdown
from sweep.report.sections import study_section
from sweep.report.study_data import attach_data
from sweep.report.tables import baseline_table, headline_table, main_table, write_csv


@dataclass
class ReportOutcome:
    out: Path
    files: list[Path]
    studies: list[str]
    notes: dict[str, list[str]]  # study -> notes


def write_report(
    results: Path,
    studies: Sequence[str] | None = None,
    out: Path | None = None,
    data_root: Path | None = None,
    baseline: bool = True,
    storage: str | None = None,
) -> ReportOutcome:
    """Write REPORT.md, report.html, the CSVs and the PNGs for some or all studies.

    Args:
        results: the folder of study results (`sweep run --results`).
        studies: study folder names; default every folder with an `optuna.journal`.
        out: where to write; default `<results>/report`.
        data_root: where the studies' data is, when their data.root (relative to where
            they ran) is not found from here.
        baseline: fit the practitioner's baseline (needs the data).
        storage: the database URL the studies ran on (`sweep run --storage`), instead of
            the journal files in `results`.

    Raises:
        SweepError: no results folder, no study, or an unknown study name.
    """
    results = Path(results)
    folders = find_studies(results, studies, storage)
    out = Path(out) if out is not None else results / "report"
    if is_study_folder(out):  # a study named "report", or --out pointing at a study
        raise SweepError(f"{out} is a study folder; the report never writes into one: --out DIR")
    out.mkdir(parents=True, exist_ok=True)
    records = [load_study_record(f, storage) for f in folders]
    attach_data(records, results, data_root, baseline)

    lines = main_lines(records)
    bases = baseline_lines(records)
    files = [out / "main_table.csv", out / "baselines.csv"]
    write_csv(lines, files[0])
    write_csv(bases, files[1])

    blocks = _front_matter(records, results, lines, bases)
    for record in records:
        blocks += study_section(record, out, lines)

    markdown = to_markdown(blocks)
    (out / "REPORT.md").write_text(markdown)
    (out / "report.html").write_text(to_html(blocks, f"Sweep report: {results}"))
    files += [out / "REPORT.md", out / "report.html"]
    files += sorted((out / "studies").rglob("*.*"))
    return ReportOutcome(
        out, files, [r.name for r in records], {r.name: r.notes for r in records if r.notes}
    )


def _front_matter(
    records: Sequence[StudyRecord],
    results: Path,
    lines: Sequence[dict[str, Any]],
    bases: Sequence[dict[str, Any]],
) -> list[Block]:
    """The report before the studies: title, the headline, contents, the main table (its
    rows without a study folded into one line) and the baselines."""
    with_study = [line for line in lines if line.get("status") != "no study yet"]
    without = [line["reference_model"] for line in lines if line.get("status") == "no study yet"]
    blocks: list[Block] = [
        Heading(1, "Sweep report"),
        Para(
            f"{len(records)} stud{'y' if len(records) == 1 else 'ies'} from `{results}`: "
            + ", ".join(f"`{r.name}`" for r in records)
            + f". Written {datetime.now():%Y-%m-%d %H:%M} by sweep {__version__}."
        ),
        Heading(2, prose.HEADLINE_HEADING),
        Para(prose.HEADLINE_LEGEND),
        headline_table(headline_lines(records)),
        Para(
            "Contents: "
            + " · ".join(
                f"[{title}](#{anchor(title)})"
                for title in [prose.MAIN_HEADING, prose.BASELINE_HEADING]
                + [f"Study {r.name}" for r in records]
            )
        ),
        Heading(2, prose.MAIN_HEADING),
        Para(prose.REPORT_DATA, note=True),
        Para(prose.MAIN_TABLE_LEGEND),
    ]
    if with_study:
        blocks.append(main_table(with_study))
    if without:
        blocks.append(
            Para(
                f"Reference models without a study here ({len(without)}): "
                + ", ".join(f"`{name}`" for name in without)
                + ". Each has a spec in `specs/`; all are in `main_table.csv`."
            )
        )
    blocks += [
        Heading(2, prose.BASELINE_HEADING),
        Para(prose.BASELINE_METHOD),
    ]
    if bases:
        blocks.append(baseline_table(bases))
    else:
        blocks.append(Para(prose.NO_BASELINE, note=True))
    return blocks
