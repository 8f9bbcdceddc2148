"""Two sweeps on one machine: the wall time of two demo sweeps at once against one alone.

    python3 benchmarks/sharing.py [--repeats 2] [--json out.json]

The quick start's demo spec, `--trials 12`, no pruning, 6 epochs a trial (issue 13's
measurement), each run in its own results folder, with the threads left to sweep (no
`training.threads`). Alone and in pairs, interleaved (alone, pair, alone, pair...), so that
a machine's drift hits both. Fair sharing gives a pair about 2x the time of one run alone
(each gets half the cores); threads that compete for cores give much more.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.studies import demo_data, finish, sweep_run  # noqa: E402

ARGS = (
    "--trials",
    "12",
    "--set",
    "search.pruner.name=none",
    "--set",
    "training.max_epochs=6",
)


def timed(runs: int, root: Path, demo: Path) -> float:
    """Seconds until `runs` demo sweeps started at once have all ended."""
    started = time.perf_counter()
    procs = [
        sweep_run(REPO / "specs/demo.yaml", root / f"r{i}", "--data-root", str(demo), *ARGS)
        for i in range(runs)
    ]
    for proc in procs:
        finish(proc)
    return time.perf_counter() - started


def run_sharing(repeats: int = 2, log=print) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        demo = demo_data(Path(tmp) / "demo")
        alone, pair = [], []
        for k in range(repeats):
            alone.append(timed(1, Path(tmp) / f"alone{k}", demo))
            pair.append(timed(2, Path(tmp) / f"pair{k}", demo))
            log(f"  repeat {k + 1}: one alone {alone[-1]:.1f} s, two at once {pair[-1]:.1f} s")
    out = {
        "alone_s": alone,
        "pair_s": pair,
        "ratio": statistics.median(pair) / statistics.median(alone),
    }
    out["target_met"] = out["ratio"] <= 2.6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = run_sharing(args.repeats)
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
