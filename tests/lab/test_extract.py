"""Features from a user's own audio files: layout written, ids, splits, errors, skip_bad."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from components.datasets.lab import fma_genre, multitask
from sweep.errors import DataError
from sweep.lab import layout
from sweep.lab.audio_features import SR
from sweep.lab.extract import extract_features
from sweep.track_files import index_tracks, read_track

SECONDS = 3.0  # chroma_cqt warns about its own FFT size on clips under ~3 s

# name on disk -> pitch (Hz)
CLIPS = {
    "rock/r1.wav": 220.0,
    "rock/r2.flac": 246.9,
    "pop/p1.wav": 440.0,
    "pop/p.2.ogg": 493.9,
    "jazz one.wav": 261.6,
    "jazz2.wav": 293.7,
}


@pytest.fixture
def audio(tmp_path) -> Path:
    """A few clips in wav, flac and ogg, some in subfolders, one with a dot in its stem."""
    folder = tmp_path / "audio"
    t = np.arange(int(SECONDS * SR)) / SR
    for name, pitch in CLIPS.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pulse = (np.sin(2 * np.pi * 2 * t) > 0).astype(float)  # on and off, twice a second
        sf.write(path, 0.3 * np.sin(2 * np.pi * pitch * t) * pulse, SR)
    return folder


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


GENRE_TSV = (
    "file\tgenre\n"
    "rock/r1.wav\tRock\n"
    "rock/r2\tRock\n"  # relative path without extension
    "p1\tPop\n"  # bare stem, found in a subfolder
    "pop/p.2.ogg\tPop\n"
    "jazz one\tJazz\n"
    "jazz2.wav\tJazz\n"
)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_genre_table_to_kaggle_layout(audio, tmp_path) -> None:
    before = snapshot(audio)
    labels = write(tmp_path / "labels.tsv", GENRE_TSV)
    summary = extract_features(
        audio, labels, tmp_path / "out", test_fraction=0.5, workers=2, show_progress=False
    )
    assert snapshot(audio) == before  # the audio folder is never written to
    ids = {"r1", "r2", "p1", "p_2", "jazz_one", "jazz2"}
    assert summary["kind"] == "genre" and summary["n_skipped"] == 0
    assert summary["tracks"] == {"train": 3, "test": 3}
    assert summary["classes"] == {"Jazz": 2, "Pop": 2, "Rock": 2}
    for beat in (False, True):
        folder = layout.dataset_dir(tmp_path / "out", "genre", beat)
        names = {"train", "test", "train_labels.txt", "test_labels.txt", "sources.tsv"}
        assert {p.name for p in folder.iterdir()} == names
        on_disk = {**index_tracks(folder / "train"), **index_tracks(folder / "test")}
        assert set(on_disk) == ids
        for path in on_disk.values():
            frames = read_track(path, layout.ARRAYS).shape[0]
            assert frames == 1 + int(SECONDS * SR) // 512 if not beat else 1 <= frames < 100
        source = fma_genre(tmp_path / "out", beat=beat)  # the lab's reader takes it as is
        assert source.class_names == ("Jazz", "Pop", "Rock")
        assert np.bincount(source.parts["test"].targets).tolist() == [1, 1, 1]
        sources = (folder / "sources.tsv").read_text().splitlines()
        assert sources[0] == "Id\tFile"
        assert f"p_2\t{(audio / 'pop' / 'p.2.ogg').resolve()}" in sources


def test_split_column_and_stratified_split_are_deterministic(audio, tmp_path) -> None:
    labels = write(tmp_path / "labels.tsv", GENRE_TSV)
    splits = []
    for run in ("a", "b"):
        extract_features(audio, labels, tmp_path / run, seed=3, test_fraction=0.5, workers=1)
        folder = layout.dataset_dir(tmp_path / run, "genre", False)
        splits.append(set(index_tracks(folder / "test")))
    assert splits[0] == splits[1]
    explicit = write(
        tmp_path / "split.csv",
        "File,Genre,Split\nr1,Rock,train\nr2,Rock,TEST\np1,Pop,train\njazz2,Jazz,train\n",
    )
    summary = extract_features(audio, explicit, tmp_path / "c", workers=1, show_progress=False)
    assert summary["tracks"] == {"train": 3, "test": 1}
    test_labels = layout.dataset_dir(tmp_path / "c", "genre", True) / "test_labels.txt"
    assert test_labels.read_text() == "Id\tGenre\nr2.fused.full.npy\tRock\n"


def test_target_table_to_multitask_layout(audio, tmp_path) -> None:
    labels = write(
        tmp_path / "labels.csv",
        "id,file,valence,energy,danceability,split\n"
        "101,rock/r1.wav,0.1,0.9,0.5,train\n"
        "102,p1,0.8,0.4,0.6,train\n"
        "103,jazz2,,,,test\n",  # test rows go unlabelled: their targets are not read
    )
    summary = extract_features(audio, labels, tmp_path / "out", workers=1, show_progress=False)
    assert summary["kind"] == "multitask" and summary["tracks"] == {"train": 2, "test": 1}
    assert summary["targets"] == ["valence", "energy", "danceability"]
    for beat in (False, True):
        folder = layout.dataset_dir(tmp_path / "out", "multitask", beat)
        assert {p.name for p in folder.iterdir()} == {
            "train",
            "test",
            "train_labels.txt",
            "sources.tsv",
        }
        assert set(index_tracks(folder / "test")) == {"103"}
        source = multitask(tmp_path / "out", beat=beat)
        assert source.parts["train"].ids == ("101", "102")
        np.testing.assert_allclose(
            source.parts["train"].targets, [[0.1, 0.9, 0.5], [0.8, 0.4, 0.6]]
        )


def test_skip_bad_counts_missing_and_undecodable_files(audio, tmp_path) -> None:
    (audio / "broken.wav").write_bytes(b"not audio" * 100)
    labels = write(tmp_path / "labels.tsv", GENRE_TSV + "broken.wav\tRock\nghost\tPop\n")
    with pytest.raises(DataError, match=r"labels\.tsv:9: no audio file 'ghost'"):
        extract_features(audio, labels, tmp_path / "out", workers=1)
    summary = extract_features(
        audio, labels, tmp_path / "out", skip_bad=True, workers=2, show_progress=False
    )
    assert summary["n_skipped"] == 2 and summary["tracks"]["train"] + summary["tracks"]["test"] == 6
    skipped = " ".join(summary["skipped"])
    assert "ghost" in skipped and f"{audio / 'broken.wav'}: cannot decode audio" in skipped


def test_undecodable_audio_stops_with_the_file_name(audio, tmp_path) -> None:
    (audio / "broken.wav").write_bytes(b"not audio" * 100)
    labels = write(tmp_path / "labels.tsv", "file\tgenre\nbroken\tRock\nr1\tRock\n")
    with pytest.raises(DataError, match=r"broken\.wav: cannot decode audio"):
        extract_features(audio, labels, tmp_path / "out", workers=1, show_progress=False)
    assert not (tmp_path / "out").exists()  # nothing written before every file is read


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "name\tgenre\nr1\tRock\n",
            r"labels\.txt:1: header must name distinct columns, one of them 'file'",
        ),
        (
            "file\tsplit\nr1\ttrain\n",
            r"labels\.txt: needs a 'genre' column or numeric target columns",
        ),
        (
            "file,valence\nr1,0.5\np1,high\n",
            r"labels\.txt:3: valence must be a finite number, got 'high'",
        ),
        ("file,valence\nr1,0.5\np1,nan\n", r"labels\.txt:3: valence must be a finite number"),
        (
            "file\tgenre\nr1\tRock\nrock/r1\tPop\n",
            r"labels\.txt:3: duplicate id r1 \(first on line 2\)",
        ),
        ("file\tgenre\tid\nr1\tRock\ta.b\n", r"labels\.txt:2: id 'a\.b' may hold only"),
        (
            "file\tgenre\tsplit\nr1\tRock\tvalid\n",
            r"labels\.txt:2: split must be train or test, got 'valid'",
        ),
        ("file\tgenre\nr1\tRock\np1\n", r"labels\.txt:3: expected 2 columns"),
        ("file\tgenre\nr1\t\n", r"labels\.txt:2: empty genre"),
        (
            "file\tgenre\tsplit\nr1\tRock\ttrain\np1\tPop\ttest\n",
            r"labels\.txt:3: genre 'Pop' has test tracks but no train track",
        ),
        ("", r"labels\.txt: label file is empty"),
    ],
    ids=[
        "no file column",
        "no targets",
        "non-numeric target",
        "nan target",
        "duplicate id",
        "bad id",
        "bad split",
        "short row",
        "empty genre",
        "genre only in test",
        "empty file",
    ],
)
def test_table_errors_name_file_and_line(audio, tmp_path, table: str, message: str) -> None:
    labels = write(tmp_path / "labels.txt", table)
    with pytest.raises(DataError, match=message) as info:
        extract_features(audio, labels, tmp_path / "out", workers=1, show_progress=False)
    assert str(info.value).startswith(str(labels)) and "\n" not in str(info.value)


def test_ambiguous_name(audio, tmp_path) -> None:
    sf.write(audio / "pop" / "r1.wav", np.ones(SR) * 0.1, SR)
    labels = write(tmp_path / "labels.tsv", "file\tgenre\nr1\tRock\n")
    with pytest.raises(
        DataError, match=r"'r1' matches several audio files \(pop/r1\.wav, rock/r1\.wav\)"
    ):
        extract_features(audio, labels, tmp_path / "out", workers=1)


def test_refuses_bad_folders(audio, tmp_path) -> None:
    labels = write(tmp_path / "labels.tsv", GENRE_TSV)
    with pytest.raises(DataError, match="audio folder not found"):
        extract_features(tmp_path / "nowhere", labels, tmp_path / "out")
    with pytest.raises(DataError, match="label file not found"):
        extract_features(audio, tmp_path / "nothing.tsv", tmp_path / "out")
    with pytest.raises(DataError, match="inside the audio folder"):
        extract_features(audio, labels, audio / "features")
    taken = layout.dataset_dir(tmp_path / "out", "genre", beat=True)
    taken.mkdir(parents=True)
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match=r"fma_genre_spectrograms_beat: folder is not empty"):
        extract_features(audio, labels, tmp_path / "out")
    assert (taken / "keep.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="test_fraction"):
        extract_features(audio, labels, tmp_path / "new", test_fraction=1.0)


LOWER_TSV = "file\tgenre\n" + "".join(
    f"{name}\t{genre}\n"
    for name, genre in [
        ("rock/r1.wav", "rock"),
        ("rock/r2", "rock"),
        ("p1", "pop"),
        ("pop/p.2.ogg", "pop"),
        ("jazz one", "jazz"),
        ("jazz2.wav", "jazz"),
    ]
)


def test_own_genres_with_few_clips_get_a_test_split_and_are_read_unmerged(audio, tmp_path):
    """Two clips per lower-case genre: 20% of each genre rounds to no test track, which
    left the test split empty; the lab's 20 -> 10 merge then refused 'rock'."""
    labels = write(tmp_path / "labels.tsv", LOWER_TSV)
    summary = extract_features(audio, labels, tmp_path / "out", workers=1, show_progress=False)
    assert summary["tracks"] == {"train": 5, "test": 1}  # 20% of 6 tracks, rounded
    source = fma_genre(tmp_path / "out", beat=True)  # merge_classes: auto
    assert source.class_names == ("jazz", "pop", "rock") and not source.notes["merged"]
    assert len(source.parts["test"].ids) == 1
    with pytest.raises(DataError, match="'rock' is neither merged nor dropped"):
        fma_genre(tmp_path / "out", beat=True, merge_classes=True)  # asked for: refused


def test_one_clip_per_genre_is_refused_before_any_audio_is_decoded(audio, tmp_path):
    labels = write(tmp_path / "labels.tsv", "file\tgenre\nr1\tblues\np1\tcountry\njazz2\tdisco\n")
    with pytest.raises(DataError) as caught:
        extract_features(audio, labels, tmp_path / "out", workers=1, show_progress=False)
    assert str(caught.value) == (
        f"{labels}: every genre has a single clip, so no test track can be held out without "
        f"leaving its genre untrained (add clips, or a 'split' column)"
    )
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.npy"))
