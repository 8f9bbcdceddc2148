"""A small synthetic data set in exactly the Kaggle layout, to try the tool without the data.

The audio is synthesised with numpy, then turned into features by the lab's recipe
(`sweep.lab.audio_features`), so the arrays look and behave like the real ones. Four styles
that really differ in tempo, rhythm, timbre and harmony, each track varied at random
(tempo, key, mode, groove, level, noise):

- Classical: 56-96 BPM with rubato, no drums (a timpani on some), sustained string-like
  chords, a bass line and a melody, timbres from bright to mellow; mixed softly.
- Electronic: 116-134 BPM, dead-on timing, a four-on-the-floor (or breakbeat) kick, off-beat
  hats, bright saw bass, saw arpeggios or pads.
- Hip-Hop: 78-100 BPM, a swung beat with a heavy kick and snare, a sparse sub bass, soft
  keys, on some a bright synth lead.
- Rock: 96-150 BPM, kick/snare/hats (backbeat or half-time), power chords from clean to
  distorted, a saw bass and a sung-like melody.

Valence, energy and danceability are computed from what was rendered (mode, brightness,
loudness, percussion density, tempo, timing regularity) plus a little noise. Label files
carry the real data's gotchas: name variants, unmerged FMA genres (Psych-Rock, Post-Rock,
Chiptune) and tracks of genres the class merge drops (Soundtrack, Old-Time).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sweep.errors import DataError
from sweep.lab import layout
from sweep.lab.audio_features import SR, features_from_audio, parallel_map

STYLES = ("Classical", "Electronic", "Hip-Hop", "Rock")
# FMA sub-genres the 20->10 merge folds into a style; every SUBGENRE_EVERY-th track of a
# split is labelled with one, so both splits need the merge.
SUBGENRES = {"Electronic": ("Chiptune",), "Rock": ("Psych-Rock", "Post-Rock")}
SUBGENRE_EVERY = 4
# Genres the merge drops: one train and one test track each, whose audio borrows a style.
DROPPED = ("Soundtrack", "Old-Time")
N_PER_CLASS = 20
SECONDS = 8.0
TEST_FRACTION = 0.2
TARGETS = ("valence", "energy", "danceability")
# Written last: marks a complete demo folder, so asking for the same demo again is a no-op.
RECIPE_FILE = ".sweep-demo.json"

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
# Scale degrees (0 = tonic) of four-chord progressions, one chord per bar.
PROGRESSIONS = {
    True: ((0, 4, 5, 3), (0, 3, 4, 0), (0, 5, 3, 4)),
    False: ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 4)),
}


@dataclass(frozen=True)
class _Plan:
    """One track to make: where it goes, how it is labelled, what it sounds like."""

    tid: str
    label: str
    style: str
    split: str
    seed: np.random.SeedSequence
    seconds: float


@dataclass(frozen=True)
class _Traits:
    """What a renderer decided, as far as the emotion values depend on it."""

    bpm: float
    major: bool
    hits: int  # percussion events
    kicks: int
    timing_ms: float  # how far onsets stray from a steady grid (jitter, rubato)


def write_demo(
    out: Path,
    seed: int = 0,
    workers: int | None = None,
    show_progress: bool = True,
    n_per_class: int = N_PER_CLASS,
    seconds: float = SECONDS,
) -> dict:
    """Write the demo data set under `out`, all four Kaggle folders.

    The same seed gives byte-identical files, whatever the number of workers.

    Args:
        out: A new or empty folder.
        seed: Seeds every choice: ids, splits, labels, audio, emotion values.
        workers: Processes computing features; default `os.cpu_count()`.
        show_progress: Draw a progress bar.
        n_per_class: Tracks per style (a fifth of them, at least one, go to test).
        seconds: Length of every clip.

    Returns:
        A summary: root, tracks per folder and split, classes after the merge, label counts,
        clip seconds, frames per full clip, beat frames (min, max) and wall seconds.

    Raises:
        DataError: `out` is a file or a non-empty folder (user files are never overwritten).
        ValueError: n_per_class < 2 or seconds < 3.
    """
    start = time.perf_counter()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: not a folder; choose a new folder")
    recipe = {"seed": seed, "n_per_class": n_per_class, "clip_seconds": seconds}
    if out.exists() and any(out.iterdir()):
        if _recipe_of(out) == recipe:  # written before by the same call: nothing to do
            return {"root": str(out), "existing": True, **recipe, "seconds": 0.0}
        raise DataError(f"{out}: folder is not empty; choose a new folder")
    # Under 3 s, chroma_cqt's lowest octaves are shorter than its own FFT, and librosa warns.
    if n_per_class < 2 or seconds < 3:
        raise ValueError(f"need n_per_class >= 2 and seconds >= 3, got {n_per_class}, {seconds}")
    plans = _plan(seed, n_per_class, seconds)
    made = parallel_map(
        _make_track, plans, workers=workers, description="Demo tracks", show_progress=show_progress
    )
    # Everything is computed before the first file is written: a failure leaves no half set.
    _write(out, plans, made)
    (out / RECIPE_FILE).write_text(json.dumps(recipe) + "\n")
    beat_frames = [beat.shape[1] for _, beat, _ in made]
    labels = Counter(p.label for p in plans)
    return {
        "root": str(out),
        "tracks": {
            layout.dataset_dir(out, kind, beat).name: dict(Counter(p.split for p in plans))
            for kind in ("genre", "multitask")
            for beat in (False, True)
        },
        "classes": list(STYLES),
        "labels": dict(sorted(labels.items())),
        "seconds_per_clip": seconds,
        "frames_full": made[0][0].shape[1],
        "frames_beat": (min(beat_frames), max(beat_frames)),
        "seconds": round(time.perf_counter() - start, 1),
        **recipe,
    }


def _recipe_of(out: Path) -> dict | None:
    """How an existing demo folder was written, if it is one."""
    try:
        return json.loads((out / RECIPE_FILE).read_text())
    except (OSError, ValueError):
        return None


def _plan(seed: int, n_per_class: int, seconds: float) -> list[_Plan]:
    """Decide every track's id, split, label and style, and give it its own seed."""
    rng = np.random.default_rng(seed)
    n_test = max(1, round(n_per_class * TEST_FRACTION))
    rows: list[tuple[str, str, str]] = []  # (label, style, split)
    for style in STYLES:
        subs = SUBGENRES.get(style, ())
        for split, n in (("train", n_per_class - n_test), ("test", n_test)):
            for i in range(n):
                relabel = subs and i % SUBGENRE_EVERY == 1
                label = subs[(i // SUBGENRE_EVERY) % len(subs)] if relabel else style
                rows.append((label, style, split))
    for genre in DROPPED:
        for split in ("train", "test"):
            rows.append((genre, STYLES[rng.integers(len(STYLES))], split))
    ids = rng.choice(900_000, size=len(rows), replace=False) + 100_000
    seeds = np.random.SeedSequence(seed).spawn(len(rows))
    return [
        _Plan(str(tid), label, style, split, track_seed, seconds)
        for tid, (label, style, split), track_seed in zip(ids, rows, seeds, strict=True)
    ]


def _write(out: Path, plans: list[_Plan], made: list[tuple]) -> None:
    """Write every track into the four folders, and the label files with their gotchas."""
    by_id = sorted(zip(plans, made, strict=True), key=lambda pm: int(pm[0].tid))
    for beat in (False, True):
        genre = layout.dataset_dir(out, "genre", beat)
        multi = layout.dataset_dir(out, "multitask", beat)
        for folder in (genre, multi):
            for split in ("train", "test"):
                (folder / split).mkdir(parents=True)
        for plan, (full, beat_sync, _) in by_id:
            for folder in (genre, multi):
                layout.write_track(
                    layout.npy_path(folder / plan.split, plan.tid), beat_sync if beat else full
                )
        for split in ("train", "test"):
            # The real files' name variants: see layout.LABEL_NAME_STYLES.
            style = "full.fused" if split == "test" else "beatsync" if beat else "npy.gz"
            layout.write_genre_labels(
                genre / f"{split}_labels.txt",
                [(p.tid, p.label) for p, _ in by_id if p.split == split],
                style=style,
            )
        layout.write_multitask_labels(
            multi / "train_labels.txt",
            [(p.tid, emotions) for p, (_, _, emotions) in by_id if p.split == "train"],
            targets=TARGETS,
        )


def _make_track(plan: _Plan) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """Render one track and compute its (full, beat) features and emotion values."""
    rng = np.random.default_rng(plan.seed)
    y, traits = RENDERERS[plan.style](rng, plan.seconds)
    y = _master(y, rng, LEVEL_DB[plan.style])
    full, beat = features_from_audio(y.astype(np.float32))
    return full, beat, _emotions(y, traits, rng)


# ----------------------------------------------------------------------------- emotions


def _emotions(y: np.ndarray, traits: _Traits, rng: np.random.Generator) -> tuple[float, ...]:
    """Valence, energy and danceability in [0, 1] from the rendered audio and its score.

    - valence: major mode, brightness (spectral centroid), tempo;
    - energy: loudness (RMS), percussion density, tempo;
    - danceability: steady timing, tempo near 120 BPM, a kick to dance to.
    """
    seconds = y.size / SR
    power = np.abs(np.fft.rfft(y)) ** 2
    centroid = float(np.sum(np.fft.rfftfreq(y.size, 1 / SR) * power) / np.sum(power))
    rms_db = 10 * np.log10(np.mean(y**2))
    tempo = _unit(traits.bpm, 60, 140)
    brightness = _unit(np.log2(centroid), np.log2(300), np.log2(1500))
    valence = 0.35 * traits.major + 0.45 * brightness + 0.2 * tempo
    energy = (
        0.4 * _unit(rms_db, -32, -10) + 0.35 * _unit(traits.hits / seconds, 0, 8) + 0.25 * tempo
    )
    dance = (
        0.4 * np.exp(-traits.timing_ms / 15)
        + 0.35 * np.exp(-(((traits.bpm - 120) / 25) ** 2))
        + 0.25 * _unit(traits.kicks / seconds, 0, 2)
    )
    noisy = np.array([valence, energy, dance]) + rng.normal(0, 0.04, size=3)
    return tuple(float(v) for v in np.clip(noisy, 0, 1))


def _unit(x: float, lo: float, hi: float) -> float:
    return float(np.clip((x - lo) / (hi - lo), 0, 1))


# ----------------------------------------------------------------------------- instruments


def _kick(rng: np.random.Generator, decay: float = 0.12, low: float = 50.0) -> np.ndarray:
    """A sine whose pitch drops fast: the thump of a bass drum."""
    t = np.arange(int(0.4 * SR)) / SR
    freq = low + 110 * np.exp(-t / 0.03) * rng.uniform(0.9, 1.1)
    return np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t / decay)


def _snare(rng: np.random.Generator) -> np.ndarray:
    """A tone plus a noise burst; differencing the noise tilts it bright like snare wires."""
    t = np.arange(int(0.25 * SR)) / SR
    rattle = np.diff(rng.standard_normal(t.size + 1)) * np.exp(-t / 0.06)
    body = np.sin(2 * np.pi * rng.uniform(170, 210) * t) * np.exp(-t / 0.05)
    return 0.45 * rattle + 0.6 * body


def _hat(rng: np.random.Generator) -> np.ndarray:
    """A short burst of twice-differenced (very bright) noise."""
    t = np.arange(int(0.08 * SR)) / SR
    return 0.12 * np.diff(rng.standard_normal(t.size + 2), n=2) * np.exp(-t / 0.02)


def _tone(
    freq: float,
    dur: float,
    *,
    harmonics: int,
    tilt: float,
    attack: float,
    release: float,
    vibrato: float = 0.0,
) -> np.ndarray:
    """An additive harmonic tone (partial k at amplitude k**-tilt) with attack and release."""
    t = np.arange(max(1, int(dur * SR))) / SR
    phase = 2 * np.pi * freq * t + vibrato * freq / 5.5 * np.sin(2 * np.pi * 5.5 * t)
    k = np.arange(1, harmonics + 1, dtype=float)
    k = k[k * freq < 0.45 * SR]  # no partial above Nyquist: it would alias
    sig = (k[:, None] ** -tilt * np.sin(k[:, None] * phase)).sum(axis=0)
    envelope = np.minimum(1, t / attack) * np.clip((dur - t) / release, 0, 1)
    return sig * envelope


def _saw(freq: float, dur: float, decay: float) -> np.ndarray:
    """A plucked sawtooth: every harmonic at 1/k, the bright buzz of synths and guitars.

    Not band-limited: the few partials that alias only add to the buzz, and it is cheap.
    """
    t = np.arange(max(1, int(dur * SR))) / SR
    return (2 * ((freq * t) % 1.0) - 1) * np.exp(-t / decay) * np.minimum(1, t / 0.003)


def _hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _triad(tonic: int, major: bool, degree: int) -> list[int]:
    """MIDI notes of the triad on a scale degree of the tonic's major or natural minor scale."""
    scale = MAJOR if major else MINOR
    return [tonic + 12 * ((degree + i) // 7) + scale[(degree + i) % 7] for i in (0, 2, 4)]


# ----------------------------------------------------------------------------- styles


class _Track:
    """An audio buffer with a (possibly rubato) beat clock that events are mixed in at."""

    def __init__(self, rng: np.random.Generator, seconds: float, bpm: float, rubato: float = 0):
        self.rng = rng
        self.y = np.zeros(int(seconds * SR))
        n = int(seconds * bpm / 60) + 8
        # Rubato: the beat period swells and shrinks over eight beats.
        periods = 60 / bpm * (1 + rubato * np.sin(np.arange(n) * np.pi / 4 + rng.uniform(0, 6.3)))
        self.clock = rng.uniform(0, 60 / bpm) + np.concatenate([[0], np.cumsum(periods)])
        self.clock -= 60 / bpm  # start one beat early so the clip opens mid-phrase
        self.bars = int(seconds * bpm / 240) + 2

    def time(self, beat: float, jitter_ms: float = 0.0) -> float:
        t = float(np.interp(beat, np.arange(self.clock.size), self.clock))
        return t + (self.rng.normal(0, jitter_ms / 1000) if jitter_ms else 0.0)

    def add(self, t: float, sig: np.ndarray, gain: float) -> None:
        i = int(round(t * SR))
        lo, hi = max(i, 0), min(i + sig.size, self.y.size)
        if lo < hi:
            self.y[lo:hi] += gain * sig[lo - i : hi - i]


def _classical(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, _Traits]:
    bpm, major, tonic = rng.uniform(56, 96), bool(rng.random() < 0.5), int(rng.integers(48, 60))
    progression = PROGRESSIONS[major][rng.integers(3)]
    timpani = rng.random() < 0.3  # the one percussion an orchestra brings, on downbeats
    tilt = rng.uniform(0.9, 1.9)  # from bright (brass, oboe) to mellow (flute, horn)
    track = _Track(rng, seconds, bpm, rubato=0.08)
    for bar in range(track.bars):
        chord = _triad(tonic, major, progression[bar % 4])
        start, end = track.time(4 * bar), track.time(4 * bar + 4)
        for note in [chord[0] - 12, *chord]:
            strings = _tone(
                _hz(note), end - start + 0.4, harmonics=10, tilt=tilt, attack=0.35,
                release=0.5, vibrato=0.004,
            )  # fmt: skip
            track.add(start, strings, 0.25)
        if timpani:
            track.add(start, _kick(rng, decay=0.5, low=_hz(tonic - 12)), 0.35)
        for beat in range(4):
            note = int(rng.choice(chord)) + 12
            t0, t1 = track.time(4 * bar + beat, 20), track.time(4 * bar + beat + 1)
            melody = _tone(_hz(note), t1 - t0, harmonics=6, tilt=tilt, attack=0.05, release=0.25)
            track.add(t0, melody, 0.3)
    hits = track.bars if timpani else 0
    return track.y, _Traits(bpm, major, hits, kicks=0, timing_ms=60)


def _electronic(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, _Traits]:
    bpm, major, tonic = rng.uniform(116, 134), bool(rng.random() < 0.5), int(rng.integers(45, 57))
    progression = PROGRESSIONS[major][rng.integers(3)]
    kick_at = (0, 2.5) if rng.random() < 0.3 else (0, 1, 2, 3)  # breakbeat or four-on-the-floor
    clap, arpeggio = rng.random() < 0.7, rng.random() < 0.6
    track = _Track(rng, seconds, bpm)
    hits = kicks = 0
    for bar in range(track.bars):
        chord = _triad(tonic, major, progression[bar % 4])
        b = 4 * bar
        for pos in kick_at:
            track.add(track.time(b + pos), _kick(rng), 0.9)
        for beat in range(4):
            track.add(track.time(b + beat + 0.5), _hat(rng), 1.0)
            if clap and beat % 2 == 1:
                track.add(track.time(b + beat), _snare(rng), 0.5)
            for eighth in (0, 0.5):
                bass = _saw(_hz(chord[0] - 12), 0.2, 0.08)
                track.add(track.time(b + beat + eighth), bass, 0.3)
        hits, kicks = hits + len(kick_at) + 4 + 2 * clap, kicks + len(kick_at)
        if arpeggio:
            for sixteenth in range(16):
                note = _hz(chord[sixteenth % 3] + 12)
                track.add(track.time(b + sixteenth / 4), _saw(note, 0.15, 0.06), 0.15)
        else:  # a sustained pad instead
            t0, t1 = track.time(b), track.time(b + 4)
            for note in chord:
                pad = _tone(_hz(note + 12), t1 - t0, harmonics=12, tilt=1, attack=0.2, release=0.2)
                track.add(t0, pad, 0.1)
    return track.y, _Traits(bpm, major, hits, kicks, timing_ms=0)


def _hip_hop(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, _Traits]:
    bpm, major, tonic = rng.uniform(78, 100), bool(rng.random() < 0.3), int(rng.integers(43, 52))
    progression = PROGRESSIONS[major][rng.integers(3)]
    kick_at = ((0, 0.75, 2.5), (0, 1.75, 2.5), (0, 2.25, 2.75))[rng.integers(3)]
    swing = rng.uniform(0.56, 0.66)  # the off-beat lands late: the swung feel
    lead = rng.random() < 0.35  # a bright synth line, as in trap
    track = _Track(rng, seconds, bpm)
    hits = kicks = 0
    for bar in range(track.bars):
        chord = _triad(tonic, major, progression[bar % 4])
        b = 4 * bar
        for pos in kick_at:
            track.add(track.time(b + pos, 4), _kick(rng, decay=0.22, low=42), 1.0)
        for pos in (1, 3):
            track.add(track.time(b + pos, 4), _snare(rng), 0.8)
        for beat in range(4):
            for pos in (0, swing):
                if rng.random() < 0.8:
                    track.add(track.time(b + beat + pos, 4), _hat(rng), 0.8)
                    hits += 1
                if lead and rng.random() < 0.5:
                    note = _hz(chord[int(rng.integers(3))] + 24)
                    track.add(track.time(b + beat + pos, 4), _saw(note, 0.25, 0.1), 0.1)
        hits, kicks = hits + len(kick_at) + 2, kicks + len(kick_at)
        t0, t1 = track.time(b), track.time(b + 1.5)
        sub = _tone(_hz(chord[0] - 12), t1 - t0, harmonics=2, tilt=2, attack=0.01, release=0.2)
        track.add(t0, sub, 0.5)
        t1 = track.time(b + 4)
        for note in chord:
            keys = _tone(_hz(note + 12), t1 - t0, harmonics=4, tilt=2, attack=0.4, release=0.4)
            track.add(t0, keys, 0.05)
    return track.y, _Traits(bpm, major, hits, kicks, timing_ms=8)


def _rock(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, _Traits]:
    bpm, major, tonic = rng.uniform(96, 150), bool(rng.random() < 0.5), int(rng.integers(40, 50))
    progression = PROGRESSIONS[major][rng.integers(3)]
    drive = rng.uniform(1, 8)  # from a clean guitar (1) to heavy distortion
    snare_at = (2,) if rng.random() < 0.3 else (1, 3)  # half-time feel or backbeat
    track = _Track(rng, seconds, bpm)
    hits = kicks = 0
    for bar in range(track.bars):
        chord = _triad(tonic, major, progression[bar % 4])
        b = 4 * bar
        kick_at = (0, 2, 2.5) if rng.random() < 0.5 else (0, 2)
        for pos in kick_at:
            track.add(track.time(b + pos, 8), _kick(rng), 0.9)
        for pos in snare_at:
            track.add(track.time(b + pos, 8), _snare(rng), 0.8)
        for eighth in range(8):
            t = track.time(b + eighth / 2, 8)
            track.add(t, _hat(rng), 0.7)
            # A power chord (root, fifth, octave) through a tanh: distortion's bright buzz.
            power = sum(_saw(_hz(chord[0] + 12 + i), 0.3, 0.25) for i in (0, 7, 12))
            track.add(t, np.tanh(drive * power) / np.tanh(drive), 0.25)
            track.add(t, _saw(_hz(chord[0]), 0.25, 0.1), 0.25)
        hits, kicks = hits + len(kick_at) + len(snare_at) + 8, kicks + len(kick_at)
        for beat in range(4):
            note = chord[int(rng.integers(3))] + 24  # sung thirds make the mode audible
            t0, t1 = track.time(b + beat, 8), track.time(b + beat + 1)
            voice = _tone(_hz(note), t1 - t0, harmonics=8, tilt=1.0, attack=0.03, release=0.1)
            track.add(t0, voice, 0.2)
    return track.y, _Traits(bpm, major, hits, kicks, timing_ms=8)


RENDERERS: dict[str, Callable[[np.random.Generator, float], tuple[np.ndarray, _Traits]]] = {
    "Classical": _classical,
    "Electronic": _electronic,
    "Hip-Hop": _hip_hop,
    "Rock": _rock,
}
# Typical mix loudness (RMS dBFS) of each style; tracks vary +-3 dB around it.
LEVEL_DB = {"Classical": -27.0, "Electronic": -13.0, "Hip-Hop": -15.0, "Rock": -13.0}


def _master(y: np.ndarray, rng: np.random.Generator, level_db: float) -> np.ndarray:
    """Add a noise floor, set the loudness, and keep the peaks within [-1, 1]."""
    rms = np.sqrt(np.mean(y**2))
    y = y + rng.normal(0, rms * 10 ** (-rng.uniform(15, 40) / 20), size=y.size)
    y *= 10 ** ((level_db + rng.uniform(-3, 3)) / 20) / np.sqrt(np.mean(y**2))
    peak = np.max(np.abs(y))
    return y * (0.99 / peak) if peak > 0.99 else y
