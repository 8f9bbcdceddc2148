"""`sweep predict`: a trained study's model on new tracks, prepared exactly as in training."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import optuna
import pytest
import torch
from conftest import HANG_GUARD_S, write_tiny_layout
from typer.testing import CliRunner

from sweep.checkpoints import load_checkpoint
from sweep.cli import app
from sweep.data import prepare
from sweep.errors import DataError, SweepError
from sweep.lab import layout
from sweep.lab.inputs import read_inputs
from sweep.predict import (
    model_outputs,
    predict_folder,
    resolve_model,
    write_csv,
)
from sweep.results import StudyFolder
from sweep.run import run_study
from sweep.track_files import track_id
from sweep.train import predict
from tests.conftest import tiny_spec as shared_tiny_spec

KAGGLE_HEADER = ["Id", "valence", "energy", "danceability"]


def tiny_spec(folder: Path, root: Path, name: str, **sections):
    """A spec that trains in about a second: a tiny LSTM on fused features, 2 epochs, 2 trials."""
    data = {"features": "fused", **sections.pop("data", {})}
    training = {"max_epochs": 2, **sections.pop("training", {})}
    search = {
        "n_trials": 2,
        "space": {"training.lr": {"low": 1e-3, "high": 1e-1, "log": True}},
        **sections.pop("search", {}),
    }
    return shared_tiny_spec(
        folder,
        root,
        f"{name}.yaml",
        study=name,
        data=data,
        training=training,
        search=search,
        **sections,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny data root and three small studies on it, trained once for the whole module:
    genre (standardised), genre (raw features padded with the floor, cut to max_length) and
    multitask on all three targets, listed in an order other than Kaggle's."""
    base = tmp_path_factory.mktemp("predict")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: more threads only wait on each other on a busy CPU
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SWEEP_CACHE_DIR", str(base / "cache"))
        root = write_tiny_layout(base / "data")
        results = base / "results"
        specs = {
            "genre": tiny_spec(base, root, "genre"),
            "raw": tiny_spec(
                base,
                root,
                "raw",
                data={"normalization": "none", "max_length": 12, "beat": False},
                search={"n_trials": 1},
            ),
            "multi": tiny_spec(
                base,
                root,
                "multi",
                data={"dataset": "multitask", "features": "chroma"},
                task={"kind": "multitask", "targets": ["danceability", "valence", "energy"]},
                search={"n_trials": 1},
            ),
        }
        try:
            folders = {key: run_study(spec, results).folder for key, spec in specs.items()}
        finally:
            torch.set_num_threads(threads)
    return SimpleNamespace(root=root, results=results, specs=specs, folders=folders)


def invoke(*args) -> str:
    """Run the CLI in this process; returns its output (a failure fails the test)."""
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def npy_ids(folder: Path) -> list[str]:
    return sorted(track_id(p.name) for p in folder.glob("*.npy"))


def best_checkpoint(folder: Path) -> Path:
    folder = StudyFolder(folder)
    return folder.trial(folder.best_trial_number()).checkpoint


# ----------------------------------------------------------------------------- classification


def test_genre_predictions_are_what_the_training_code_computes(trained, tmp_path):
    test_dir = layout.dataset_dir(trained.root, "genre", beat=True) / "test"
    out = tmp_path / "genre.csv"
    text = invoke("predict", trained.folders["genre"], test_dir, "--out", out)
    assert f"Wrote {out}" in text.replace("\n", "")

    header, rows = read_csv(out)
    model, ckpt = load_checkpoint(best_checkpoint(trained.folders["genre"]))
    classes = ckpt["class_names"]
    assert header == ["Id", "predicted", *classes]
    assert [r["Id"] for r in rows] == npy_ids(test_dir)
    probs = np.array([[float(r[c]) for c in classes] for r in rows])
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert [r["predicted"] for r in rows] == [classes[i] for i in probs.argmax(axis=1)]

    # The engine's own evaluation of the same tracks: the test split as the study tested it.
    data = prepare(trained.specs["genre"].data)
    test = data.test()
    expected, _ = predict(model, data, test, 4, torch.device("cpu"))
    by_id = dict(zip(test.ids, expected, strict=True))
    assert set(by_id) == {r["Id"] for r in rows}
    for row, p in zip(rows, probs, strict=True):
        np.testing.assert_allclose(p, by_id[row["Id"]], atol=1e-6)  # 6 decimals in the CSV


def test_raw_features_padded_with_the_floor_and_cut_match_too(trained):
    """normalization: none and max_length: the other preparation path, at full precision."""
    model, ckpt = load_checkpoint(best_checkpoint(trained.folders["raw"]))
    assert ckpt["mean"] is None and ckpt["spec"]["data"]["max_length"] == 12
    data = prepare(trained.specs["raw"].data)
    test = data.test()
    expected, _ = predict(model, data, test, 4, torch.device("cpu"))
    tracks, skipped = read_inputs(layout.dataset_dir(trained.root, "genre", False) / "test", False)
    assert not skipped
    got = dict(zip(tracks.ids, model_outputs(model, ckpt, tracks), strict=True))
    np.testing.assert_allclose(np.stack([got[t] for t in test.ids]), expected, atol=1e-6)


# ----------------------------------------------------------------------------- regression


def test_multitask_on_the_unlabelled_test_folder_is_a_kaggle_submission(trained, tmp_path):
    test_dir = layout.dataset_dir(trained.root, "multitask", beat=True) / "test"
    out = tmp_path / "submission.csv"
    invoke("predict", trained.folders["multi"], test_dir, "--out", out)

    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(KAGGLE_HEADER)  # not the training order of the targets
    header, rows = read_csv(out)
    assert [r["Id"] for r in rows] == npy_ids(test_dir)
    assert len(rows) == len(list(test_dir.glob("*.npy")))
    model, ckpt = load_checkpoint(best_checkpoint(trained.folders["multi"]))
    assert ckpt["target_names"] == ["danceability", "valence", "energy"]
    tracks, _ = read_inputs(test_dir, beat=True)
    outputs = model_outputs(model, ckpt, tracks)
    for name in KAGGLE_HEADER[1:]:
        column = [float(r[name]) for r in rows]
        np.testing.assert_allclose(column, outputs[:, ckpt["target_names"].index(name)], atol=1e-6)


def test_audio_files_go_through_the_lab_recipe_at_the_models_resolution(trained, tmp_path):
    import soundfile

    from sweep.lab.audio_features import SR, features_from_file

    audio = tmp_path / "audio"
    audio.mkdir()
    t = np.arange(4 * SR) / SR
    for name, pitch in (("clip one.wav", 440.0), ("clip_two.flac", 262.0)):
        pulse = (np.sin(2 * np.pi * 2 * t) > 0).astype(np.float32)  # two notes a second
        soundfile.write(audio / name, 0.3 * pulse * np.sin(2 * np.pi * pitch * t), SR)
    (audio / "notes.txt").write_text("ignored")
    model, ckpt, _ = resolve_model(trained.folders["genre"])  # a beat-synchronised model
    result = predict_folder(model, ckpt, audio, workers=1)
    assert result.ids == ["clip one", "clip_two"]  # the file name without its extension
    beat = [features_from_file(audio / n)[1] for n in ("clip one.wav", "clip_two.flac")]
    tracks, _ = read_inputs(audio, beat=True, workers=1)
    assert [len(tracks.track(i)) for i in range(2)] == [b.shape[1] for b in beat]
    np.testing.assert_array_equal(tracks.track(0), beat[0].T)
    assert np.allclose([sum(row[1:]) for row in result.values], 1, atol=1e-5)


# ----------------------------------------------------------------------------- model sources


def test_a_checkpoint_a_study_folder_and_a_study_name_give_the_same_file(
    trained, tmp_path, monkeypatch
):
    test_dir = layout.dataset_dir(trained.root, "genre", beat=True) / "test"
    folder = trained.folders["genre"]
    invoke("predict", best_checkpoint(folder), test_dir, "--out", tmp_path / "ckpt.csv")
    invoke("predict", folder, test_dir, "--out", tmp_path / "folder.csv")
    invoke("predict", "genre", test_dir, "--results", trained.results, "--out", tmp_path / "n.csv")
    monkeypatch.chdir(trained.results.parent)  # the default --results is ./results
    text = invoke("predict", "genre", test_dir)
    assert "trial" in text and "study" in text
    made = [tmp_path / n for n in ("ckpt.csv", "folder.csv", "n.csv")]
    made.append(trained.results.parent / "predictions.csv")
    assert len({p.read_text() for p in made}) == 1


def test_without_test_json_the_journal_gives_the_best_complete_trial(trained, tmp_path):
    copy = tmp_path / "renamed"  # a copied, renamed study folder still holds one study
    shutil.copytree(trained.folders["genre"], copy)
    (copy / "test.json").unlink()
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(copy / "optuna.journal"))
    )
    study = optuna.load_study(study_name="genre", storage=storage)
    assert StudyFolder(copy).best_trial_number() == study.best_trial.number
    _, _, source = resolve_model(copy)
    assert source.trial == study.best_trial.number


def test_a_study_without_a_completed_trial_is_refused(tmp_path):
    folder = tmp_path / "empty_study"
    folder.mkdir()
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / "optuna.journal"))
    )
    study = optuna.create_study(study_name="empty_study", storage=storage)
    study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)
    with pytest.raises(SweepError, match="no completed trial"):
        resolve_model(folder)


def test_unknown_and_foreign_models_are_refused(tmp_path):
    with pytest.raises(SweepError, match="no checkpoint file, study folder or study named"):
        resolve_model("nothing_here", results=tmp_path)
    with pytest.raises(SweepError, match="checkpoint not found"):
        resolve_model(tmp_path / "missing.pt")
    bogus = tmp_path / "bogus.pt"
    torch.save({"weights": 1}, bogus)
    with pytest.raises(SweepError, match="not a sweep checkpoint"):
        resolve_model(bogus)
    with pytest.raises(SweepError, match="not a study folder"):
        resolve_model(tmp_path)


# ----------------------------------------------------------------------------- bad input


def test_bad_input_folders_and_files(trained, tmp_path):
    model, ckpt, _ = resolve_model(trained.folders["genre"])
    with pytest.raises(DataError, match="input folder not found"):
        predict_folder(model, ckpt, tmp_path / "missing")
    with pytest.raises(DataError, match=r"no \.npy or wav/mp3/ogg/flac files"):
        predict_folder(model, ckpt, tmp_path)

    inputs = tmp_path / "inputs"
    shutil.copytree(layout.dataset_dir(trained.root, "genre", beat=True) / "test", inputs)
    corrupt = inputs / "999999.fused.full.npy"
    corrupt.write_bytes(b"\x93NUMPY not really")
    with pytest.raises(DataError, match="999999.fused.full.npy: not a readable .npy"):
        predict_folder(model, ckpt, inputs)
    result = predict_folder(model, ckpt, inputs, skip_bad=True)
    assert "999999" not in result.ids and len(result.ids) == 6
    assert list(result.skipped) == [str(corrupt)]


def test_an_existing_output_is_kept_unless_forced(trained, tmp_path):
    model, ckpt, _ = resolve_model(trained.folders["genre"])
    result = predict_folder(
        model, ckpt, layout.dataset_dir(trained.root, "genre", beat=True) / "test"
    )
    out = tmp_path / "out.csv"
    out.write_text("precious\n")
    with pytest.raises(SweepError, match="already exists"):
        write_csv(result, out)
    assert out.read_text() == "precious\n"
    write_csv(result, out, force=True)
    assert out.read_text().startswith("Id,predicted,")
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left


def test_the_command_line_reports_errors_in_one_line(trained, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "sweep", "predict", str(trained.folders["genre"]),
         str(tmp_path / "nowhere"), "--out", str(tmp_path / "p.csv")],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: {tmp_path / 'nowhere'}: input folder not found"
    assert not (tmp_path / "p.csv").exists()
