"""Every registered data set and feature set follows the contract of `sweep.dataset_api`.

As the backbones' and heads' conformance tests (tests/test_components_conformance.py), these
are parametrised over `datasets.names()` and `feature_sets.names()`, so a new component is
tested the moment it is registered. Every data set is built on the tiny Kaggle-layout data
of tests/conftest.py; one that reads another format names its own tiny data in TINY_DATA.
Every feature set selects rows of the arrays of FEATURE_DATA_SET (the lab's, by default).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sweep.data import prepare
from sweep.dataset_api import DataSource, FeatureSet, Part, StoredArrays
from sweep.registry import datasets, feature_sets
from sweep.spec import DataSpec
from sweep.track_files import index_tracks, read_track
from tests.conftest import write_tiny_layout

# data set -> a function writing its tiny data under a folder and returning its root
TINY_DATA: dict[str, Callable[[Path], Path]] = {}
# feature set -> the data set whose arrays it selects rows of
FEATURE_DATA_SET: dict[str, str] = {}

DATA_SETS = datasets.names()
FEATURE_SETS = feature_sets.names()


def _root(name: str, folder: Path) -> Path:
    return TINY_DATA.get(name, write_tiny_layout)(folder / "data")


def test_the_lab_s_components_are_among_those_tested():
    assert {"fma_genre", "multitask"} <= set(DATA_SETS)
    assert {"mel", "chroma", "fused"} <= set(FEATURE_SETS)


# Data sets ------------------------------------------------------------------------------


@pytest.mark.parametrize("beat", [True, False], ids=["beat", "full"])
@pytest.mark.parametrize("name", DATA_SETS)
def test_data_set_describes_its_parts(tmp_path, name, beat):
    source = datasets.build(name, root=_root(name, tmp_path), beat=beat)
    assert isinstance(source, DataSource) and source.name == name
    assert source.task in ("classification", "regression")
    if source.task == "classification":
        assert len(source.class_names) >= 2 and not source.target_names
        assert len(set(source.class_names)) == len(source.class_names)
    else:
        assert source.target_names and not source.class_names
        assert len(set(source.target_names)) == len(source.target_names)
    assert "train" in source.parts and set(source.parts) <= {"train", "test"}
    assert source.parts["train"].labelled
    assert source.has_test_labels == ("test" in source.parts and source.parts["test"].labelled)
    for key, part in source.parts.items():
        assert isinstance(part, Part) and part.name == key
        assert isinstance(part.arrays, StoredArrays) and part.arrays.rows >= 1
        assert part.folder.is_dir()
        if part.labelled:
            _check_labels(source, part)
        else:
            assert part.targets is None and index_tracks(part.folder)


def _check_labels(source: DataSource, part: Part) -> None:
    """A labelled part: unique string ids, a line and a target per id, from a label file."""
    n = len(part.ids)
    assert n >= 1 and all(isinstance(t, str) and t for t in part.ids)
    assert len(set(part.ids)) == n, "an id is labelled twice"
    assert part.label_file is not None and part.label_file.is_file()
    assert len(part.lines) == n and all(isinstance(line, int) and line >= 1 for line in part.lines)
    targets = part.targets
    assert isinstance(targets, np.ndarray)
    if source.task == "classification":
        assert targets.shape == (n,) and np.issubdtype(targets.dtype, np.integer)
        assert targets.min() >= 0 and targets.max() < len(source.class_names)
    else:
        assert targets.shape == (n, len(source.target_names))
        assert np.issubdtype(targets.dtype, np.floating) and np.isfinite(targets).all()


@pytest.mark.parametrize("beat", [True, False], ids=["beat", "full"])
@pytest.mark.parametrize("name", DATA_SETS)
def test_data_set_tracks_are_stored_as_it_says(tmp_path, name, beat):
    """Every labelled id has its `.npy` in the part's folder, of the rows `arrays` says."""
    source = datasets.build(name, root=_root(name, tmp_path), beat=beat)
    for part in source.parts.values():
        files = index_tracks(part.folder)
        ids = part.ids if part.labelled else tuple(files)
        assert set(ids) <= set(files), f"{part.name}: labelled ids without a .npy file"
        for tid in ids:
            track = read_track(files[tid], part.arrays)  # (T, rows), checked
            assert track.ndim == 2 and track.shape[1] == part.arrays.rows


@pytest.mark.parametrize("name", DATA_SETS)
def test_data_set_is_prepared_by_the_engine(tmp_path, name):
    """Its default feature set, split and standardised: the labelled tracks, each once."""
    root = _root(name, tmp_path)
    source = datasets.build(name, root=root, beat=True)
    data = prepare(DataSpec(dataset=name, root=root))
    default = feature_sets.build(datasets.metadata(name)["default_features"])
    assert data.n_features == default.n_features
    ids = {split: list(data.split_ids[split]) for split in ("train", "validation", "test")}
    labelled = set(source.parts["train"].ids)
    assert set(ids["train"]) | set(ids["validation"]) <= labelled
    assert not set(ids["train"]) & set(ids["validation"])
    assert not set(ids["test"]) & (set(ids["train"]) | set(ids["validation"]))
    for split in (data.train, data.validation, data.test()):
        assert split.tracks.n_features == default.n_features
        assert len(split.targets) == len(split)


# Feature sets ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", FEATURE_SETS)
def test_feature_set_selects_rows_the_stored_arrays_have(tmp_path, name):
    features = feature_sets.build(name)
    assert isinstance(features, FeatureSet) and features.name == name
    rows = np.asarray(features.rows)
    assert rows.ndim == 1 and np.issubdtype(rows.dtype, np.integer)
    assert features.n_features == len(rows) >= 1
    assert len(np.unique(rows)) == len(rows), "a row is selected twice"
    dataset = FEATURE_DATA_SET.get(name, "fma_genre")
    source = datasets.build(dataset, root=_root(dataset, tmp_path), beat=True)
    for part in source.parts.values():
        assert rows.min() >= 0 and rows.max() < part.arrays.rows


@pytest.mark.parametrize("name", FEATURE_SETS)
def test_feature_set_floor_is_one_finite_value_per_row(name):
    features = feature_sets.build(name)
    floor = np.asarray(features.floor)
    assert floor.shape == (features.n_features,)
    assert np.issubdtype(floor.dtype, np.floating) and np.isfinite(floor).all()


@pytest.mark.parametrize("name", FEATURE_SETS)
def test_feature_set_gives_the_engine_exactly_its_rows(tmp_path, name):
    """Unstandardised, a prepared track is the stored array's selected rows, time first, and
    padding is the feature set's floor."""
    features = feature_sets.build(name)
    dataset = FEATURE_DATA_SET.get(name, "fma_genre")
    root = _root(dataset, tmp_path)
    data = prepare(DataSpec(dataset=dataset, root=root, features=name, normalization="none"))
    assert data.n_features == features.n_features
    np.testing.assert_array_equal(data.pad_value, features.floor)
    source = datasets.build(dataset, root=root, beat=True)
    part = source.parts["train"]
    files = index_tracks(part.folder)
    first = data.train.ids[0]
    stored = read_track(files[first], part.arrays)  # (T, rows)
    np.testing.assert_array_equal(data.train.tracks.track(0), stored[:, features.rows])
