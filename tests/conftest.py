"""Shared fixtures: an isolated cache, tiny Kaggle-layout data sets, the emotify data."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from sweep.lab import layout
from sweep.specfile import load_spec

EMOTIFY = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "emotify"

# How long a test waits for a run before calling it hung: a guard against a hang, never a
# measure of a slow machine (a test waits on the events a run produces, however slow).
HANG_GUARD_S = 600


def wait_for(
    condition: Callable[[], bool],
    proc: subprocess.Popen | None = None,
    what: str = "the event waited for",
    every: float = 0.02,
) -> None:
    """Until `condition()` holds: an event a run produces (a marker file written, a trial's
    epochs in the study), checked every `every` seconds. Fails at once if `proc` ends first,
    and after HANG_GUARD_S seconds, saying what never came."""
    guard = time.monotonic() + HANG_GUARD_S
    while not condition():
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"the run ended ({proc.returncode}) before {what}: {err}")
        if time.monotonic() > guard:
            raise AssertionError(f"{what}: not after {HANG_GUARD_S} s, the run seems to hang")
        time.sleep(every)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own cache folder: no test sees another's entries."""
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("SWEEP_CACHE_DIR", str(path))
    return path


@pytest.fixture
def emotify() -> Path:
    if not EMOTIFY.is_dir():
        pytest.skip(f"real data not available: {EMOTIFY} is absent (../shared is not mounted)")
    return EMOTIFY


def make_track(rng: np.random.Generator, frames: int, level: float = 0.0) -> np.ndarray:
    """A (140, T) array shaped like the lab's: mel dB in [-80, 0], chroma in [0, 1]."""
    mel = np.clip(rng.normal(-40 + level, 10, size=(layout.N_MEL, frames)), -80, 0)
    chroma = rng.uniform(0, 1, size=(layout.N_CHROMA, frames))
    return np.vstack([mel, chroma]).astype(np.float32)


GENRES = ["Rock", "Psych-Rock", "Classical", "Electronic", "Chiptune", "Soundtrack"]


def write_tiny_layout(root: Path, n_train: int = 24, n_test: int = 6, seed: int = 0) -> Path:
    """A tiny data set in the Kaggle layout, every label-name gotcha included.

    Genre: train labels cycle through GENRES (Soundtrack is dropped by the merge, Psych-Rock
    and Chiptune merge into Rock and Electronic); test labels are Rock/Classical/Electronic.
    Multitask: the same ids with three targets; its test folder has no labels.
    """
    rng = np.random.default_rng(seed)
    ids = [str(100000 + 37 * i) for i in range(n_train + n_test)]
    train, test = ids[:n_train], ids[n_train:]
    for beat in (True, False):
        lengths = (lambda: int(rng.integers(5, 40))) if beat else (lambda: 64)
        genre = layout.dataset_dir(root, "genre", beat)
        multi = layout.dataset_dir(root, "multitask", beat)
        for folder in (genre, multi):
            (folder / "train").mkdir(parents=True)
            (folder / "test").mkdir()
        for tid in ids:
            arr = make_track(rng, lengths())
            part = "train" if tid in train else "test"
            layout.write_track(layout.npy_path(genre / part, tid), arr)
            layout.write_track(layout.npy_path(multi / part, tid), arr)
        layout.write_genre_labels(
            genre / "train_labels.txt",
            [(t, GENRES[i % len(GENRES)]) for i, t in enumerate(train)],
            style="beatsync" if beat else "npy.gz",
        )
        layout.write_genre_labels(
            genre / "test_labels.txt",
            [(t, ["Rock", "Classical", "Electronic"][i % 3]) for i, t in enumerate(test)],
            style="full.fused",
        )
        values = rng.uniform(0, 1, size=(len(train), 3))
        layout.write_multitask_labels(multi / "train_labels.txt", zip(train, values, strict=True))
    return root


@pytest.fixture
def tiny_root(tmp_path) -> Path:
    return write_tiny_layout(tmp_path / "data")


def ensemble_spec(folder: Path, root: Path, training: dict | None = None, **selection):
    """A tiny spec whose test scores an ensemble of trials (`final: ensemble_selection`)
    chosen from 3 trials that differ in their learning rate; `selection` adds to
    `search.selection` (folds, ensemble_refit), `training` to the training section."""
    return tiny_spec(
        folder,
        root,
        training=training or {},
        search={
            "n_trials": 3,
            "pruner": {"name": "none"},
            "selection": {"folds": 1, "final": "ensemble_selection", **selection},
            "space": {"training.lr": {"low": 1e-3, "high": 1e-1, "log": True}},
        },
    )


def tiny_spec(folder: Path, root: Path, name: str = "tiny.yaml", **sections):
    """A spec that trains in about a second (tiny LSTM, chroma, 3 epochs, 3 trials, one
    validation split, its own model tested, one torch thread: a tiny model's threads only
    wait on each other, and on a busy machine many times over), written to `folder/name`
    and loaded. A dict section updates the default section key by key; anything else
    (study, reference) replaces it."""
    raw = {
        "study": "tiny",
        "data": {"dataset": "fma_genre", "root": str(root), "features": "chroma"},
        "task": {"kind": "classification"},
        "model": {
            "backbone": "lstm",
            "backbone_params": {"hidden_size": 8, "num_layers": 1, "pooling": "mean"},
        },
        "training": {"max_epochs": 3, "batch_size": 4, "lr": 1e-2, "patience": 2, "threads": 1},
        "search": {
            "n_trials": 3,
            "pruner": {"name": "none"},
            "selection": {"folds": 1, "final": "model"},  # tests of selection set their own
            "space": {
                "model.backbone_params.hidden_size": {"low": 4, "high": 16},
                "training.lr": {"low": 1e-3, "high": 1e-1, "log": True},
            },
        },
    }
    for key, value in sections.items():
        merge = isinstance(value, dict) and isinstance(raw.get(key), dict)
        raw[key] = {**raw[key], **value} if merge else value
    path = folder / name
    path.write_text(yaml.safe_dump(raw))
    return load_spec(path)


def train_toy(model, x, lengths, labels, steps: int, lr: float = 0.03):
    """`steps` full-batch Adam steps on the model's own loss; the model, in eval mode."""
    import torch

    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        optimiser.zero_grad()
        model.loss(model(x, lengths), labels).backward()
        optimiser.step()
    return model.eval()
