"""One `.npy` per track: ids from names, finding a folder's tracks, reading one with checks."""

import numpy as np
import pytest

from sweep.dataset_api import StoredArrays
from sweep.errors import DataError
from sweep.lab.layout import ARRAYS
from sweep.track_files import frames_in_header, index_tracks, read_track, track_id


@pytest.mark.parametrize(
    "name",
    [
        "1042.fused.full.npy",
        "1042.fused.full.npy.gz",
        "1042.beatsync.fused.npy",
        "1042.full.fused.npy.gz",
        "1042",
        " 1042.npy ",
    ],
)
def test_track_id_is_the_part_before_the_first_dot(name):
    assert track_id(name) == "1042"


def test_read_track_returns_time_first_float32(tmp_path):
    arr = np.arange(140 * 7, dtype=np.float64).reshape(140, 7)
    np.save(tmp_path / "1.npy", arr)
    track = read_track(tmp_path / "1.npy", ARRAYS)
    assert track.shape == (7, 140) and track.dtype == np.float32
    assert np.array_equal(track, arr.T)


def _truncated(path):
    np.save(path, np.zeros((140, 50), np.float32))
    path.write_bytes(path.read_bytes()[:-100])


@pytest.mark.parametrize(
    "write, message",
    [
        (lambda p: np.save(p, np.zeros((128, 50))), r"expected shape \(140, T\).*got \(128, 50\)"),
        (lambda p: np.save(p, np.zeros((140, 0))), r"got \(140, 0\)"),
        (lambda p: np.save(p, np.zeros(140)), r"got \(140,\)"),
        (lambda p: np.save(p, np.full((140, 5), np.nan)), "700 NaN/inf values"),
        (lambda p: np.save(p, np.array([[np.inf] + [0.0] * 4] * 140)), "140 NaN/inf values"),
        (lambda p: p.write_bytes(b"not a numpy file at all"), r"not a \.npy file \(no NumPy"),
        (_truncated, "not a readable .npy file"),
        (lambda p: np.save(p, np.array([["a"] * 5] * 140)), "expected a numeric array"),
        (lambda p: np.save(p, np.array([None] * 3, dtype=object)), "not a readable .npy file"),
    ],
)
def test_read_track_rejects_bad_arrays_naming_the_file(tmp_path, write, message):
    path = tmp_path / "123.fused.full.npy"
    write(path)
    with pytest.raises(DataError, match=message) as err:
        read_track(path, ARRAYS)
    assert str(err.value).startswith(str(path))


def test_index_tracks_maps_ids_and_refuses_ambiguity(tmp_path):
    np.save(tmp_path / "1.fused.full.npy", np.zeros((140, 2)))
    np.save(tmp_path / "2.fused.full.npy", np.zeros((140, 2)))
    (tmp_path / "notes.txt").write_text("ignored")
    assert sorted(index_tracks(tmp_path)) == ["1", "2"]
    np.save(tmp_path / "1.beatsync.npy", np.zeros((140, 2)))
    with pytest.raises(DataError, match="id 1 is also used by"):
        index_tracks(tmp_path)


def test_the_lab_arrays_message_is_word_for_word(tmp_path):
    path = tmp_path / "1.npy"
    np.save(path, np.zeros((128, 50)))
    expected = f"{path}: expected shape (140, T) with 128 mel + 12 chroma rows, got (128, 50)"
    for read in (read_track, frames_in_header):
        with pytest.raises(DataError) as err:
            read(path, ARRAYS)
        assert str(err.value) == expected


def test_other_arrays_are_read_with_their_own_row_count(tmp_path):
    twenty = StoredArrays(20)
    arr = np.arange(20 * 3, dtype=np.float32).reshape(20, 3)
    np.save(tmp_path / "7.mine.npy", arr)
    assert frames_in_header(tmp_path / "7.mine.npy", twenty) == 3
    assert np.array_equal(read_track(tmp_path / "7.mine.npy", twenty), arr.T)
    np.save(tmp_path / "8.npy", np.zeros((140, 5)))
    for read in (read_track, frames_in_header):
        with pytest.raises(DataError) as err:
            read(tmp_path / "8.npy", twenty)
        assert str(err.value) == f"{tmp_path / '8.npy'}: expected shape (20, T), got (140, 5)"
    with pytest.raises(DataError, match=r"expected shape \(140, T\) with 128 mel"):
        read_track(tmp_path / "7.mine.npy", ARRAYS)


def test_stored_arrays_need_a_row():
    with pytest.raises(ValueError, match="at least one row, got rows=0"):
        StoredArrays(0)


@pytest.mark.parametrize("content", [b"hello, I am a text file\n", b""])
def test_a_file_that_is_no_npy_says_so_and_never_advises_pickle(tmp_path, content):
    path = tmp_path / "1042.fused.full.npy"
    path.write_bytes(content)
    what = "it is empty" if not content else "it starts with b'hello,'"
    expected = f"{path}: not a .npy file (no NumPy header: {what})"
    for read in (read_track, frames_in_header):
        with pytest.raises(DataError) as caught:
            read(path, ARRAYS)
        assert str(caught.value) == expected


def test_npy_headers_are_parsed_one_thread_at_a_time(tmp_path, monkeypatch):
    # numpy parses headers with ast.literal_eval, which CPython 3.11 cannot run in two
    # threads at once; sweep.cache reads tracks in threads, so every np.load holds the lock
    import sweep.track_files as track_files

    path = tmp_path / "1.npy"
    np.save(path, np.zeros((12, 5), dtype=np.float32))
    held = []
    real_load = np.load

    def load(*args, **kwargs):
        held.append(track_files.NPY_LOAD_LOCK.locked())
        return real_load(*args, **kwargs)

    monkeypatch.setattr(track_files.np, "load", load)
    read_track(path, StoredArrays(rows=12))
    frames_in_header(path, StoredArrays(rows=12))
    assert held == [True, True]
