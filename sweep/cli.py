"""The `sweep` command line: the only place that prints errors and exits.

Every user error (`SweepError`) is printed as one line on stderr with exit code 2, without a
traceback; anything else is a bug in sweep and keeps its traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sweep import __version__
from sweep.errors import SweepError

app = typer.Typer(
    name="sweep",
    help="Declarative AutoML sweeps for music models trained on spectrograms.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
data_app = typer.Typer(
    help="Data sets: demo data, feature extraction, summaries, the cache.", no_args_is_help=True
)
app.add_typer(data_app, name="data")

console = Console(soft_wrap=True)  # long paths stay on one line when piped
err_console = Console(stderr=True, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"sweep {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Declarative AutoML sweeps for music models trained on spectrograms."""


@data_app.command("demo")
def data_demo(
    out: Annotated[Path, typer.Argument(help="New folder to write the demo data set into.")],
    seed: Annotated[int, typer.Option(help="Seed: the same seed writes the same files.")] = 0,
    workers: Annotated[int | None, typer.Option(help="Processes (default: all cores).")] = None,
    summary: Annotated[bool, typer.Option(help="Load it afterwards and print a summary.")] = True,
) -> None:
    """Write a small synthetic data set in exactly the Kaggle layout."""
    from sweep.lab.demo import write_demo

    info = write_demo(out, seed=seed, workers=workers, show_progress=sys.stderr.isatty())
    if info.get("existing"):
        console.print(f"The demo data set (seed {seed}) is already in [bold]{out}[/]; kept.")
    else:
        console.print(f"Wrote the demo data set to [bold]{out}[/] in {info['seconds']:.1f} s.")
    if summary:
        _print_summaries(out, datasets=None, beat=None, features="fused", skip_bad=False)


@data_app.command("summary")
def data_summary(
    root: Annotated[Path, typer.Argument(help="A Kaggle-style data/ folder.")],
    dataset: Annotated[
        list[str] | None, typer.Option(help="Data set(s) to load (default: every one present).")
    ] = None,
    beat: Annotated[
        bool | None,
        typer.Option("--beat/--full", help="Only beat-synchronised or only full arrays."),
    ] = None,
    features: Annotated[str, typer.Option(help="Feature set: mel, chroma or fused.")] = "fused",
    skip_bad: Annotated[bool, typer.Option(help="Skip bad tracks and count them.")] = False,
) -> None:
    """Load data sets as a sweep would, and print splits, classes, lengths and load times."""
    _print_summaries(root, datasets=dataset, beat=beat, features=features, skip_bad=skip_bad)


def _print_summaries(
    root: Path, datasets: list[str] | None, beat: bool | None, features: str, skip_bad: bool
) -> None:
    # Which data sets a root holds, a component cannot say yet: the lab's folder names can.
    from sweep.lab.folders import present_datasets
    from sweep.summary import summarise

    wanted = present_datasets(root, datasets, beat)
    for name, is_beat in wanted:
        console.print(summarise(root, name, is_beat, features=features, skip_bad=skip_bad))


@data_app.command("extract")
def data_extract(
    audio_dir: Annotated[Path, typer.Argument(help="Folder of wav/mp3/ogg/flac files.")],
    labels: Annotated[
        Path,
        typer.Option(help="CSV/TSV: a file column, then genre or valence/energy/... columns."),
    ],
    out: Annotated[Path, typer.Option(help="Folder to write the Kaggle layout into.")],
    test_fraction: Annotated[
        float, typer.Option(help="Genre test share, where labels have no split column.")
    ] = 0.2,
    seed: Annotated[int, typer.Option(help="Seed of the train/test split.")] = 0,
    workers: Annotated[int | None, typer.Option(help="Processes (default: all cores).")] = None,
    skip_bad: Annotated[bool, typer.Option(help="Skip unreadable audio and count it.")] = False,
) -> None:
    """Compute the lab's features from your own audio, in the Kaggle layout."""
    from sweep.lab.extract import extract_features

    info = extract_features(
        audio_dir,
        labels,
        out,
        test_fraction=test_fraction,
        seed=seed,
        workers=workers,
        skip_bad=skip_bad,
        show_progress=sys.stderr.isatty(),
    )
    console.print(_format_extract(info))


def _format_extract(info: dict) -> str:
    parts = [f"{k}: {v}" for k, v in info.items() if not isinstance(v, (dict, list))]
    skipped = info.get("skipped") or {}
    text = "Extracted features. " + ", ".join(parts)
    if skipped:
        text += f"\nSkipped {len(skipped)} unreadable file(s):\n" + "\n".join(
            f"  {reason}" for reason in (skipped.values() if isinstance(skipped, dict) else skipped)
        )
    return text


@data_app.command("cache")
def data_cache(
    clear: Annotated[bool, typer.Option("--clear", help="Delete every cache entry.")] = False,
) -> None:
    """Show (or clear) the cache of parsed arrays."""
    from sweep.cache import cache_dir, cache_entries, clear_cache, entry_bytes

    if clear:
        freed = clear_cache()
        console.print(f"Cleared {cache_dir()}: {freed / 2**20:.1f} MiB freed.")
        return
    entries = cache_entries()
    total = sum(entry_bytes(e) for e, _ in entries)
    console.print(f"Cache: {cache_dir()} ({len(entries)} entries, {total / 2**20:.1f} MiB)")
    for entry, meta in entries:
        console.print(
            f"  {entry.name}  {entry_bytes(entry) / 2**20:8.1f} MiB  "
            f"{meta.get('tracks', '?')} tracks  {meta.get('folder', '?')}"
        )


@data_app.command("show")
def data_show(
    root: Annotated[Path, typer.Argument(metavar="ROOT", help="A Kaggle-style data/ folder.")],
    out: Annotated[Path, typer.Option(help="Folder to write the PNGs into.")] = Path("data_views"),
    tracks: Annotated[int, typer.Option(help="Sample tracks to draw.", min=1)] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the sample choice.")] = 0,
) -> None:
    """Draw sample spectrograms and chromagrams (full beside beat) and class histograms."""
    from sweep.lab.show import show_data

    views = show_data(root, out=out, n_tracks=tracks, seed=seed)
    for sample in views.samples:
        shapes = ", ".join(f"{r} {a.shape}" for r, a in sample.arrays.items())
        where = f", {sample.part}" if sample.part else ""
        console.print(
            f"track {sample.track_id} ({sample.label}{where}): {shapes}",
            markup=False,
            highlight=False,
        )
    for note in views.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    console.print(f"Wrote {len(views.written)} file(s):", markup=False)
    for path in views.written:
        console.print(f"  {path}", markup=False, highlight=False)


SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a spec field: --set training.lr=3e-4 (repeatable)."),
]
CodeOption = Annotated[
    list[Path] | None,
    typer.Option("--code", help="Import a Python file of your own components first."),
]


def _load(
    spec_path: Path,
    overrides: list[str] | None,
    code: list[Path] | None,
    data_root: Path | None = None,
):
    """Read and fully check a spec (schema, registry names, space) before anything runs."""
    from sweep.registry import import_user_code
    from sweep.specfile import load_spec_with_source
    from sweep.validate import check_spec

    for path in code or []:
        import_user_code(path)
    spec, source = load_spec_with_source(spec_path, overrides or [], data_root)
    check_spec(spec, source)
    return spec


@app.command("run")
def run(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC", help="The spec (YAML).")],
    trials: Annotated[int | None, typer.Option(help="Trials for the whole study.", min=1)] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds for this run.", min=1)] = None,
    data_root: Annotated[Path | None, typer.Option(help="Override data.root.")] = None,
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL (default: a journal file in results).")
    ] = None,
    results: Annotated[Path, typer.Option(help="Folder of study results.")] = Path("results"),
    workers: Annotated[
        int,
        typer.Option(
            help="Processes running trials at once on this machine (torch threads are shared "
            "out between them).",
            min=1,
        ),
    ] = 1,
    set_: SetOption = None,
    code: CodeOption = None,
) -> None:
    """Run (or continue) the spec's study, then test the best and the reference trial.

    Another `sweep run` of the same spec with the same --storage (on this machine or
    another) joins the study: the trial budget is the whole study's.
    """
    import optuna

    from sweep.progress import StudyProgress
    from sweep.study import run_study
    from sweep.train import set_threads

    spec = _load(spec_path, set_, code, data_root)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trial outcomes: our own lines
    set_threads(spec.training.threads)
    budget = trials or spec.search.n_trials
    console.print(
        f"Study [bold]{spec.study}[/]: {spec.model.backbone} on {spec.data.dataset} "
        f"({spec.data.features}, {'beat' if spec.data.beat else 'full'}), {budget} "
        f"trials, optimising validation {spec.metric} ({spec.direction})"
        + (f", {workers} workers." if workers > 1 else ".")
    )
    for one in spec.per_target_specs():  # one study, or one per target
        if one is not spec:
            console.print(f"Study [bold]{one.study}[/]: target {one.task.targets[0]}.")
        progress = StudyProgress(console, one.metric, one.training.max_epochs)
        try:
            outcome = run_study(
                one,
                results,
                n_trials=trials,
                timeout=timeout,
                storage=storage,
                progress=progress,
                workers=workers,
                code=tuple(code or ()),
            )
        except KeyboardInterrupt:
            progress.stop()
            err_console.print(
                f"interrupted: finished trials are kept in {results / one.study}; "
                f"run the same command again to continue",
                markup=False,
            )
            sys.exit(130)
        finally:
            progress.stop()
        console.print(_format_outcome(one, outcome))
        for note in outcome.notes:
            console.print(f"note: {note}", markup=False, highlight=False)


def _format_outcome(spec, outcome) -> str:
    import optuna

    states = optuna.trial.TrialState
    trials = outcome.study.trials
    trials = [t for t in trials if not t.user_attrs.get("surplus")]  # see sweep.workers
    count = {
        s: sum(t.state == s for t in trials) for s in (states.COMPLETE, states.PRUNED, states.FAIL)
    }
    lines = [
        f"\n{len(trials)} trials: {count[states.COMPLETE]} complete, "
        f"{count[states.PRUNED]} pruned, {count[states.FAIL]} failed. "
        f"Results in {outcome.folder}"
    ]
    if not outcome.test:
        lines.append("No trial completed, so nothing was tested.")
        return "\n".join(lines)
    metrics = ["accuracy", "macro_f1"] if spec.task.kind == "classification" else ["spearman"]
    lines.append(
        f"{'':12} {'trial':>5} {'val ' + spec.metric:>16} "
        + " ".join(f"{'test ' + m:>16}" for m in metrics)
    )
    for role in ("reference", "best"):
        r = outcome.test.get(role)
        if r is None:
            why = "not tested here (see the note)" if outcome.notes else "did not complete"
            lines.append(f"{role:12} ({why})")
            continue
        lines.append(
            f"{role:12} {r['trial']:>5} {r['validation']:>16.4f} "
            + " ".join(f"{r[m]:>16.4f}" for m in metrics)
        )
    return "\n".join(lines)


@app.command("validate")
def validate(
    specs: Annotated[list[Path], typer.Argument(metavar="SPEC...", help="Spec files.")],
    set_: SetOption = None,
    code: CodeOption = None,
) -> None:
    """Check specs without training: schema, component names and parameters, the space."""
    from sweep.specfile import SpecProblems

    failed = 0
    for path in specs:
        try:
            _load(path, set_, code)
        except SpecProblems as e:
            failed += 1
            for problem in e.problems:
                err_console.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        except SweepError as e:
            failed += 1
            err_console.print(str(e), markup=False, highlight=False, soft_wrap=True)
        else:
            console.print(f"{path}: ok")
    if failed:
        raise typer.Exit(2)


@app.command("show")
def show(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC", help="The spec (YAML).")],
    set_: SetOption = None,
    code: CodeOption = None,
) -> None:
    """Print the spec with every default filled in."""
    from sweep.study import spec_yaml

    print(spec_yaml(_load(spec_path, set_, code)), end="")


check_app = typer.Typer(help="Sanity checks before a long sweep.", no_args_is_help=True)
app.add_typer(check_app, name="check")


@check_app.command("overfit")
def check_overfit(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC", help="The spec (YAML).")],
    steps: Annotated[int, typer.Option(help="Optimisation steps on the one batch.", min=1)] = 300,
    data_root: Annotated[Path | None, typer.Option(help="Override data.root.")] = None,
    set_: SetOption = None,
    code: CodeOption = None,
) -> None:
    """Train the reference configuration on one batch: the loss must go to ~0."""
    from sweep.overfit import overfit_one_batch

    spec = _load(spec_path, set_, code, data_root)
    losses = overfit_one_batch(spec, steps)
    every = max(1, steps // 10)
    for step in range(0, steps, every):
        console.print(f"step {step + 1:5d}  loss {losses[step]:.5f}")
    final = losses[-1]
    passed = final <= 0.05 * losses[0] or final < 1e-2
    console.print(
        f"step {steps:5d}  loss {final:.5f}\n"
        f"{'PASSED' if passed else 'FAILED'}: loss {losses[0]:.4f} -> {final:.5f} "
        f"({final / losses[0]:.1%} of the first step)"
    )
    if not passed:
        raise typer.Exit(1)


@app.command("components")
def components(
    kind: Annotated[
        str | None, typer.Argument(help="datasets, features, backbones or heads.")
    ] = None,
    code: CodeOption = None,
) -> None:
    """List the registered components with their one-line docs and parameters."""
    from sweep.registry import REGISTRIES, import_user_code

    for path in code or []:
        import_user_code(path)

    if kind is not None and kind not in REGISTRIES:
        raise SweepError(f"unknown component kind {kind!r}; choose from {', '.join(REGISTRIES)}")
    for key, registry in REGISTRIES.items():
        if kind not in (None, key):
            continue
        console.print(f"[bold]{key}[/]")
        for name in registry.names():
            info = registry.info(name)
            console.print(f"  [cyan]{name}[/]{info.signature}\n      {info.summary}")


@app.command("predict")
def predict_command(
    model: Annotated[
        str,
        typer.Argument(
            metavar="MODEL_OR_STUDY",
            help="A checkpoint (.pt), a study folder, or a study name under --results "
            "(its best trial).",
        ),
    ],
    input_dir: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT_DIR",
            help="Folder of .npy arrays (lab layout) or wav/mp3/ogg/flac files.",
        ),
    ],
    out: Annotated[Path, typer.Option(help="The CSV to write.")] = Path("predictions.csv"),
    results: Annotated[
        Path, typer.Option(help="Folder of study results, for a study name.")
    ] = Path("results"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
    skip_bad: Annotated[bool, typer.Option(help="Skip unreadable files and count them.")] = False,
    workers: Annotated[
        int | None, typer.Option(help="Processes for audio features (default: all cores).")
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            help="Torch threads (default: the model's training.threads, else all cores); "
            "1 is far faster on a CPU another job keeps busy.",
            min=1,
        ),
    ] = None,
) -> None:
    """Predict new tracks with a trained model; write Id + classes or targets as a CSV.

    A model trained on valence, energy and danceability writes the Kaggle submission format.
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


@app.command("report")
def report(
    studies: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="STUDY",
            help="Study folder names under --results (default: every study there).",
        ),
    ] = None,
    results: Annotated[Path, typer.Option(help="Folder of study results.")] = Path("results"),
    out: Annotated[
        Path | None, typer.Option(help="Folder to write into (default: RESULTS/report).")
    ] = None,
    data_root: Annotated[
        Path | None,
        typer.Option(help="The studies' data folder, if their data.root is not found from here."),
    ] = None,
    baseline: Annotated[
        bool, typer.Option(help="Fit the pooled-features baseline on each study's split.")
    ] = True,
    storage: Annotated[
        str | None,
        typer.Option(help="The database URL the studies ran on (sweep run --storage)."),
    ] = None,
) -> None:
    """Compare the studies with the reference table: REPORT.md, report.html, CSVs, plots."""
    from sweep.report import write_report

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


def main() -> None:
    try:
        app()
    except SweepError as e:
        err_console.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        sys.exit(130)
