"""The benchmark suite: every performance figure of sweep, measured side by side in one run.

    python3 benchmarks/suite.py --data-root ../shared/data/emotify --json benchmarks.json

Sections, in order (each is also a script of its own):
  data      cold/warm load and peak memory, genre beat and full   (benchmarks/data_load.py)
  engine    seconds per epoch, sweep vs a bare PyTorch loop; start-up to the first step
                                                                   (benchmarks/engine.py)
  pruning   one spec and trial budget, pruner off, the spec's and three others
                                                                   (benchmarks/studies.py)
  workers   trials/hour, --workers 1 and 2: equal trials on the real data, and the demo
                                                                   (benchmarks/studies.py)
  quality   three specs with a CPU budget each (genre full, genre beat, multitask): best
            trial vs reference vs baseline
                                                                   (benchmarks/studies.py)

The quality studies run one after another on both cores: about 23 minutes of the suite with
the default 15-minute budget (`--data-root` is emotify; emotify_full is found beside it).
`--quality-minutes 2` gives a quick pass of the whole suite; `--only SECTION` (repeatable)
runs some sections.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for path in (str(REPO), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

import data_load  # noqa: E402
import engine  # noqa: E402
import studies  # noqa: E402

SECTIONS = ("data", "engine", "pruning", "workers", "quality")


def machine() -> dict:
    import torch

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def run(
    data_root: Path,
    quality_minutes: float,
    only: list[str] | None,
    pruning_trials: int = 10,
    log=print,
) -> dict:
    out: dict = {"machine": machine(), "data_root": str(data_root), "sections": {}}
    started = time.perf_counter()
    for section in SECTIONS:
        if only and section not in only:
            continue
        t = time.perf_counter()
        log(f"== {section} ...")
        if section == "data":
            result: dict = {"rows": data_load.run(data_root, repeats=3)}
        elif section == "engine":
            result = engine.run(data_root, log=lambda _: None)
        elif section == "pruning":
            result = studies.run_pruning(data_root, trials=pruning_trials)
        elif section == "workers":
            with tempfile.TemporaryDirectory() as tmp:
                demo = studies.demo_data(Path(tmp) / "demo")
                result = studies.run_workers(data_root, demo)
        else:
            result = studies.run_quality(data_root.parent, quality_minutes)
        result["section_seconds"] = time.perf_counter() - t
        out["sections"][section] = result
        log(report(section, result))
    out["total_seconds"] = time.perf_counter() - started
    return out


def _ok(flag: bool | None) -> str:
    return "-" if flag is None else ("met" if flag else "NOT met")


def report(section: str, r: dict) -> str:
    """One section as text: the numbers, the target, met or not."""
    lines = []
    if section == "data":
        lines.append(data_load.table(r["rows"]))
    elif section == "engine":
        lines.append(engine.table(r))
    elif section == "pruning":
        lines.append(f"{r['spec']}, {r['trials']} trials ({', '.join(r['overrides'])})")
        lines.append(
            f"{'pruner':20} {'epochs':>7} {'fewer':>6} {'best val':>9} {'vs off':>7} "
            f"{'test':>6} {'c/p':>6} {'CPU s':>6}  target"
        )
        for label, run_ in r["runs"].items():
            target = "" if label == "none" else _ok(run_["target_met"])
            test = "-" if run_.get("test") is None else f"{run_['test']:.4f}"
            lines.append(
                f"{label:20} {run_['epochs']:>7} {run_['epoch_reduction']:>5.2f}x "
                f"{run_['best_validation']:>9.4f} {run_['best_difference']:>+7.4f} {test:>6} "
                f"{run_['complete']:>3}/{run_['pruned']:<2} {run_['cpu_s']:>6.0f}  {target}"
            )
        lines.append(
            "target: >= 3x fewer epochs with a best no more than 0.01 below, for the spec's "
            f"own pruner (successive halving): {_ok(r['target_met'])}"
        )
    elif section == "workers":
        lines.append(f"trials/hour from scratch, {r['cpus']} cores")
        for name, w in r["workloads"].items():
            rates = ", ".join(
                f"--workers {n}: {run_['wall_s']:.0f} s, {run_['trials_per_hour']:.0f}/hour"
                for n, run_ in w["runs"].items()
            )
            speedup = f"{w['speedup']:.2f}x" if "speedup" in w else "-"
            lines.append(f"{name:13} {w['trials']:>3} trials  {rates}  -> {speedup}")
        lines.append(f"target >= 1.6x on equal_trials: {_ok(r['target_met'])}")
    else:
        lines.append(
            f"{r['minutes']:g} CPU minutes per spec, one after another, {r['workers']} "
            f"one-thread workers each ({r['wall_s'] / 60:.1f} min wall)"
        )
        lines.append(
            f"{'spec':16} {'data':13} {'trials c/p/f':>12} {'test n':>6} {'metric':>8} "
            f"{'best':>6} {'reference':>9} {'baseline':>8} {'margin':>7}  best family"
        )
        for spec, row in r["specs"].items():
            ref = row["reference_test"]
            lines.append(
                f"{Path(spec).stem:16} {row['data']:13} "
                f"{row['complete']:>4}/{row['pruned']}/{row['failed']:<3} {row['test_n']:>6} "
                f"{row['metric']:>8} {row['best_test']:>6.3f} "
                f"{'-' if ref is None else f'{ref:.3f}':>9} {row['baseline_test']:>8.3f} "
                f"{row['margin_over_baseline']:>+7.3f}  {row['best_backbone']}"
            )
            for name, axis in row.get("per_target", {}).items():
                axis_ref = axis["reference"]
                lines.append(
                    f"{'':16} {name:13} {'':12} {'':6} {'spearman':>8} {axis['best']:>6.3f} "
                    f"{'-' if axis_ref is None else f'{axis_ref:.3f}':>9} "
                    f"{axis['baseline']:>8.3f} {axis['best'] - axis['baseline']:>+7.3f}"
                )
    lines.append(f"({r['section_seconds']:.0f} s)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-root", type=Path, default=REPO.parent / "shared" / "data" / "emotify"
    )
    parser.add_argument("--quality-minutes", type=float, default=15)
    parser.add_argument("--pruning-trials", type=int, default=10)
    parser.add_argument("--only", action="append", choices=SECTIONS)
    parser.add_argument("--json", type=Path, help="write every number here")
    args = parser.parse_args()
    root = args.data_root.resolve()
    if not (root / "fma_genre_spectrograms_beat").is_dir():
        sys.exit(f"{root}: no data in the Kaggle layout (the emotify data: ../shared/data/emotify)")
    out = run(root, args.quality_minutes, args.only, args.pruning_trials)
    print(f"\nall sections: {out['total_seconds'] / 60:.1f} min on {out['machine']['cpu']}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str))
        print(f"written: {args.json}")


if __name__ == "__main__":
    main()
