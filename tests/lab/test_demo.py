"""The synthetic demo data set: exact Kaggle layout, gotchas, determinism, learnable classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from components.datasets.lab import GENRE_MERGE, fma_genre, multitask
from sweep.errors import DataError
from sweep.lab import layout
from sweep.lab.audio_features import HOP, SR
from sweep.lab.demo import STYLES, TARGETS, write_demo
from sweep.track_files import read_track, track_id

N_PER_CLASS, SECONDS = 10, 6.0  # smaller than the default demo, to keep the tests fast
FOLDERS = [
    "fma_genre_spectrograms",
    "fma_genre_spectrograms_beat",
    "multitask_dataset",
    "multitask_dataset_beat",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("demo") / "data"
    summary = write_demo(
        root, seed=0, workers=2, show_progress=False, n_per_class=N_PER_CLASS, seconds=SECONDS
    )
    return root, summary


def ids_in(folder: Path) -> set[str]:
    return {track_id(p.name) for p in folder.iterdir()}


def test_layout_is_exactly_kaggle(demo) -> None:
    root, summary = demo
    # the four Kaggle folders, and the hidden note that marks a complete demo
    assert sorted(p.name for p in root.iterdir()) == [".sweep-demo.json", *FOLDERS]
    n_test = (N_PER_CLASS // 5) * len(STYLES) + 2  # plus one track of each dropped genre
    n_train = (N_PER_CLASS - N_PER_CLASS // 5) * len(STYLES) + 2
    for name in FOLDERS:
        folder = root / name
        labels = (
            ["test_labels.txt", "train_labels.txt"] if "genre" in name else ["train_labels.txt"]
        )
        assert sorted(p.name for p in folder.iterdir()) == sorted(["test", "train", *labels])
        for split, n in (("train", n_train), ("test", n_test)):
            files = sorted((folder / split).iterdir())
            assert len(files) == n and summary["tracks"][name][split] == n
            assert all(p.name.endswith(".fused.full.npy") for p in files)
            assert all(len(track_id(p.name)) == 6 for p in files)
    for split in ("train", "test"):  # the same ids, the same split, in every folder
        assert len({frozenset(ids_in(root / name / split)) for name in FOLDERS}) == 1
    full = read_track(next((root / FOLDERS[0] / "train").iterdir()), layout.ARRAYS)
    assert full.shape == (1 + int(SECONDS * SR) // HOP, layout.N_ROWS)
    assert summary["frames_full"] == full.shape[0]
    assert 1 <= summary["frames_beat"][0] <= summary["frames_beat"][1] < full.shape[0]


def test_label_files_carry_the_real_gotchas(demo) -> None:
    root, _ = demo
    expected = {
        ("fma_genre_spectrograms", "train"): "{id}.fused.full.npy.gz",
        ("fma_genre_spectrograms_beat", "train"): "{id}.beatsync.fused.npy",
        ("fma_genre_spectrograms", "test"): "{id}.full.fused.npy.gz",
        ("fma_genre_spectrograms_beat", "test"): "{id}.full.fused.npy.gz",
    }
    genres: set[str] = set()
    for (name, split), style in expected.items():
        path = root / name / f"{split}_labels.txt"
        lines = path.read_text().splitlines()
        assert lines[0] == "Id\tGenre"
        names = [line.split("\t")[0] for line in lines[1:]]
        assert names == [style.format(id=track_id(n)) for n in names]
        assert {track_id(n) for n in names} == ids_in(root / name / split)
        genres |= {line.split("\t")[1] for line in lines[1:]}
    assert {"Chiptune", "Psych-Rock", "Soundtrack", "Old-Time"} <= genres
    assert genres - set(GENRE_MERGE) == {"Soundtrack", "Old-Time"}
    header = (root / "multitask_dataset" / "train_labels.txt").read_text().splitlines()[0]
    assert header == "Id," + ",".join(TARGETS)


@pytest.mark.parametrize("beat", [False, True])
def test_the_lab_readers_merge_and_drop(demo, beat: bool) -> None:
    root, _ = demo
    genre = fma_genre(root, beat=beat)
    assert genre.class_names == STYLES
    assert genre.notes["dropped"] == {
        split: {"Old-Time": 1, "Soundtrack": 1} for split in ("train", "test")
    }
    assert np.bincount(genre.parts["test"].targets).tolist() == [N_PER_CLASS // 5] * 4
    emotions = multitask(root, beat=beat)
    values = emotions.parts["train"].targets
    assert emotions.target_names == TARGETS and values.min() >= 0 and values.max() <= 1


def test_same_seed_same_bytes_whatever_the_workers(tmp_path) -> None:
    small = {"n_per_class": 2, "seconds": 3.0, "show_progress": False}
    write_demo(tmp_path / "a", seed=7, workers=1, **small)
    write_demo(tmp_path / "b", seed=7, workers=2, **small)
    write_demo(tmp_path / "c", seed=8, workers=2, **small)
    files = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    assert files == sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert ids_in(tmp_path / "a" / FOLDERS[0] / "train") != ids_in(
        tmp_path / "c" / FOLDERS[0] / "train"
    )


def pooled(folder: Path, split: str, label_file: str) -> tuple[np.ndarray, list[str]]:
    """Mean and std over time of every feature row, and the merged genre, per kept track."""
    features, classes = [], []
    for row in layout.read_label_file(folder / label_file, "\t").rows:
        if row.values[0] in GENRE_MERGE:
            track = read_track(layout.npy_path(folder / split, row.track_id), layout.ARRAYS)
            features.append(np.concatenate([track.mean(axis=0), track.std(axis=0)]))
            classes.append(GENRE_MERGE[row.values[0]])
    return np.array(features), classes


@pytest.mark.parametrize("name", ["fma_genre_spectrograms", "fma_genre_spectrograms_beat"])
def test_classes_really_differ(demo, name: str) -> None:
    """A nearest-centroid classifier on pooled features beats chance (25%) by far."""
    folder = demo[0] / name
    x_train, y_train = pooled(folder, "train", "train_labels.txt")
    x_test, y_test = pooled(folder, "test", "test_labels.txt")
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6
    centroids = np.array(
        [((x_train - mean) / std)[np.array(y_train) == c].mean(axis=0) for c in STYLES]
    )
    distances = (((x_test - mean) / std)[:, None, :] - centroids[None]) ** 2
    predicted = [STYLES[i] for i in distances.sum(axis=2).argmin(axis=1)]
    accuracy = np.mean([p == y for p, y in zip(predicted, y_test, strict=True)])
    assert accuracy >= 0.75


def test_emotions_follow_the_audio(demo) -> None:
    """Danceability and energy rise with spectral flux (onsets); valence with brightness."""
    folder = demo[0] / "multitask_dataset"
    rows = layout.read_label_file(folder / "train_labels.txt", ",").rows
    mel = [
        read_track(layout.npy_path(folder / "train", r.track_id), layout.ARRAYS)[:, : layout.N_MEL]
        for r in rows
    ]
    values = np.array([[float(v) for v in r.values] for r in rows])
    flux = [np.abs(np.diff(m, axis=0)).mean() for m in mel]
    brightness = [m[:, 90:].mean() for m in mel]
    valence, energy, danceability = values.T
    assert spearmanr(flux, danceability)[0] > 0.4
    assert spearmanr(flux, energy)[0] > 0.3
    assert spearmanr(brightness, valence)[0] > 0.2


def test_refuses_a_non_empty_folder(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="folder is not empty; choose a new folder"):
        write_demo(tmp_path, show_progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_the_same_demo_again_is_kept_and_another_refused(demo) -> None:
    root, info = demo
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    again = write_demo(
        root,
        seed=info["seed"],
        n_per_class=info["n_per_class"],
        seconds=info["clip_seconds"],
        show_progress=False,
    )
    assert again["existing"] is True
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before
    with pytest.raises(DataError, match="folder is not empty"):
        write_demo(
            root,
            seed=info["seed"] + 1,
            n_per_class=info["n_per_class"],
            seconds=info["clip_seconds"],
            show_progress=False,
        )
