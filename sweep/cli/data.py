"""`sweep data ...`: demo data, feature extraction, summaries, the cache, pictures."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sweep.cli.app import (
    CodeOption,
    Command,
    UsageError,
    check_output_folder,
    console,
    data_app,
    load_checked_spec,
)

RootArgument = Annotated[Path, typer.Argument(metavar="ROOT", help="A Kaggle-style data/ folder.")]
WorkersOption = Annotated[
    int | None, typer.Option(metavar="N", min=1, help="Processes (default: all cores).")
]


def _fraction_below_one(value: float) -> float:
    if not 0 <= value < 1:
        raise typer.BadParameter(f"must be at least 0 and below 1, got {value}")
    return value


@data_app.command("demo", cls=Command)
def data_demo(
    out: Annotated[
        Path, typer.Argument(metavar="OUT", help="New folder to write the demo data set into.")
    ],
    seed: Annotated[
        int, typer.Option(metavar="INT", min=0, help="The same seed writes the same files.")
    ] = 0,
    workers: WorkersOption = None,
    summary: Annotated[bool, typer.Option(help="Load it afterwards and print a summary.")] = True,
) -> None:
    """Write a small synthetic data set in exactly the Kaggle layout."""
    from sweep.lab.demo import write_demo

    check_output_folder(out, "OUT")
    info = write_demo(out, seed=seed, workers=workers, show_progress=sys.stderr.isatty())
    if info.get("existing"):
        console.print(f"The demo data set (seed {seed}) is already in [bold]{out}[/]; kept.")
    else:
        console.print(f"Wrote the demo data set to [bold]{out}[/] in {info['seconds']:.1f} s.")
    if summary:
        _print_summaries(out, datasets=None, beat=None, features=None, skip_bad=False)


@data_app.command("summary", cls=Command)
def data_summary(
    ctx: typer.Context,
    root: Annotated[
        Path | None,
        typer.Argument(metavar="ROOT", help="A Kaggle-style data/ folder (or give --spec)."),
    ] = None,
    dataset: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME", help="A data set to load (repeatable; default: every one present)."
        ),
    ] = None,
    beat: Annotated[
        bool | None,
        typer.Option("--beat/--full", help="Only beat-synchronised or only full arrays."),
    ] = None,
    features: Annotated[
        str | None,
        typer.Option(
            metavar="NAME", help="Feature set, e.g. mel, chroma or fused (default: the data set's)."
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KEY=VALUE",
            help="A data set option, as data.options in a spec, e.g. --option "
            "merge_classes=false (repeatable).",
        ),
    ] = None,
    spec_path: Annotated[
        Path | None,
        typer.Option(
            "--spec", metavar="FILE", help="Summarise the data this spec trains on (not ROOT)."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="FIELD=VALUE",
            help="With --spec: override a spec field, e.g. --set data.split_seed=1 (repeatable).",
        ),
    ] = None,
    data_root: Annotated[
        Path | None, typer.Option(metavar="FOLDER", help="With --spec: override its data.root.")
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Skip bad tracks (data.skip_bad) and count them.")
    ] = False,
    code: CodeOption = None,
) -> None:
    """Load data as a sweep would and summarise it.

    Prints the splits (tracks, lengths, tracks per class or target means), the class
    merge, how the split was made, bad tracks skipped and the load time.

    ROOT: the lab's data sets found in that folder (or those --dataset names), each
    with the defaults of a spec's data section; --option sets one of its data.options.

    --spec FILE: the data `sweep run FILE` trains on, read through the same --set,
    --data-root and --skip-bad: its data set, root, features, options and split, and
    whether its trials train on folds.
    """
    if spec_path is None:
        if root is None:
            raise UsageError("Missing argument 'ROOT' (or give --spec FILE)", ctx=ctx)
        if set_:
            raise UsageError(
                "--set is for --spec FILE; with ROOT, --option KEY=VALUE sets a data set option",
                ctx=ctx,
            )
        if data_root is not None:
            raise UsageError("--data-root is for --spec FILE; ROOT is the data root", ctx=ctx)
        _print_summaries(root, dataset, beat, features, skip_bad, option, code)
        return
    in_spec = {
        "ROOT": (root, "--data-root FOLDER"),
        "--dataset": (dataset or None, "--set data.dataset=NAME"),
        "--beat/--full": (beat, "--set data.beat=true|false"),
        "--features": (features, "--set data.features=NAME"),
        "--option": (option or None, "--set data.options.KEY=VALUE"),
    }
    for name, (value, instead) in in_spec.items():
        if value is not None:
            raise UsageError(f"{name} with --spec FILE: give {instead} instead", ctx=ctx)
    from sweep.summary import summarise

    overrides = [*(set_ or []), *(["data.skip_bad=true"] if skip_bad else [])]
    spec = load_checked_spec(spec_path, overrides, code, data_root)
    summary = summarise(spec.resolved_data, spec.search.selection)  # a data error: no output
    console.print(
        f"{spec_path} (study {spec.study}): the data `sweep run` trains on, in {spec.data.root}",
        markup=False,
        highlight=False,
    )
    console.print(summary)


def _print_summaries(
    root: Path,
    datasets: list[str] | None,
    beat: bool | None,
    features: str | None,
    skip_bad: bool,
    options: list[str] | None = None,
    code: list[Path] | None = None,
) -> None:
    # Which data sets a root holds, a component cannot say yet: the lab's folder names can.
    from sweep.data import check_options
    from sweep.lab.folders import present_datasets
    from sweep.registry import import_user_code
    from sweep.specfile import parse_assignment
    from sweep.summary import data_spec, summarise

    for path in code or []:
        import_user_code(path)
    chosen = dict(
        parse_assignment(o, "--option", "KEY=VALUE, e.g. merge_classes=false")
        for o in options or []
    )
    specs = [
        data_spec(root, name, is_beat, features, skip_bad, chosen)
        for name, is_beat in present_datasets(root, datasets, beat)
    ]
    for spec in specs:  # an option one of them does not take: before any is loaded
        check_options(spec, where="--option")
    for spec in specs:
        console.print(summarise(spec))


@data_app.command("extract", cls=Command)
def data_extract(
    audio_dir: Annotated[
        Path, typer.Argument(metavar="AUDIO_DIR", help="Folder of wav/mp3/ogg/flac files.")
    ],
    labels: Annotated[
        Path,
        typer.Option(
            metavar="FILE",
            help="CSV/TSV: a file column, then genre or valence/energy/... columns.",
        ),
    ],
    out: Annotated[
        Path, typer.Option(metavar="FOLDER", help="Folder to write the Kaggle layout into.")
    ],
    test_fraction: Annotated[
        float,
        typer.Option(
            metavar="FRACTION",
            callback=_fraction_below_one,
            help="Genre test share in [0, 1), where labels have no split column.",
        ),
    ] = 0.2,
    seed: Annotated[
        int, typer.Option(metavar="INT", min=0, help="Seed of the train/test split.")
    ] = 0,
    workers: WorkersOption = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Skip unreadable audio and count it.")
    ] = False,
) -> None:
    """Compute the lab's features of your own audio (Kaggle layout)."""
    from sweep.lab.extract import extract_features

    check_output_folder(out, "--out")
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
    console.print(_format_extract(info), markup=False, highlight=False)


def _format_extract(info: dict) -> str:
    """What `extract_features` wrote, in sentences, then each skipped file and why.

    "Wrote 7 tracks in 10.1 s: 5 train, 2 test; genres Jazz 3, Pop 2, Rock 2."
    """
    tracks = info["tracks"]
    if info["kind"] == "genre":
        labels = "genres " + ", ".join(f"{name} {n}" for name, n in info["classes"].items())
    else:
        labels = "targets " + ", ".join(info["targets"])
    full, beat = info["folders"]
    lines = [
        f"Wrote {_count(sum(tracks.values()), 'track')} in {info['seconds']:.1f} s: "
        f"{tracks['train']} train, {tracks['test']} test; {labels}.",
        f"Full arrays ({_span(info['frames_full'])} frames) in {full}, beat-synchronised "
        f"ones ({_span(info['frames_beat'])} frames) in {beat}.",
    ]
    if info["skipped"]:
        problems = ", ".join(f"{n} {problem}" for problem, n in info["skipped_problems"].items())
        lines.append(f"Skipped {_count(len(info['skipped']), 'file')}: {problems}.")
        lines += [f"  {message}" for message in info["skipped"]]
    return "\n".join(lines)


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"


def _span(low_high: tuple[int, int]) -> str:
    low, high = low_high
    return str(low) if low == high else f"{low}-{high}"


@data_app.command("cache", cls=Command)
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


@data_app.command("show", cls=Command)
def data_show(
    root: RootArgument,
    out: Annotated[
        Path, typer.Option(metavar="FOLDER", help="Folder to write the PNGs into.")
    ] = Path("data_views"),
    tracks: Annotated[int, typer.Option(metavar="N", help="Sample tracks to draw.", min=1)] = 3,
    seed: Annotated[int, typer.Option(metavar="INT", min=0, help="Seed of the sample choice.")] = 0,
) -> None:
    """Draw sample spectrograms, chromagrams and class histograms.

    Each sample track is drawn at full resolution beside its beat-synchronised version.
    """
    from sweep.lab.show import show_data

    check_output_folder(out, "--out")
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
