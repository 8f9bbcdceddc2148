"""`sweep predict`: a trained model's predictions on new tracks, as a CSV."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sweep.cli.app import Command, app, console


@app.command("predict", cls=Command)
def predict_command(
    model: Annotated[
        str,
        typer.Argument(
            metavar="MODEL_OR_STUDY",
            help="A checkpoint (.pt), a study folder, or a study name under --results "
            "(its ensemble of trials where it has one, else its best trial).",
        ),
    ],
    input_dir: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT_DIR",
            help="Folder of .npy arrays (lab layout) or wav/mp3/ogg/flac files.",
        ),
    ],
    out: Annotated[Path, typer.Option(metavar="FILE", help="The CSV to write.")] = Path(
        "predictions.csv"
    ),
    results: Annotated[
        Path, typer.Option(metavar="FOLDER", help="Folder of study results, for a study name.")
    ] = Path("results"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Skip unreadable files and count them.")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(metavar="N", help="Processes for audio features (default: all cores).", min=1),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Torch threads (default: the model's training.threads, else all cores); "
            "1 is far faster on a CPU another job keeps busy.",
            min=1,
        ),
    ] = None,
) -> None:
    """Predict new tracks with a trained model, into a CSV.

    The CSV has an Id column, then the predicted class or one column per target. A model
    trained on valence, energy and danceability writes the Kaggle submission format.
    """
    from collections import Counter

    from sweep.predict import check_output, predict_folder, resolve_model, write_csv
    from sweep.train import set_threads

    check_output(out, force)  # before the model and the features, not after
    net, ckpt, source = resolve_model(model, results)
    set_threads(threads or ckpt["spec"]["training"].get("threads"))  # as training did
    result = predict_folder(
        net, ckpt, input_dir, skip_bad=skip_bad, workers=workers, show_progress=sys.stderr.isatty()
    )
    write_csv(result, out, force=force)
    names = result.columns[1:] if result.task == "classification" else result.columns
    console.print(
        f"Predicted {len(result.ids)} tracks of {input_dir} with {source.describe()} "
        f"({result.task}: {', '.join(names)}). Wrote {out}.",
        markup=False,
    )
    if result.task == "classification":
        counts = sorted(Counter(row[0] for row in result.values).items())
        console.print("Predicted classes: " + ", ".join(f"{c} {n}" for c, n in counts))
    if result.skipped:
        console.print(f"Skipped {len(result.skipped)} bad file(s):", markup=False)
        for reason in result.skipped.values():
            console.print(f"  {reason}", markup=False, highlight=False)
