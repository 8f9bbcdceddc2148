"""The lab's on-disk format: label files, their name styles, writing arrays."""

import pytest

from sweep.errors import DataError
from sweep.lab import layout


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


def test_label_writers_round_trip(tmp_path):
    layout.write_genre_labels(tmp_path / "g.txt", [("7", "Rock")], style="beatsync")
    assert (tmp_path / "g.txt").read_text() == "Id\tGenre\n7.beatsync.fused.npy\tRock\n"
    layout.write_multitask_labels(tmp_path / "m.txt", [("7", [0.5, 0.25, 1.0])])
    rows = layout.read_label_file(tmp_path / "m.txt", ",")
    assert rows.columns == ("valence", "energy", "danceability")
    assert rows.rows[0].values == ("0.500000", "0.250000", "1.000000")
