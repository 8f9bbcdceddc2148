"""`sweep data show`: sample tracks and class histograms drawn from a Kaggle-style root."""

from __future__ import annotations

import shutil

import matplotlib.image
import pytest
from typer.testing import CliRunner

from sweep.cli import app
from sweep.errors import DataError
from sweep.lab import layout
from sweep.lab.show import class_figure, show_data
from sweep.registry import datasets

RAW_GENRES = {"Rock", "Psych-Rock", "Classical", "Electronic", "Chiptune", "Soundtrack"}
MERGED = ["Classical", "Electronic", "Rock"]


def test_files_are_written_for_samples_of_every_class_and_both_resolutions(tiny_root, tmp_path):
    out = tmp_path / "views"
    views = show_data(tiny_root, out=out, n_tracks=3, seed=0)
    names = [p.name for p in views.written]
    assert names[-2:] == ["genre_classes_beat.png", "genre_classes_full.png"]
    assert [f"track_{s.track_id}.png" for s in views.samples] == names[:3]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    for path in views.written:
        image = matplotlib.image.imread(path)  # a real PNG, not an empty file
        assert image.ndim == 3 and image.shape[0] > 400 and image.shape[1] > 600
        assert image.std() > 0  # something is drawn

    assert sorted(s.label for s in views.samples) == MERGED  # one per class
    for sample in views.samples:  # the same track in both folders
        assert sample.arrays["full"].shape == (layout.N_ROWS, 64)
        assert sample.arrays["beat"].shape[0] == layout.N_ROWS
        assert 5 <= sample.arrays["beat"].shape[1] < 40
    assert views.notes == []


def test_the_histograms_show_the_raw_genres_and_the_merged_classes(tiny_root):
    raw = datasets.build("fma_genre", root=tiny_root, beat=True, merge_classes=False)
    merged = datasets.build("fma_genre", root=tiny_root, beat=True, merge_classes=True)
    left, right = class_figure(tiny_root, True, raw, merged).axes

    before = [t.get_text() for t in left.get_yticklabels()]
    assert set(before) == RAW_GENRES
    assert before[-1] == "Soundtrack"  # the dropped genre last, merged genres side by side
    assert before.index("Psych-Rock") == before.index("Rock") - 1
    after = [t.get_text() for t in right.get_yticklabels()]
    assert after == MERGED
    assert "(4 tracks dropped: 4 train + 0 test)" in right.get_title()

    # Train bars first, then test bars stacked after them: 4 train tracks per raw genre;
    # Rock after the merge is Rock + Psych-Rock.
    train_widths = [p.get_width() for p in left.patches[: len(before)]]
    assert train_widths == [4] * len(before)
    assert [t.get_text() for t in right.texts] == [
        " 6 (4 train + 2 test)",
        " 10 (8 train + 2 test)",
        " 10 (8 train + 2 test)",
    ]


def test_the_command_prints_shapes_and_files(tiny_root, tmp_path):
    result = CliRunner().invoke(
        app, ["data", "show", str(tiny_root), "--out", str(tmp_path / "v"), "--tracks", "2"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("full (140, 64), beat (140, ") == 2
    assert "Wrote 4 file(s):" in result.output
    assert str(tmp_path / "v" / "genre_classes_full.png") in result.output


def test_the_same_seed_draws_the_same_tracks(tiny_root, tmp_path):
    first = show_data(tiny_root, out=tmp_path / "a", n_tracks=4, seed=3)
    again = show_data(tiny_root, out=tmp_path / "b", n_tracks=4, seed=3)
    assert [s.track_id for s in first.samples] == [s.track_id for s in again.samples]
    # More tracks than merged classes: every class first, then the dropped genre.
    labels = [s.label for s in first.samples]
    assert sorted(labels[:3]) == MERGED and labels[3] == "Soundtrack (dropped by the merge)"


def test_a_root_with_some_folders_shows_what_is_there(tiny_root, tmp_path):
    beat_only = tmp_path / "beat_only"
    shutil.copytree(
        layout.dataset_dir(tiny_root, "genre", True), beat_only / "fma_genre_spectrograms_beat"
    )
    views = show_data(beat_only, out=tmp_path / "v1", n_tracks=2)
    assert [p.name for p in views.written][-1] == "genre_classes_beat.png"
    assert all(list(s.arrays) == ["beat"] for s in views.samples)
    assert any("only the beat-synchronised genre folder" in n for n in views.notes)

    multitask_only = tmp_path / "multitask_only"
    for beat in (True, False):
        folder = layout.dataset_dir(tiny_root, "multitask", beat)
        shutil.copytree(folder, multitask_only / folder.name)
    views = show_data(multitask_only, out=tmp_path / "v2", n_tracks=3)
    assert all(p.name.startswith("track_") for p in views.written) and len(views.written) == 3
    for sample in views.samples:
        assert sample.label.startswith("valence ") or sample.label.startswith("none")


def test_a_missing_root_is_one_error(tmp_path):
    with pytest.raises(DataError, match="data root not found"):
        show_data(tmp_path / "nowhere", out=tmp_path / "v")
    with pytest.raises(DataError, match="no data set folder"):
        show_data(tmp_path, out=tmp_path / "v")
