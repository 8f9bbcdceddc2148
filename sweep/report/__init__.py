"""`sweep report`: every study beside the lab report's reference table, with a baseline.

    outcome = write_report(Path("results"))           # every study under results/
    outcome = write_report(Path("results"), ["demo"], out=Path("report"))

Writes into `out` (default `<results>/report`):
    REPORT.md           the report in Markdown; images are the PNGs beside it
    report.html         the same report in one self-contained file (images as data: URIs)
    main_table.csv      one line per reference model of the table and study naming it
    baselines.csv       the practitioner's baseline per data set, features and split
    studies/<study>/    trials.csv and the study's figures (history, importances, learning
                        curves, confusion matrix or predicted-vs-true)

The report only reads a study's folder (`optuna.journal`, `spec.yaml`, `split.json`,
`test.json`, `trials/`); it never writes into it. The baseline and the regression scatter
rebuild the study's exact split from `split.json`; where the data cannot be found the report
is still written, with a note saying what is missing.

The package, in the order a report is made:
    records         reading study folders into plain records (the one reader of their files)
    study_data      rebuilding a study's data and split, for the baseline and predictions
    baseline        the practitioner's baseline: pooled features and a linear model
    numbers         the numbers computed from records: the lines of the tables
    formatting      numbers and names as a reader wants them
    tables          the lines as CSV files and as document tables
    figures         the figures, one PNG each (matplotlib, no pyplot)
    sections        a study's section: facts, test scores, figures, parameters, trials
    prose           the explanatory text, kept as data
    document        the document model: headings, paragraphs, bullets, tables, images
    render_markdown the document as REPORT.md
    render_html     the document as one self-contained report.html
    build           the orchestration: write_report
"""

from sweep.report.build import ReportOutcome, write_report

__all__ = ["ReportOutcome", "write_report"]
