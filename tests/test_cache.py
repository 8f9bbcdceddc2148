import os

import numpy as np

from sweep import cache
from sweep.dataset_api import StoredArrays
from sweep.lab import layout
from sweep.track_files import index_tracks, read_track
from tests.conftest import make_track


def _folder(tmp_path, n=5):
    folder = tmp_path / "train"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        layout.write_track(layout.npy_path(folder, str(1000 + i)), make_track(rng, 3 + i))
    return folder


def _snapshot(folder):
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.iterdir())}


def test_second_load_comes_from_the_cache_with_the_same_arrays(tmp_path):
    folder = _folder(tmp_path)
    before = _snapshot(folder)
    cold = cache.load_folder(folder, layout.ARRAYS)
    warm = cache.load_folder(folder, layout.ARRAYS)
    assert not cold.from_cache and warm.from_cache and cold.entry == warm.entry
    assert list(warm.tracks.ids) == ["1000", "1001", "1002", "1003", "1004"]
    assert list(warm.tracks.lengths) == [3, 4, 5, 6, 7]
    assert np.array_equal(cold.tracks.frames, warm.tracks.frames)
    assert isinstance(warm.tracks.frames, np.memmap)  # no parse, no copy
    expected = read_track(layout.npy_path(folder, "1003"), layout.ARRAYS)
    assert np.array_equal(warm.tracks.track(3), expected)
    assert _snapshot(folder) == before  # the data folder is only read


def test_a_changed_folder_invalidates_the_entry(tmp_path):
    folder = _folder(tmp_path)
    first = cache.load_folder(folder, layout.ARRAYS)
    path = layout.npy_path(folder, "1002")
    layout.write_track(path, np.zeros((140, 9), np.float32))
    os.utime(path, ns=(1, 1))  # a different mtime, whatever the clock's resolution
    changed = cache.load_folder(folder, layout.ARRAYS)
    assert not changed.from_cache and changed.entry != first.entry
    assert changed.tracks.lengths[2] == 9
    layout.npy_path(folder, "1004").unlink()
    removed = cache.load_folder(folder, layout.ARRAYS)
    assert not removed.from_cache and len(removed.tracks) == 4


def test_bad_files_are_recorded_not_fatal_and_survive_a_warm_load(tmp_path):
    folder = _folder(tmp_path)
    layout.npy_path(folder, "1001").write_bytes(b"garbage")
    np.save(layout.npy_path(folder, "1003"), np.full((140, 4), np.nan))
    for loaded in (
        cache.load_folder(folder, layout.ARRAYS),
        cache.load_folder(folder, layout.ARRAYS),
    ):
        assert sorted(loaded.bad) == ["1001", "1003"]
        assert "not a .npy file (no NumPy header: it starts with b'garbag')" in loaded.bad["1001"]
        assert "NaN/inf" in loaded.bad["1003"]
        assert list(loaded.tracks.ids) == ["1000", "1002", "1004"]
        assert list(loaded.tracks.lengths) == [3, 5, 7]
        assert np.array_equal(
            loaded.tracks.track(1), read_track(layout.npy_path(folder, "1002"), layout.ARRAYS)
        )


def test_without_cache_nothing_is_written(tmp_path, isolated_cache):
    folder = _folder(tmp_path)
    loaded = cache.load_folder(folder, layout.ARRAYS, use_cache=False)
    assert loaded.entry is None and len(loaded.tracks) == 5
    assert not any(isolated_cache.iterdir())


def test_a_damaged_entry_is_rebuilt(tmp_path):
    folder = _folder(tmp_path)
    entry = cache.load_folder(folder, layout.ARRAYS).entry
    (entry / "offsets.npy").write_bytes(b"broken")
    again = cache.load_folder(folder, layout.ARRAYS)
    assert not again.from_cache and list(again.tracks.lengths) == [3, 4, 5, 6, 7]


def test_cache_listing_and_clear(tmp_path):
    cache.load_folder(_folder(tmp_path), layout.ARRAYS)
    entries = cache.cache_entries()
    assert len(entries) == 1 and entries[0][1]["tracks"] == 5
    assert cache.clear_cache() > 0
    assert cache.cache_entries() == []


def test_the_lab_cache_key_is_the_one_before_the_row_count_came_from_the_data_set(tmp_path):
    # Caches built before the data set said its row count stay valid: the same key.
    for i, name in enumerate(["1.fused.full.npy", "2.fused.full.npy"]):
        (tmp_path / name).write_bytes(b"x" * (10 + i))
        os.utime(tmp_path / name, ns=(1, 10**9 + i))
    files = index_tracks(tmp_path)
    assert cache.folder_key(tmp_path, files, layout.ARRAYS.rows) == (
        "591d7ac2571b6a0faa38a635d7e8c259"
    )
    assert cache.folder_key(tmp_path, files, 20) != cache.folder_key(tmp_path, files, 140)


def test_a_folder_of_other_arrays_is_cached_with_its_own_row_count(tmp_path):
    folder = tmp_path / "twenty"
    folder.mkdir()
    for i in range(3):
        np.save(folder / f"{i}.npy", np.full((20, 2 + i), float(i), np.float32))
    twenty = StoredArrays(20)
    cold, warm = (cache.load_folder(folder, twenty) for _ in range(2))
    assert not cold.from_cache and warm.from_cache
    assert warm.tracks.frames.shape == (2 + 3 + 4, 20) and list(warm.tracks.lengths) == [2, 3, 4]
    as_lab = cache.load_folder(folder, layout.ARRAYS)  # another entry: every file is bad
    assert as_lab.entry != warm.entry and len(as_lab.tracks) == 0
    assert as_lab.bad["0"].endswith(
        "expected shape (140, T) with 128 mel + 12 chroma rows, got (20, 2)"
    )
