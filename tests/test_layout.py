import numpy as np
import pytest

from sweep import layout
from sweep.errors import DataError


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
    assert layout.track_id(name) == "1042"


def test_label_file_tolerates_bom_crlf_and_blank_lines(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_bytes(
        "\ufeffId\tGenre\r\n1.fused.full.npy.gz\tRock\r\n\r\n2.beatsync.fused.npy\tPop\r\n".encode()
    )
    labels = layout.read_label_file(path, "\t")
    assert labels.columns == ("Genre",)
    assert [(r.line, r.track_id, r.values) for r in labels.rows] == [
        (2, "1", ("Rock",)),
        (4, "2", ("Pop",)),
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "label file is empty"),
        ("Id\n1\tRock\n", "header must have at least 2 tab-separated columns"),
        (
            "Id\tGenre\n1.npy\tRock\n1.beatsync.fused.npy\tPop\n",
            ":3: duplicate id 1 (first on line 2)",
        ),
        ("Id\tGenre\n1.npy\n", ":2: expected 2 columns (Id, Genre), got 1"),
        ("Id\tGenre\n.npy\tRock\n", ":2: empty track id"),
    ],
)
def test_label_file_errors_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "labels.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        layout.read_label_file(path, "\t")
    assert str(err.value).startswith(str(path))


def test_missing_label_file(tmp_path):
    with pytest.raises(DataError, match="label file not found"):
        layout.read_label_file(tmp_path / "nope.txt", ",")


def test_read_track_returns_time_first_float32(tmp_path):
    arr = np.arange(140 * 7, dtype=np.float64).reshape(140, 7)
    np.save(tmp_path / "1.npy", arr)
    track = layout.read_track(tmp_path / "1.npy")
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
        (lambda p: p.write_bytes(b"not a numpy file at all"), "not a readable .npy file"),
        (_truncated, "not a readable .npy file"),
        (lambda p: np.save(p, np.array([["a"] * 5] * 140)), "expected a numeric array"),
        (lambda p: np.save(p, np.array([None] * 3, dtype=object)), "not a readable .npy file"),
    ],
)
def test_read_track_rejects_bad_arrays_naming_the_file(tmp_path, write, message):
    path = tmp_path / "123.fused.full.npy"
    write(path)
    with pytest.raises(DataError, match=message) as err:
        layout.read_track(path)
    assert str(err.value).startswith(str(path))


def test_index_tracks_maps_ids_and_refuses_ambiguity(tmp_path):
    np.save(tmp_path / "1.fused.full.npy", np.zeros((140, 2)))
    np.save(tmp_path / "2.fused.full.npy", np.zeros((140, 2)))
    (tmp_path / "notes.txt").write_text("ignored")
    assert sorted(layout.index_tracks(tmp_path)) == ["1", "2"]
    np.save(tmp_path / "1.beatsync.npy", np.zeros((140, 2)))
    with pytest.raises(DataError, match="id 1 is also used by"):
        layout.index_tracks(tmp_path)


def test_label_writers_round_trip(tmp_path):
    layout.write_genre_labels(tmp_path / "g.txt", [("7", "Rock")], style="beatsync")
    assert (tmp_path / "g.txt").read_text() == "Id\tGenre\n7.beatsync.fused.npy\tRock\n"
    layout.write_multitask_labels(tmp_path / "m.txt", [("7", [0.5, 0.25, 1.0])])
    rows = layout.read_label_file(tmp_path / "m.txt", ",")
    assert rows.columns == ("valence", "energy", "danceability")
    assert rows.rows[0].values == ("0.500000", "0.250000", "1.000000")
