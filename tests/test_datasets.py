"""The lab's data set components: label files, the class merge, the label-name variants."""

import numpy as np
import pytest

from components.datasets.lab import GENRE_MERGE, GENRES_DROPPED
from sweep.errors import DataError
from sweep.lab import layout
from sweep.registry import datasets


def test_the_merge_covers_the_twenty_fma_genres():
    assert len(set(GENRE_MERGE) | GENRES_DROPPED) == 20
    assert sorted(set(GENRE_MERGE.values())) == [
        "Blues",
        "Classical",
        "Electronic",
        "Folk",
        "Hip-Hop",
        "Jazz",
        "Metal",
        "Pop",
        "Rock",
        "Trip-Hop",
    ]


@pytest.mark.parametrize("beat", [True, False])
def test_fma_genre_merges_drops_and_counts(tiny_root, beat):
    source = datasets.build("fma_genre", root=tiny_root, beat=beat)
    assert source.task == "classification"
    assert source.class_names == ("Classical", "Electronic", "Rock")  # alphabetical
    train = source.parts["train"]
    assert len(train.ids) == 20  # 24 minus the 4 Soundtrack tracks
    assert np.bincount(train.targets).tolist() == [4, 8, 8]  # Psych-Rock, Chiptune merged
    assert source.notes["dropped"] == {"train": {"Soundtrack": 4}, "test": {}}
    # label files say beatsync / npy.gz / full.fused; ids are still the bare numbers
    assert all(tid.isdigit() for tid in train.ids + source.parts["test"].ids)
    assert source.has_test_labels


def test_fma_genre_without_merge_keeps_every_genre(tiny_root):
    source = datasets.build("fma_genre", root=tiny_root, beat=True, merge_classes=False)
    assert source.class_names == (
        "Chiptune",
        "Classical",
        "Electronic",
        "Psych-Rock",
        "Rock",
        "Soundtrack",
    )
    assert len(source.parts["train"].ids) == 24
    assert source.notes["dropped"] == {"train": {}, "test": {}}


def test_a_genre_outside_the_merge_is_an_error_with_its_line(tiny_root):
    labels = layout.dataset_dir(tiny_root, "genre", True) / "train_labels.txt"
    lines = labels.read_text().splitlines()
    lines[3] = lines[3].split("\t")[0] + "\tReggae"
    labels.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataError,
        match=r"train_labels.txt:4: genre 'Reggae' is neither merged "
        r"nor dropped",
    ):
        datasets.build("fma_genre", root=tiny_root, beat=True)
    # without the merge the user's own genre is simply a class
    source = datasets.build("fma_genre", root=tiny_root, beat=True, merge_classes=False)
    assert "Reggae" in source.class_names


def test_a_test_class_never_seen_in_training_is_an_error(tiny_root):
    labels = layout.dataset_dir(tiny_root, "genre", True) / "test_labels.txt"
    labels.write_text(labels.read_text().replace("\tRock\n", "\tJazz\n", 1))
    with pytest.raises(
        DataError,
        match=r"test_labels.txt:2: class 'Jazz' has no track in the "
        r"training labels",
    ):
        datasets.build("fma_genre", root=tiny_root, beat=True)


def test_missing_folders_and_label_files(tiny_root, tmp_path):
    with pytest.raises(DataError, match="data root not found"):
        datasets.build("fma_genre", root=tmp_path / "nowhere", beat=True)
    with pytest.raises(DataError, match=r"no folder fma_genre_spectrograms_beat/ .*found: data\)"):
        datasets.build("fma_genre", root=tmp_path, beat=True)  # the parent of the data root
    (layout.dataset_dir(tiny_root, "genre", False) / "test_labels.txt").unlink()
    with pytest.raises(DataError, match="test_labels.txt: label file not found"):
        datasets.build("fma_genre", root=tiny_root, beat=False)


def test_multitask_reads_targets_and_an_unlabelled_test_folder(tiny_root):
    source = datasets.build("multitask", root=tiny_root, beat=True)
    assert source.task == "regression"
    assert source.target_names == ("valence", "energy", "danceability")
    train = source.parts["train"]
    assert train.targets.shape == (24, 3) and train.targets.dtype == np.float32
    assert not source.has_test_labels and not source.parts["test"].labelled
    one = datasets.build("multitask", root=tiny_root, beat=True, targets=["energy"])
    assert one.target_names == ("energy",)
    assert np.array_equal(one.parts["train"].targets[:, 0], train.targets[:, 1])


def test_multitask_label_errors(tiny_root):
    with pytest.raises(DataError, match=r"no target column 'arousal' \(columns: valence, "):
        datasets.build("multitask", root=tiny_root, beat=True, targets=["arousal"])
    labels = layout.dataset_dir(tiny_root, "multitask", True) / "train_labels.txt"
    lines = labels.read_text().splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + ",high"
    labels.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataError,
        match=r"train_labels.txt:3: danceability must be a finite "
        r"number, got 'high'",
    ):
        datasets.build("multitask", root=tiny_root, beat=True)
