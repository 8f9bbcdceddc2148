"""Engine overhead: a sweep trial's seconds per epoch against a bare PyTorch loop, and start-up.

    python3 benchmarks/engine.py --data-root ../shared/data/emotify --json out.json

Per epoch, for three configurations of the shipped specs (their reference parameters):
- "sweep": `sweep.train.fit` on data from `sweep.data.prepare`, timed from the call to each
  epoch's report, so everything fit does per epoch counts (batching, augmentation when the
  spec asks for it, the validation pass with `predict`, the metric, the best-weight copy);
- "bare": a minimal hand-written loop training the same model (built by `sweep.checkpoints.build`,
  same seed, so the same initial weights) on the same in-memory tensors, padded once up
  front; same batch size, threads, device (`sweep.train.pick_device`), optimizer and
  shuffling (the same seeded permutations), and a validation forward pass per epoch in
  fit's evaluation batches (`sweep.train.eval_batches`), padded once.
The two alternate epoch by epoch in ABBA order (bare, sweep, sweep, bare, bare, ...: fit's
epoch report runs the bare epochs due next), so that a machine busy with other work slows
both alike and neither always runs first after a switch (worth several per cent on its
own). Seconds per epoch are medians over every epoch of every repeat (the first included:
it holds what a trial sets up), wall-clock and CPU (the process's, all threads); the ratio
is sweep / bare: the engine's overhead, or what it saves.

Start-up: the wall time from launching `python -m sweep run SPEC` to the first optimizer
step, with an empty cache (SWEEP_CACHE_DIR pointed at a new folder: every `.npy` is parsed)
and with the cache that run left (warm). The first step is marked by the fit hook
`SWEEP_MARK_FIRST_STEP=path` (see sweep/train.py); the child is stopped once it is written.

`run(data_root, ...)` returns everything as a dict, for a top-level benchmark runner.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # runnable as a script from a checkout
    sys.path.insert(0, str(REPO))

# (name, spec, overrides). genre_cnn_mel.yaml's reference trains on 128-frame crops; its
# search tries crops of 128 and 256 frames: the larger is timed.
CONFIGS: list[tuple[str, str, list[str]]] = [
    ("lstm_fused_beat", "specs/genre_all_beat.yaml", []),
    ("cnn_mel_beat", "specs/genre_cnn_mel_beat.yaml", []),
    ("cnn_mel_full_crop256", "specs/genre_cnn_mel.yaml", ["data.crop_frames=256"]),
]
STARTUP_SPEC = "specs/genre_all_beat.yaml"
TARGET_RATIO = 1.05
TARGET_WARM_START = 3.0


def load(path: str, overrides: list[str], data_root: Path):
    from sweep.specfile import load_spec

    return load_spec(REPO / path, overrides, data_root)


# ----------------------------------------------------------------------------- the loops


def padded(split, pad_value):
    """A whole split as one (N, T_max, F) tensor, padded once, with its lengths."""
    import numpy as np
    import torch

    tracks = split.tracks
    lengths = tracks.lengths
    x = np.empty((len(tracks), int(lengths.max()), tracks.n_features), dtype=np.float32)
    x[:] = pad_value
    for i in range(len(tracks)):
        x[i, : lengths[i]] = tracks.track(i)
    return torch.from_numpy(x), torch.from_numpy(lengths.astype(np.int64))


class BareLoop:
    """A minimal PyTorch loop: the same model, batches and optimizer as fit, nothing else.

    It runs where fit runs (`sweep.train.pick_device`) and validates in the batches fit's
    `predict` uses (`sweep.train.eval_batches`: tracks sorted by length, up to twice a
    training batch), on the same tracks (a crop-trained spec's windows where it says
    `eval_windows`), so that the two differ only in what the engine adds."""

    def __init__(self, spec, data) -> None:
        import numpy as np
        import torch

        from sweep.checkpoints import build
        from sweep.tracks import pad_batch, windows
        from sweep.train import eval_batches, pick_device

        training, data_spec = spec.training, data.spec
        self.device = pick_device(training.device)
        self.x, self.lengths = padded(data.train, data.pad_value)
        self.y = torch.from_numpy(data.train.targets).long()
        self.bs, self.crop = training.batch_size, data_spec.crop_frames
        tracks = data.validation.tracks
        if data_spec.crop_frames and data_spec.eval_windows:
            tracks, _ = windows(tracks, data_spec.crop_frames)
        width = data_spec.crop_frames or data_spec.max_length or int(tracks.lengths.max())
        self.val_batches = []  # padded once, up front
        for idx in eval_batches(tracks.lengths, self.bs, width, data_spec.max_length):
            x, lengths = pad_batch(tracks, idx, data.pad_value, data_spec.max_length)
            self.val_batches.append((torch.from_numpy(x), torch.from_numpy(lengths)))
        torch.manual_seed(training.seed)
        self.model = build(spec, data).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=training.lr)
        self.rng = np.random.default_rng(training.seed)  # fit's permutations and crops

    def epoch(self) -> tuple[float, float]:
        """One epoch and a validation pass; its wall-clock and CPU seconds. Batches go to
        the device as fit's do (the lengths stay on the CPU, where packing wants them);
        the validation outputs come back to the CPU, which also waits for the device."""
        import numpy as np
        import torch
        import torch.nn.functional as F

        started, cpu = time.perf_counter(), time.process_time()
        model, rng, bs, crop, device = self.model, self.rng, self.bs, self.crop, self.device
        model.train()
        order = rng.permutation(len(self.x))
        for start in range(0, len(order), bs):
            idx = order[start : start + bs]
            lengths = self.lengths[idx]
            if crop:  # one random window per track, as one gather
                span = np.maximum(lengths.numpy() - crop, 0) + 1
                begin = torch.from_numpy(rng.integers(0, span))
                frames = (begin[:, None] + torch.arange(crop)).clamp_max(self.x.shape[1] - 1)
                x = self.x[torch.from_numpy(idx)[:, None], frames]
                lengths = lengths.clamp_max(crop)
            else:
                x = self.x[idx, : int(lengths.max())]
            if len(idx) == 1:
                continue
            loss = F.cross_entropy(model(x.to(device), lengths), self.y[idx].to(device))
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        model.eval()
        with torch.inference_mode():
            for x, lengths in self.val_batches:
                model(x.to(device), lengths).float().cpu()
        return time.perf_counter() - started, time.process_time() - cpu


ABBA = (0, 1, 1, 0)  # 0: a bare epoch, 1: a sweep epoch


def interleaved_epochs(spec, data, epochs: int) -> tuple[list, list]:
    """(wall, CPU) seconds of each epoch of a bare loop and of `sweep.train.fit`, in ABBA
    order: bare, sweep, sweep, bare, bare, ... (fit's `on_epoch` runs the bare epochs due)."""
    import torch

    from sweep.checkpoints import build
    from sweep.train import fit

    due = [0] * (epochs + 1)  # bare epochs before the first sweep epoch, and after each
    swept_so_far = 0
    for i in range(2 * epochs):
        if ABBA[i % 4]:
            swept_so_far += 1
        else:
            due[swept_so_far] += 1
    bare_loop = BareLoop(spec, data)
    training = spec.training.model_copy(update={"max_epochs": epochs, "patience": None})
    torch.manual_seed(training.seed)
    model = build(spec, data)
    bare = [bare_loop.epoch() for _ in range(due[0])]
    swept: list = []
    resumed = [time.perf_counter(), time.process_time()]

    def on_epoch(record, value) -> None:
        swept.append((time.perf_counter() - resumed[0], time.process_time() - resumed[1]))
        bare.extend(bare_loop.epoch() for _ in range(due[len(swept)]))
        resumed[:] = [time.perf_counter(), time.process_time()]

    fit(model, data, training, spec.metric, spec.direction, on_epoch=on_epoch)
    return bare, swept


def epoch_overhead(
    spec, data, epochs: int, repeats: int, log: Callable[[str], None]
) -> dict[str, object]:
    """Seconds per epoch, bare and sweep (medians over every epoch of every repeat), and
    their ratios, wall-clock and CPU."""
    bare: list = []
    swept: list = []
    for r in range(repeats):
        b, s = interleaved_epochs(spec, data, epochs)
        bare += b
        swept += s
        log(
            f"  repeat {r + 1}/{repeats}: bare {' '.join(f'{t:.2f}' for t, _ in b)} | "
            f"sweep {' '.join(f'{t:.2f}' for t, _ in s)} s"
        )
    wall = [statistics.median(t for t, _ in runs) for runs in (bare, swept)]
    cpu = [statistics.median(c for _, c in runs) for runs in (bare, swept)]
    return {
        "bare_s_per_epoch": wall[0],
        "sweep_s_per_epoch": wall[1],
        "ratio": wall[1] / wall[0],
        "bare_cpu_s_per_epoch": cpu[0],
        "sweep_cpu_s_per_epoch": cpu[1],
        "cpu_ratio": cpu[1] / cpu[0],
        "epochs": {"bare": bare, "sweep": swept},  # (wall, CPU) seconds of each epoch
    }


# ----------------------------------------------------------------------------- start-up


def time_to_first_step(
    cache: Path, data_root: Path, work: Path, timeout: float = 300
) -> tuple[float, float | None]:
    """Seconds from launching `sweep run` to its first optimizer step: wall-clock, and the
    CPU seconds the child had used by then (Linux only; None elsewhere), which a machine
    busy with other work inflates less."""
    mark, results = work / "first_step", work / "results"
    mark.unlink(missing_ok=True)
    env = {
        **os.environ,
        "SWEEP_CACHE_DIR": str(cache),
        "SWEEP_MARK_FIRST_STEP": str(mark),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "sweep", "run", STARTUP_SPEC, "--data-root", str(data_root)]
    command += ["--trials", "1", "--results", str(results), "--set", "training.max_epochs=1"]
    started = time.time()
    child = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        while not mark.exists():
            if child.poll() is not None:
                raise RuntimeError(f"sweep run ended before training: {child.stderr.read()}")
            if time.time() - started > timeout:
                raise TimeoutError(f"no training step after {timeout} s")
            time.sleep(0.005)
        cpu = _cpu_seconds(child.pid)
        time.sleep(0.02)  # the mark is written in one call; let it land
        return float(mark.read_text()) - started, cpu
    finally:
        child.terminate()
        child.communicate()


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a running process, from /proc (None where unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def startup(data_root: Path, repeats: int, log: Callable[[str], None]) -> dict[str, object]:
    runs: dict[str, list] = {"cold": [], "warm": []}
    for r in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            cache = work / "cache"
            cache.mkdir()
            for kind in ("cold", "warm"):  # warm: the cache the cold run left
                runs[kind].append(time_to_first_step(cache, data_root, work / kind))
        (cold, cold_cpu), (warm, warm_cpu) = runs["cold"][-1], runs["warm"][-1]
        log(
            f"  start-up {r + 1}/{repeats}: cold {cold:.2f} s (CPU {cold_cpu or 0:.2f} s), "
            f"warm {warm:.2f} s (CPU {warm_cpu or 0:.2f} s)"
        )
    out: dict[str, object] = {"spec": STARTUP_SPEC, "runs": runs}
    for kind in ("cold", "warm"):
        out[f"{kind}_s"] = statistics.median(wall for wall, _ in runs[kind])
        cpu = [c for _, c in runs[kind] if c is not None]
        out[f"{kind}_cpu_s"] = statistics.median(cpu) if cpu else None
    return out


# ----------------------------------------------------------------------------- the runner


def run(
    data_root: Path | str,
    epochs: int = 3,
    repeats: int = 3,
    startup_repeats: int = 2,
    configs: list[str] | None = None,
    log: Callable[[str], None] = print,
    threads: int | None = None,
) -> dict:
    """Every measurement of this benchmark as a dict (`skipped` says why when no data)."""
    data_root = Path(data_root).resolve()
    if not (data_root / "fma_genre_spectrograms_beat").is_dir():
        return {"skipped": f"data folder {data_root} not found (or not in the Kaggle layout)"}
    import torch

    from sweep.data import prepare
    from sweep.train import set_threads

    # torch imports its compiler the first time an optimizer is built (about a second):
    # start-up, measured below, not an epoch of either loop.
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    results: dict = {"data_root": str(data_root), "epochs": epochs, "repeats": repeats}
    results["threads"] = threads
    results["configs"] = {}
    for name, path, overrides in CONFIGS:
        if configs and name not in configs:
            continue
        spec = load(path, overrides, data_root)
        set_threads(threads or spec.training.threads)
        data = prepare(spec.resolved_data)
        log(f"{name}: {len(data.train)} train / {len(data.validation)} validation tracks")
        row = epoch_overhead(spec, data, epochs, repeats, log)
        row.update(spec=path, overrides=overrides, threads=torch.get_num_threads())
        results["configs"][name] = row
    if startup_repeats:
        results["startup"] = startup(data_root, startup_repeats, log)
    results["load_average"] = os.getloadavg()
    results["cpus"] = os.cpu_count()
    return results


def table(results: dict) -> str:
    if "skipped" in results:
        return f"skipped: {results['skipped']}"
    lines = [
        f"{'config':22} {'bare s/epoch':>13} {'sweep s/epoch':>14} {'ratio':>7} "
        f"{'CPU ratio':>9}  target (ratio <= {TARGET_RATIO})"
    ]
    for name, row in results["configs"].items():
        ok = "ok" if row["ratio"] <= TARGET_RATIO else "OVER"
        lines.append(
            f"{name:22} {row['bare_s_per_epoch']:>13.3f} {row['sweep_s_per_epoch']:>14.3f} "
            f"{row['ratio']:>7.3f} {row['cpu_ratio']:>9.3f}  {ok}"
        )
    if "startup" in results:
        s = results["startup"]
        ok = "ok" if s["warm_s"] <= TARGET_WARM_START else "OVER"
        cpu = {k: s[f"{k}_cpu_s"] for k in ("cold", "warm")}
        lines.append(
            f"start-up to first step ({s['spec']}): cold {s['cold_s']:.2f} s "
            f"(CPU {cpu['cold'] or 0:.2f} s), warm {s['warm_s']:.2f} s "
            f"(CPU {cpu['warm'] or 0:.2f} s); target warm <= {TARGET_WARM_START} s {ok}"
        )
    load = results["load_average"]
    lines.append(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {results['cpus']} CPUs")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-root", type=Path, default=REPO.parent / "shared" / "data" / "emotify"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="bare/sweep pairs per config")
    parser.add_argument("--startup-repeats", type=int, default=2, help="0: skip start-up")
    parser.add_argument("--config", action="append", help="only these configs (repeatable)")
    parser.add_argument("--threads", type=int, help="torch threads (default: as sweep: all cores)")
    args = parser.parse_args()
    results = run(
        args.data_root,
        args.epochs,
        args.repeats,
        args.startup_repeats,
        args.config,
        print,
        args.threads,
    )
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
