"""Pictures of a data set as it lies on disk (`sweep data show`).

    views = show_data(Path("data"), out=Path("data_views"), n_tracks=3, seed=0)
    for path in views.written: print(path)

For a few sample tracks (one per class where possible), one PNG each: the mel spectrogram
and the chromagram of the full-resolution array beside the beat-synchronised one (the same
track id in both folders), on shared colour scales so the two resolutions compare. For each
genre folder, one PNG of the class counts before the 20 -> 10 merge (the label files' own
genre names, coloured by the class each merges into) and after it. A root holding only some
of the four folders gets the pictures of what is there.

Figures are drawn with matplotlib's object interface on the Agg canvas: nothing global is
switched, no window opens, and nothing stays in memory after a file is written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sweep.dataset_api import DataSource
from sweep.errors import DataError
from sweep.lab import layout
from sweep.lab.folders import LAB_DATASETS, present_datasets
from sweep.registry import datasets
from sweep.track_files import index_tracks, read_track

# The lab's recipe (sweep.lab.audio_features, not imported: it loads librosa): one full-resolution
# frame is one hop of 512 samples at 22,050 Hz.
SR = 22050
HOP = 512
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
DROPPED_COLOUR = "#b0b0b0"
DROPPED = " (dropped by the merge)"  # after the raw genre of such a sample
UNLABELLED = "unlabelled"


@dataclass
class Sample:
    """One sample track: its id, what it is, and its arrays ((140, T), as stored) by resolution."""

    track_id: str
    label: str
    part: str
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # "full"/"beat" -> (140, T)


@dataclass
class DataViews:
    """What `show_data` did: the files written, the samples drawn, and what it could not do."""

    written: list[Path] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def show_data(
    root: Path, out: Path = Path("data_views"), n_tracks: int = 3, seed: int = 0
) -> DataViews:
    """Draw sample tracks and genre class histograms of a Kaggle-style data root as PNGs.

    Args:
        root: the data root (`fma_genre_spectrograms[_beat]/`, `multitask_dataset[_beat]/`).
        out: the folder to write into (created; files of the same names are replaced).
        n_tracks: how many sample tracks to draw.
        seed: seeds which tracks are drawn.

    Returns:
        The files written (track views first, then histograms), the samples and notes on
        what could not be drawn (a label file the data set refuses, a corrupt sample...).

    Raises:
        DataError: the root is missing or holds none of the four data set folders.
        ValueError: n_tracks < 1.
    """
    if n_tracks < 1:
        raise ValueError(f"n_tracks must be >= 1, got {n_tracks}")
    root, out = Path(root), Path(out)
    present = present_datasets(root, None, None)
    views = DataViews()
    sources = _genre_sources(root, present, views.notes)
    # Samples come from the genre data (classes to spread them over), else from multitask.
    kind = "genre" if any(name == "fma_genre" for name, _ in present) else "multitask"
    name = next(n for n, k in LAB_DATASETS.items() if k == kind)
    resolutions = sorted((b for n, b in present if n == name), reverse=True)  # beat first
    labels = _labels(root, kind, resolutions, sources, views.notes)
    views.samples = _pick_samples(root, kind, resolutions, labels, n_tracks, seed, views.notes)

    out.mkdir(parents=True, exist_ok=True)
    for sample in views.samples:
        path = out / f"track_{sample.track_id}.png"
        _save(track_figure(sample, kind), path)
        views.written.append(path)
    for beat in (True, False):
        if (beat, True) in sources or (beat, False) in sources:
            path = out / f"genre_classes_{'beat' if beat else 'full'}.png"
            raw, merged = sources.get((beat, False)), sources.get((beat, True))
            _save(class_figure(root, beat, raw, merged), path)
            views.written.append(path)
    return views


# ----------------------------------------------------------------------------- labels


def _genre_sources(
    root: Path, present: list[tuple[str, bool]], notes: list[str]
) -> dict[tuple[bool, bool], DataSource]:
    """The genre data set per (beat, merged), from its component; refusals become notes."""
    sources = {}
    for name, beat in present:
        if name != "fma_genre":
            continue
        for merged in (False, True):
            try:
                sources[(beat, merged)] = datasets.build(
                    "fma_genre", root=root, beat=beat, merge_classes=merged
                )
            except DataError as e:
                what = "merged classes" if merged else "raw genres"
                notes.append(f"{'beat' if beat else 'full'} genre {what}: {e}")
    return sources


def _labels(
    root: Path,
    kind: str,
    resolutions: list[bool],
    sources: dict[tuple[bool, bool], DataSource],
    notes: list[str],
) -> dict[str, tuple[str, str]]:
    """Track id -> (label, part) for the sample folders: the class (merged where the merge
    works, else the raw genre), or the multitask targets; test tracks without labels too."""
    labels: dict[str, tuple[str, str]] = {}
    for beat in resolutions:
        if kind == "genre":
            merged, raw = sources.get((beat, True)), sources.get((beat, False))
            for source, suffix in ((merged, ""), (raw, DROPPED if merged else "")):
                if source is None:
                    continue
                for part in source.parts.values():
                    for tid, target in zip(part.ids, part.targets, strict=True):
                        labels.setdefault(tid, (source.class_names[target] + suffix, part.name))
            continue
        try:
            source = datasets.build("multitask", root=root, beat=beat)
        except DataError as e:
            notes.append(f"{'beat' if beat else 'full'} multitask labels: {e}")
            continue
        train = source.parts["train"]
        for tid, values in zip(train.ids, train.targets, strict=True):
            text = ", ".join(
                f"{n} {v:.2f}" for n, v in zip(source.target_names, values, strict=True)
            )
            labels.setdefault(tid, (text, "train"))
    return labels


# ----------------------------------------------------------------------------- samples


def _pick_samples(
    root: Path,
    kind: str,
    resolutions: list[bool],
    labels: dict[str, tuple[str, str]],
    n_tracks: int,
    seed: int,
    notes: list[str],
) -> list[Sample]:
    """Up to n_tracks readable tracks, one per class in a seeded order before any repeats.

    Tracks with an array in every resolution present are preferred, so the full and the
    beat-synchronised view show the same track.
    """
    files: dict[bool, dict[str, tuple[Path, str]]] = {}
    for beat in resolutions:
        folder = layout.dataset_dir(root, kind, beat)
        files[beat] = {}
        for part in ("train", "test"):
            if (folder / part).is_dir():
                for tid, path in index_tracks(folder / part).items():
                    files[beat].setdefault(tid, (path, part))
    everywhere = set.intersection(*(set(f) for f in files.values())) if files else set()
    if not everywhere and files:
        notes.append("no track id is in both the full and the beat folder: views are one-sided")
        everywhere = set.union(*(set(f) for f in files.values()))

    # Multitask test tracks have no labels, as on Kaggle; a genre track without one is odd.
    unknown = "none (the test folder has no labels)" if kind == "multitask" else UNLABELLED
    if len(files) == 1:
        only = "beat-synchronised" if next(iter(files)) else "full-resolution"
        notes.append(f"only the {only} {kind} folder is present: views show it alone")
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[str]] = {}
    for tid in sorted(everywhere):
        label = labels.get(tid, (UNLABELLED, ""))[0]
        by_class.setdefault(label if kind == "genre" else "", []).append(tid)
    classes = sorted(by_class)
    # Classes in a seeded order; tracks the merge drops (or without labels) only after them.
    aside = [c for c in classes if c == UNLABELLED or c.endswith(DROPPED)]
    ordered = [classes[i] for i in rng.permutation(len(classes)) if classes[i] not in aside]
    queues = [list(rng.permutation(by_class[c])) for c in ordered + aside]

    samples: list[Sample] = []
    while len(samples) < n_tracks and any(queues):
        for queue in queues:
            if not queue or len(samples) == n_tracks:
                continue
            tid = str(queue.pop())
            sample = _read_sample(tid, files, labels, notes, unknown)
            if sample is not None:
                samples.append(sample)
    if len(samples) < n_tracks:
        notes.append(f"{len(samples)} readable sample track(s), fewer than the {n_tracks} asked")
    return samples


def _read_sample(
    tid: str,
    files: dict[bool, dict[str, tuple[Path, str]]],
    labels: dict[str, tuple[str, str]],
    notes: list[str],
    unknown: str,
) -> Sample | None:
    label, part = labels.get(tid, (unknown, ""))
    sample = Sample(tid, label, part)
    for beat, found in sorted(files.items()):  # full first, as drawn and printed
        if tid not in found:
            continue
        path, part = found[tid]
        sample.part = sample.part or part
        try:
            sample.arrays["beat" if beat else "full"] = read_track(path, layout.ARRAYS).T
        except DataError as e:  # a corrupt sample is worth a note, not the whole command
            notes.append(f"skipped a sample: {e}")
            return None
    return sample


# ----------------------------------------------------------------------------- figures


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)  # render on Agg whatever backend pyplot would pick
    fig.savefig(path, dpi=110)


def track_figure(sample: Sample, kind: str) -> Figure:
    """Mel (top) and chroma (bottom); full resolution (left) beside beat-synchronised.

    Args:
        sample: the track, with its (140, T) array per resolution present.
        kind: "genre" (the title names the class) or "multitask" (the targets).

    Returns:
        The figure, one colour bar per row shared by both resolutions.
    """
    order = [r for r in ("full", "beat") if r in sample.arrays]
    fig = Figure(figsize=(6.2 * len(order) + 1.6, 7.6), layout="constrained")
    axes = fig.subplots(2, len(order), squeeze=False)
    arrays = [sample.arrays[r] for r in order]
    mel_range = (
        min(a[: layout.N_MEL].min() for a in arrays),
        max(a[: layout.N_MEL].max() for a in arrays),
    )
    chroma_range = (
        min(a[layout.N_MEL :].min() for a in arrays),
        max(a[layout.N_MEL :].max() for a in arrays),
    )
    for col, (resolution, array) in enumerate(zip(order, arrays, strict=True)):
        frames = array.shape[1]
        if resolution == "full":
            what = "full resolution"
            xlabel = f"frame (hop {HOP} at {SR:,} Hz; {frames} frames = {frames * HOP / SR:.1f} s)"
        else:
            what = "beat-synchronised"
            xlabel = f"beat ({frames} beats; each column = median over one beat)"
        mel = axes[0, col].imshow(
            array[: layout.N_MEL],
            origin="lower",
            aspect="auto",
            cmap="magma",
            vmin=mel_range[0],
            vmax=mel_range[1],
            interpolation="nearest" if frames < 400 else "antialiased",
        )
        axes[0, col].set_title(f"mel spectrogram, {what} ({layout.N_MEL} × {frames})")
        axes[0, col].set_xlabel(xlabel)
        axes[0, col].set_ylabel("mel band (0 = lowest pitch)")
        chroma = axes[1, col].imshow(
            array[layout.N_MEL :],
            origin="lower",
            aspect="auto",
            cmap="viridis",
            vmin=chroma_range[0],
            vmax=chroma_range[1],
            interpolation="nearest",
        )
        axes[1, col].set_title(f"chromagram, {what} ({layout.N_CHROMA} × {frames})")
        axes[1, col].set_xlabel(xlabel)
        axes[1, col].set_ylabel("pitch class")
        axes[1, col].set_yticks(range(layout.N_CHROMA), PITCH_CLASSES)
    # One colour bar per row, shared by both resolutions: the same colour is the same value.
    fig.colorbar(mel, ax=list(axes[0]), label="dB (0 = loudest bin of the clip)")
    fig.colorbar(chroma, ax=list(axes[1]), label="chroma energy (0-1)")
    where = f", {sample.part} split" if sample.part else ""
    what = "class" if kind == "genre" else "targets"
    fig.suptitle(f"track {sample.track_id} — {what}: {sample.label}{where}", fontsize="x-large")
    return fig


def class_figure(
    root: Path,
    beat: bool,
    raw: DataSource | None,
    merged: DataSource | None,
) -> Figure:
    """Track counts per raw genre (left, coloured by merged class) and per merged class.

    Args:
        root: the data root, for the folder name in the title.
        beat: which genre folder the sources read.
        raw: the `fma_genre` source with `merge_classes=False` (None: it refused the labels).
        merged: the same with `merge_classes=True` (None: the merge does not apply).

    Returns:
        The figure: train and test counts stacked per class, totals at the bar ends, one
        legend below (train/test, and which merged class each raw genre's colour means).
    """
    fig = Figure(figsize=(13, 6.5), layout="constrained")
    left, right = fig.subplots(1, 2)
    folder = layout.dataset_dir(root, "genre", beat).name
    fig.suptitle(f"{folder}: classes before and after the 20 → 10 merge", fontsize="x-large")

    merged_names = list(merged.class_names) if merged else []
    palette = _palette(len(merged_names))
    colour = dict(zip(merged_names, palette, strict=True))
    mapping = _merge_mapping(raw, merged) if raw and merged else {}

    handles: list[Patch] = []
    if raw is None:
        _message(left, "the raw genres could not be read (see the notes printed)")
    else:
        genres = list(raw.class_names)
        # Genres that merge into one class side by side, dropped genres last.
        genres.sort(key=lambda g: (mapping.get(g) is None, mapping.get(g) or "", g))
        colours = [colour.get(mapping.get(g), DROPPED_COLOUR) for g in genres]
        handles = _bars(left, genres, _counts(raw), colours)
        left.set_title(f"before: {len(genres)} genres, as the label files name them")
        left.set_xlabel("tracks")
        if merged is not None:
            handles += [Patch(color=c, label=f"merges into {n}") for n, c in colour.items()]
            if any(g not in mapping for g in genres):
                handles.append(Patch(color=DROPPED_COLOUR, label="dropped by the merge"))
    if merged is None:
        _message(right, "the 20 → 10 merge does not apply to these labels\n(see the notes printed)")
    else:
        part_handles = _bars(
            right, merged_names, _counts(merged), [colour[n] for n in merged_names]
        )
        handles = handles or part_handles
        # The genres and their counts are the grey bars on the left; here only the totals.
        dropped = {part: sum(c.values()) for part, c in merged.notes.get("dropped", {}).items()}
        total = sum(dropped.values())
        detail = " + ".join(f"{n} {part}" for part, n in dropped.items())
        right.set_title(
            f"after: {len(merged_names)} merged classes\n"
            + (f"({total} tracks dropped: {detail})" if total else "(no track dropped)")
        )
        right.set_xlabel("tracks")
    if handles:  # one legend for both panels, below them: it never hides a bar
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6))
    return fig


def _merge_mapping(raw: DataSource, merged: DataSource) -> dict[str, str]:
    """Raw genre -> merged class, read off the two sources' labels of the same track ids."""
    mapping: dict[str, str] = {}
    for name, raw_part in raw.parts.items():
        part = merged.parts.get(name)
        if part is None or not part.labelled or not raw_part.labelled:
            continue
        merged_of = dict(zip(part.ids, part.targets, strict=True))
        for tid, target in zip(raw_part.ids, raw_part.targets, strict=True):
            if tid in merged_of:
                mapping[raw.class_names[target]] = merged.class_names[merged_of[tid]]
    return mapping


def _counts(source: DataSource) -> dict[str, Counter]:
    """Per labelled part (train, test), the number of tracks of each class."""
    return {
        name: Counter(source.class_names[t] for t in part.targets)
        for name, part in source.parts.items()
        if part.labelled
    }


def _bars(ax, names: list[str], counts: dict[str, Counter], colours: list) -> list[Patch]:
    """Horizontal bars, train solid and test hatched after it, totals at the end.

    Returns legend handles for the parts (train, test).
    """
    y = np.arange(len(names))
    start = np.zeros(len(names))
    styles = {"train": 1.0, "test": 0.45}
    for part, counter in counts.items():
        widths = np.array([counter.get(n, 0) for n in names], dtype=float)
        alpha = styles.get(part, 0.7)
        ax.barh(
            y,
            widths,
            left=start,
            color=[to_rgba(c, alpha) for c in colours],
            edgecolor="black",
            linewidth=0.4,
            hatch="//" if part == "test" else None,
        )
        start += widths
    for i, n in enumerate(names):
        detail = " + ".join(f"{counts[p].get(n, 0)} {p}" for p in counts)
        ax.text(start[i], i, f" {int(start[i])} ({detail})", va="center", fontsize="small")
    ax.set_yticks(y, names)
    ax.invert_yaxis()  # first name at the top, as read
    ax.set_xlim(0, max(start.max(initial=0), 1) * 1.5)  # room for the totals
    return [
        Patch(
            facecolor=to_rgba("grey", styles.get(p, 0.7)),
            hatch="//" if p == "test" else None,
            edgecolor="black",
            label=f"{p} tracks",
        )
        for p in counts
    ]


def _palette(n: int) -> list:
    """n distinct colours, none of them grey: grey means "dropped by the merge"."""
    from matplotlib import colormaps

    tab10 = [c for i, c in enumerate(colormaps["tab10"].colors) if i != 7]  # 7 is grey
    extra = [c for i, c in enumerate(colormaps["tab20b"].colors) if i % 4 == 0]
    colours = tab10 + extra
    return [colours[i % len(colours)] for i in range(n)]


def _message(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
