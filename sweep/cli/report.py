"""`sweep report`: the studies beside the reference table, written as files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sweep.cli.app import Command, ResultsOption, app, check_output_folder, console


@app.command("report", cls=Command)
def report(
    studies: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="STUDY",
            help="Study folder names under --results (default: every study there).",
        ),
    ] = None,
    results: ResultsOption = Path("results"),
    out: Annotated[
        Path | None,
        typer.Option(
            metavar="FOLDER", help="Folder to write into (default: report/ in --results)."
        ),
    ] = None,
    data_root: Annotated[
        Path | None,
        typer.Option(
            metavar="FOLDER",
            help="The studies' data folder, if their data.root is not found from here.",
        ),
    ] = None,
    baseline: Annotated[
        bool, typer.Option(help="Fit the pooled-features baseline on each study's split.")
    ] = True,
    storage: Annotated[
        str | None,
        typer.Option(
            metavar="URL", help="The database URL the studies ran on (sweep run --storage)."
        ),
    ] = None,
) -> None:
    """Compare the studies with the reference table, in files.

    Writes REPORT.md, report.html, CSV tables and PNG plots.
    """
    from sweep.report import write_report

    if out is not None:
        check_output_folder(out, "--out")
    elif results.is_dir():
        check_output_folder(results / "report", "--results")
    outcome = write_report(
        results, studies, out=out, data_root=data_root, baseline=baseline, storage=storage
    )
    console.print(
        f"Reported {len(outcome.studies)} stud{'y' if len(outcome.studies) == 1 else 'ies'} "
        f"({', '.join(outcome.studies)}) in {outcome.out}: REPORT.md, report.html, "
        f"{sum(f.suffix == '.csv' for f in outcome.files)} CSV and "
        f"{sum(f.suffix == '.png' for f in outcome.files)} PNG files.",
        markup=False,
        highlight=False,
    )
    for study, notes in outcome.notes.items():
        for note in notes:
            console.print(f"note: {study}: {note}", markup=False, highlight=False)
