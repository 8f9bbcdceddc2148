"""From a data spec to ready splits: matching, splitting, standardising, errors."""

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest

from sweep.data import prepare
from sweep.dataset_api import DataSource, FeatureSet, Part, StoredArrays
from sweep.errors import DataError, SpecError
from sweep.lab import layout
from sweep.registry import datasets, feature_sets
from sweep.spec import DataSpec


def _spec(root, **kw):
    return DataSpec(**{"dataset": "fma_genre", "root": root, **kw})


def test_genre_splits_are_disjoint_stratified_and_recorded(tiny_root):
    data = prepare(_spec(tiny_root, val_fraction=0.25))
    ids = data.split_ids
    assert len(ids["train"]) == 15 and len(ids["validation"]) == 5 and len(ids["test"]) == 6
    assert not set(ids["train"]) & set(ids["validation"])
    assert data.report.stratified
    assert np.bincount(data.validation.targets).tolist() == [1, 2, 2]
    record = data.split_record()
    assert record["test"] == ids["test"] and record["validation"] == data.validation.ids
    assert json.loads(json.dumps(record)) == record  # writable as split.json


def test_splits_are_seeded(tiny_root):
    a = prepare(_spec(tiny_root, split_seed=1)).split_ids
    b = prepare(_spec(tiny_root, split_seed=1)).split_ids
    c = prepare(_spec(tiny_root, split_seed=2)).split_ids
    assert a == b and a["validation"] != c["validation"]


def test_the_official_test_set_is_loaded_only_when_asked_for(tiny_root):
    data = prepare(_spec(tiny_root))
    assert data._test is None and data.report.cache_misses == 1  # train folder only
    test = data.test()
    assert len(test) == 6 and data.report.cache_misses == 2
    assert test.ids == data.split_ids["test"]
    assert np.bincount(test.targets).tolist() == [2, 2, 2]


def test_empty_test_labels_are_an_error_before_any_training(tiny_root):
    """Found with own audio: the run trained for 35 s, then found no test track."""
    labels = tiny_root / "fma_genre_spectrograms" / "test_labels.txt"
    labels.write_text(labels.read_text().splitlines()[0] + "\n")  # the header alone
    with pytest.raises(DataError) as caught:
        prepare(_spec(tiny_root, beat=False))
    assert str(caught.value) == (
        f"{labels}: no track in the test labels, so nothing to test the study on"
    )


def test_multitask_carves_validation_and_test_from_train(tiny_root):
    data = prepare(_spec(tiny_root, dataset="multitask", val_fraction=0.25, test_fraction=0.25))
    ids = data.split_ids
    assert (len(ids["train"]), len(ids["validation"]), len(ids["test"])) == (12, 6, 6)
    assert len(set(ids["train"]) | set(ids["validation"]) | set(ids["test"])) == 24
    assert data.test().targets.shape == (6, 3)
    assert data.split_record()["test"] == ids["test"]


def test_features_are_the_rows_the_feature_set_names(tiny_root):
    raw = prepare(_spec(tiny_root, normalization="none"))
    for name, n in [("mel", 128), ("chroma", 12), ("fused", 140)]:
        data = prepare(_spec(tiny_root, features=name, normalization="none"))
        assert data.n_features == n and data.train.tracks.n_features == n
    mel = prepare(_spec(tiny_root, features="mel", normalization="none"))
    chroma = prepare(_spec(tiny_root, features="chroma", normalization="none"))
    assert np.array_equal(raw.train.tracks.frames[:, :128], mel.train.tracks.frames)
    assert np.array_equal(raw.train.tracks.frames[:, 128:], chroma.train.tracks.frames)


def test_true_lengths_are_kept_and_match_the_files(tiny_root):
    data = prepare(_spec(tiny_root, normalization="none"))
    folder = layout.dataset_dir(tiny_root, "genre", True) / "train"
    for i, tid in enumerate(data.train.ids):
        on_disk = np.load(layout.npy_path(folder, tid))
        assert data.train.tracks.lengths[i] == on_disk.shape[1]
        assert np.array_equal(data.train.tracks.track(i), on_disk.T)


def test_standardisation_uses_training_statistics_only(tiny_root):
    data = prepare(_spec(tiny_root))
    frames = data.train.tracks.frames
    assert np.allclose(frames.mean(0), 0, atol=1e-4) and np.allclose(frames.std(0), 1, atol=1e-3)
    raw = prepare(_spec(tiny_root, normalization="none"))
    raw_train = raw.train.tracks.frames
    assert np.allclose(data.mean, raw_train.mean(0), atol=1e-3)
    val = data.validation.tracks.frames
    assert np.allclose(val, (raw.validation.tracks.frames - data.mean) / data.std, atol=1e-5)
    assert not np.allclose(val.mean(0), 0, atol=1e-4)  # validation is not re-centred
    assert np.array_equal(data.pad_value, np.zeros(140))


def test_without_standardisation_padding_is_the_floor_not_zero(tiny_root):
    data = prepare(_spec(tiny_root, normalization="none"))
    assert np.all(data.pad_value[:128] == -80.0) and np.all(data.pad_value[128:] == 0.0)
    x, lengths, y = next(data.batches(data.train, batch_size=len(data.train)))
    short = int(np.argmin(lengths))
    assert np.all(x[short, lengths[short] :, :128] == -80.0)
    assert y.tolist() == data.train.targets.tolist()


def test_max_length_cuts_tracks_and_pads_batches(tiny_root):
    data = prepare(_spec(tiny_root, max_length=12))
    assert data.train.tracks.lengths.max() <= 12
    for x, lengths, _ in data.batches(data.validation, batch_size=4):
        assert x.shape[1] == 12 and lengths.max() <= 12
    assert data.test().tracks.lengths.max() <= 12


def test_training_batches_are_shuffled_random_crops(tiny_root):
    data = prepare(_spec(tiny_root, crop_frames=6))
    rng = np.random.default_rng(0)
    batches = list(data.batches(data.train, batch_size=4, rng=rng))
    assert sum(len(y) for _, _, y in batches) == len(data.train)
    assert all(x.shape[1] == 6 for x, _, _ in batches)
    # evaluation batches are whole tracks, in order
    x, lengths, _ = next(data.batches(data.validation, batch_size=100))
    assert list(lengths) == list(data.validation.tracks.lengths)


def test_a_recorded_split_is_reproduced(tiny_root, tmp_path):
    first = prepare(_spec(tiny_root, split_seed=3))
    path = tmp_path / "split.json"
    path.write_text(json.dumps(first.split_record()))
    again = prepare(_spec(tiny_root, split_seed=99, split_file=path))
    assert again.split_ids == first.split_ids
    record = json.loads(path.read_text())
    record["validation"].append("999999")
    path.write_text(json.dumps(record))
    with pytest.raises(DataError, match="validation id 999999 is not a labelled training track"):
        prepare(_spec(tiny_root, split_file=path))


def _genre_train(root):
    return layout.dataset_dir(root, "genre", True) / "train"


def test_a_label_without_its_npy_is_an_error_naming_the_line(tiny_root):
    labels = layout.read_label_file(
        layout.dataset_dir(tiny_root, "genre", True) / "train_labels.txt", "\t"
    )
    victim = labels.rows[2]
    layout.npy_path(_genre_train(tiny_root), victim.track_id).unlink()
    with pytest.raises(
        DataError,
        match=rf"train_labels.txt:{victim.line}: no .npy file for id "
        rf"{victim.track_id} in .*train \(data.skip_bad",
    ):
        prepare(_spec(tiny_root))
    data = prepare(_spec(tiny_root, skip_bad=True))
    assert list(data.report.skipped) == [victim.track_id]
    assert victim.track_id not in data.split_ids["train"] + data.split_ids["validation"]


def test_bad_arrays_are_errors_naming_the_file_or_skipped_and_counted(tiny_root):
    labels = layout.read_label_file(
        layout.dataset_dir(tiny_root, "genre", True) / "train_labels.txt", "\t"
    )
    a, b = labels.rows[0].track_id, labels.rows[1].track_id
    layout.npy_path(_genre_train(tiny_root), a).write_bytes(b"\x93NUMPY truncated")
    np.save(layout.npy_path(_genre_train(tiny_root), b), np.zeros((139, 10)))
    with pytest.raises(
        DataError,
        match=rf"{a}.fused.full.npy: not a readable .npy file.*"
        r"\(and 1 more; data.skip_bad skips them\)",
    ):
        prepare(_spec(tiny_root))
    data = prepare(_spec(tiny_root, skip_bad=True))
    assert sorted(data.report.skipped) == sorted([a, b])
    assert "got (139, 10)" in data.report.skipped[b]
    assert len(data.train) + len(data.validation) == 18


def test_an_empty_split_is_an_error(tmp_path):
    from tests.conftest import write_tiny_layout

    root = write_tiny_layout(tmp_path / "d", n_train=1, n_test=1)
    with pytest.raises(DataError, match="cannot carve a 0.2 share from 1 tracks"):
        prepare(_spec(root))


def test_unknown_options_name_the_data_set_signature(tiny_root):
    with pytest.raises(SpecError, match=r"data.options: .*'merge'.*fma_genre.*merge_classes"):
        prepare(_spec(tiny_root, options={"merge": False}))


def test_prepare_never_writes_into_the_data_folder(tiny_root):
    before = {p: p.stat().st_mtime_ns for p in tiny_root.rglob("*")}
    prepare(_spec(tiny_root)).test()
    prepare(_spec(tiny_root, dataset="multitask")).test()
    assert {p: p.stat().st_mtime_ns for p in tiny_root.rglob("*")} == before


def test_loading_data_does_not_import_torch(tiny_root):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from sweep.data import prepare\n"
        "from sweep.spec import DataSpec\n"
        f"prepare(DataSpec(dataset='fma_genre', root={str(tiny_root)!r})).test()\n"
        "assert 'torch' not in sys.modules, 'reading data imported torch'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_the_split_record_says_where_the_test_split_came_from(tiny_root):
    genre = prepare(_spec(tiny_root)).split_record()
    assert genre["test_source"] == "official" and isinstance(genre["test"], list)
    multi = prepare(_spec(tiny_root, dataset="multitask")).split_record()
    assert multi["test_source"] == "carved from train" and len(multi["test"]) > 0


# ----------------------------------------------------------------------------- other arrays

TWENTY = StoredArrays(20)


def _twenty_rows(root: Path, beat: bool) -> DataSource:
    """A data set of its own style: `<id>.npy` arrays of 20 rows, `id,label` lines."""
    rows = [line.split(",") for line in (root / "labels.csv").read_text().splitlines()]
    part = Part(
        name="train",
        folder=root / "arrays",
        arrays=TWENTY,
        label_file=root / "labels.csv",
        ids=tuple(tid for tid, _ in rows),
        lines=tuple(range(1, len(rows) + 1)),
        targets=np.array([int(label) for _, label in rows], dtype=np.int64),
    )
    return DataSource("twenty_rows", "classification", {"train": part}, class_names=("a", "b"))


@contextlib.contextmanager
def _twenty_rows_registered():
    """The data set of 20-row arrays and a feature set of its rows 10-19, registered while
    the block runs and unregistered after it, whatever happens in it."""
    datasets.register("twenty_rows")(_twenty_rows)
    feature_sets.register("upper_ten")(
        lambda: FeatureSet("upper_ten", np.arange(10, 20), np.zeros(10, np.float32))
    )
    try:
        yield
    finally:
        del datasets._factories["twenty_rows"]  # the registry has no public unregister
        del feature_sets._factories["upper_ten"]


@pytest.fixture
def twenty_rows(tmp_path):
    """The root of 20 tracks of 20-row arrays and their labels, its data set registered."""
    root = tmp_path / "twenty"
    (root / "arrays").mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(20):
        np.save(root / "arrays" / f"t{i:02}.npy", rng.normal(size=(20, 3 + i)).astype(np.float32))
        lines.append(f"t{i:02},{i % 2}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    with _twenty_rows_registered():
        yield root


def test_a_data_set_with_other_arrays_loads_caches_splits_and_batches(twenty_rows):
    spec = DataSpec(dataset="twenty_rows", root=twenty_rows, features="upper_ten")
    cold, warm = prepare(spec), prepare(spec)
    assert cold.report.cache_misses == 1 and warm.report.cache_hits == 1
    sizes = [len(s) for s in (warm.train, warm.validation, warm.test())]
    assert sum(sizes) == 20 and all(sizes) and warm.report.stratified
    assert warm.train.tracks.n_features == warm.n_features == 10
    # The rows the feature set names, standardised with the training split's statistics.
    first = warm.split_ids["train"][0]
    raw = np.load(twenty_rows / "arrays" / f"{first}.npy").T[:, 10:]
    assert np.allclose(warm.train.tracks.track(0), (raw - warm.mean) / warm.std, atol=1e-5)
    x, lengths, y = next(warm.batches(warm.train, batch_size=4, rng=np.random.default_rng(0)))
    assert x.shape == (4, int(lengths.max()), 10) and x.dtype == np.float32 and y.shape == (4,)


def test_a_feature_set_cannot_select_rows_the_arrays_lack(twenty_rows):
    with pytest.raises(SpecError) as err:
        prepare(DataSpec(dataset="twenty_rows", root=twenty_rows, features="mel"))
    assert str(err.value) == (
        "data.features: feature set 'mel' uses row 127, but the train arrays of twenty_rows "
        "have 20 rows"
    )


def test_the_other_data_set_is_registered_only_while_it_is_used():
    assert "twenty_rows" not in datasets.names() and "upper_ten" not in feature_sets.names()
    with pytest.raises(RuntimeError), _twenty_rows_registered():
        assert "twenty_rows" in datasets.names() and "upper_ten" in feature_sets.names()
        raise RuntimeError("a failing test")
    assert "twenty_rows" not in datasets.names() and "upper_ten" not in feature_sets.names()
