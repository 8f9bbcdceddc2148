"""The report's explanatory text, kept as data: headings, and what its tables hold.

Here rather than inline in the code that builds the document, so that the text can be read
and edited as text; the document's short captions, which interpolate a study's numbers,
stay beside the numbers they describe (`sweep.report.sections`).
"""

HEADLINE_HEADING = "Headline"
MAIN_HEADING = "Reference models and studies"

HEADLINE_LEGEND = (
    "Per study, on its own test split: the best trial (chosen on validation), the ensemble "
    "of trials (where the spec's `search.selection.final` is `ensemble_selection`), the "
    "lab's reference configuration trained here, and the practitioner's pooled-features "
    "baseline. The highest is in bold. A search that does not beat the baseline has learnt "
    "nothing that the clip statistics did not say."
)
BASELINE_HEADING = "Practitioner's baseline"

REPORT_DATA = (
    "The **lab report's numbers** are test numbers on the lab's Kaggle data: genre rows on "
    "its official 575-track test set, emotion and transfer rows on a held-out part of the "
    "multitask training set (the multitask test labels are hidden). **This run's numbers** "
    "are on the data each study used (column *Data (this run)*), scored on that study's own "
    "test split. They are comparable with the report's only where that data is the Kaggle "
    "data; on any data, compare the best trial with the *reference configuration re-run "
    "here* (same data, same split)."
)

MAIN_TABLE_LEGEND = (
    "One line per model of the lab report's reference table and study whose spec "
    "names it under `reference:` (all the table's models, with a study or not). "
    "*Lab report*: accuracy for genre, Spearman for emotion (mean and per axis) and "
    "transfer. *Test n*: tracks in this run's test split. *Reference config*: the "
    "spec's own configuration (trial #0 of the study), trained and tested here. "
    "*Best trial*: chosen on the validation split, or on the mean of its "
    "cross-validation folds where the spec has folds (its value and metric), tested "
    "once, as the spec's `search.selection.final` says (the reference the same way). "
    "*Δ test*: best trial minus reference config, on this run's test split. "
    "*Baseline*: pooled mean/std features and a linear model on the same split "
    "(below). *Trials c / p / f*: complete / pruned / failed. *Trial wall time*: "
    "wall-clock seconds of the trials, summed (not CPU time). Single-target studies "
    "of one spec (`task.per_target`) get a mean line, the number the report's "
    "emotion mean compares with. Numbers as in `main_table.csv`."
)

BASELINE_METHOD = (
    "Each track pooled to the mean and standard deviation of every feature row over "
    "its valid frames; standardised; LogisticRegression (C from "
    "0.001-10, chosen on validation accuracy) for genre, one Ridge per target "
    "(alpha from 0.1-1000, chosen on validation Spearman) for emotion. Trained on "
    "the study's training split, refitted on train+validation with the chosen value, "
    "tested on its test split: the same tracks as the study's models. Numbers as in "
    "`baselines.csv`."
)

NO_BASELINE = "No baseline: no study's data could be found (see the study notes)."
