"""Integration: the real emotify features in ../shared, read exactly as shipped."""

import numpy as np
import pytest

from sweep.data import prepare
from sweep.lab import layout
from sweep.registry import datasets
from sweep.spec import DataSpec
from sweep.track_files import index_tracks


def test_genre_beat_counts_classes_and_label_name_variants(emotify):
    folder = layout.dataset_dir(emotify, "genre", True)
    train_names = (folder / "train_labels.txt").read_text().splitlines()[1:]
    test_names = (folder / "test_labels.txt").read_text().splitlines()[1:]
    assert all(".beatsync.fused.npy\t" in n for n in train_names)  # the gotchas are there...
    assert all(".full.fused.npy.gz\t" in n for n in test_names)
    source = datasets.build("fma_genre", root=emotify, beat=True)  # ...and resolved by id
    assert len(source.parts["train"].ids) == 320 and len(source.parts["test"].ids) == 80
    assert source.class_names == ("Classical", "Electronic", "Pop", "Rock")
    assert source.notes["dropped"] == {"train": {}, "test": {}}

    data = prepare(DataSpec(dataset="fma_genre", root=emotify, beat=True))
    assert (len(data.train), len(data.validation), len(data.test())) == (256, 64, 80)
    assert np.bincount(data.test().targets).tolist() == [20, 20, 20, 20]
    assert np.bincount(data.validation.targets).tolist() == [16, 16, 16, 16]  # stratified
    lengths = np.concatenate([s.tracks.lengths for s in (data.train, data.validation, data.test())])
    assert lengths.min() == 4 and lengths.max() == 96  # as the data's README says
    assert data.report.skipped == {}


def test_genre_full_subset(emotify):
    data = prepare(DataSpec(dataset="fma_genre", root=emotify, beat=False, features="mel"))
    assert len(data.train) + len(data.validation) == 48 and len(data.test()) == 12
    assert set(data.train.tracks.lengths) == {1292} and data.n_features == 128
    full = datasets.build("fma_genre", root=emotify, beat=False)
    names = (layout.dataset_dir(emotify, "genre", False) / "train_labels.txt").read_text()
    assert ".fused.full.npy.gz\t" in names and len(full.parts["train"].ids) == 48


def test_without_the_merge_the_label_names_are_the_classes(emotify):
    merged = datasets.build("fma_genre", root=emotify, beat=True)
    raw = datasets.build("fma_genre", root=emotify, beat=True, merge_classes=False)
    assert raw.class_names == merged.class_names  # all four names survive the merge as is
    assert np.array_equal(raw.parts["train"].targets, merged.parts["train"].targets)


@pytest.mark.parametrize("beat, n", [(True, 320), (False, 48)])
def test_multitask_labelled_rows_and_unlabelled_test(emotify, beat, n):
    source = datasets.build("multitask", root=emotify, beat=beat)
    assert source.parts["train"].targets.shape == (n, 3)
    assert source.parts["train"].targets.min() >= 0 and source.parts["train"].targets.max() <= 1
    assert not source.has_test_labels
    assert len(index_tracks(source.parts["test"].folder)) == {320: 80, 48: 12}[n]
    data = prepare(DataSpec(dataset="multitask", root=emotify, beat=beat))
    sizes = (len(data.train), len(data.validation), len(data.test()))
    assert sum(sizes) == n and min(sizes) > 0


def test_same_track_same_array_in_every_folder(emotify):
    genre = prepare(DataSpec(dataset="fma_genre", root=emotify, normalization="none"))
    multi = prepare(DataSpec(dataset="multitask", root=emotify, normalization="none", split_seed=5))
    tid = genre.train.ids[0]
    g = genre.train.tracks.track(0)
    for split in (multi.train, multi.validation, multi.test()):
        if tid in split.ids:
            assert np.array_equal(split.tracks.track(split.ids.index(tid)), g)
            break
    else:
        pytest.fail(f"track {tid} missing from multitask")
