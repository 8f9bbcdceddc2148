"""Signals at fixed moments of a demo sweep: how fast it stops, with which exit code, and
whether any trial is left RUNNING.

    python3 benchmarks/signals.py [--json out.json]

For SIGINT and SIGTERM, at 0.3, 1, 2, 4 and 8 s after `sweep run specs/demo.yaml` starts
(start-up, data loading, the first trials): the seconds from the signal to the exit, the
exit code (130 / 143 expected), and the trials its journal leaves RUNNING (none expected).
These are seconds, so a benchmark and not a test (tests/test_signals.py waits on events).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.studies import demo_data, sweep_run  # noqa: E402

MOMENTS = (0.3, 1.0, 2.0, 4.0, 8.0)


def one(sig: int, after: float, demo: Path, results: Path) -> dict:
    from sweep.results import StudyFolder
    from sweep.signals import Interrupted

    proc = sweep_run(REPO / "specs/demo.yaml", results, "--data-root", str(demo))
    time.sleep(after)
    sent = time.perf_counter()
    proc.send_signal(sig)
    _, err = proc.communicate()
    seconds = time.perf_counter() - sent
    folder = StudyFolder(results / "demo")
    running = []
    if folder.has_journal():
        running = [t.number for t in folder.load_study().trials if t.state.name == "RUNNING"]
    lines = err.strip().splitlines()
    return {
        "signal": signal.Signals(sig).name,
        "after_s": after,
        "exit_s": round(seconds, 2),
        "exit_code": proc.returncode,
        "running_left": running,
        "first_line": lines[0] if lines else "",
        "ok": proc.returncode == Interrupted(sig).exit_code and not running and seconds <= 10,
    }


def run_signals(log=print) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        demo = demo_data(Path(tmp) / "demo")
        for sig in (signal.SIGINT, signal.SIGTERM):
            for k, after in enumerate(MOMENTS):
                row = one(sig, after, demo, Path(tmp) / f"r{sig}-{k}")
                log(
                    f"  {row['signal']} at {after} s: exit {row['exit_code']} after "
                    f"{row['exit_s']} s, RUNNING left {row['running_left']}"
                )
                rows.append(row)
    return {"runs": rows, "target_met": all(r["ok"] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = run_signals()
    print(json.dumps({"target_met": out["target_met"]}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
