"""Cold and warm load time of the lab's data sets, and the size of the cache.

    python benchmarks/data_load.py [--root ../shared/data/emotify] [--repeats 3]

Each measurement runs in a fresh process (imports excluded from the timing, as they are the
same for cold and warm): "cold" starts from an empty cache, so every `.npy` is parsed;
"warm" finds the cache built by the cold run. Times are `prepare()` (train + validation,
features selected and standardised) plus `test()`: everything a study loads. The OS page
cache is not dropped (that needs root and a quiet machine), so "cold" means cold for sweep.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys, time
from sweep.data import prepare
from sweep.spec import DataSpec
spec = DataSpec(dataset=sys.argv[1], root=sys.argv[2], beat=sys.argv[3] == "beat")
t = time.perf_counter()
data = prepare(spec)
data.test()
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "hits": data.report.cache_hits,
                  "tracks": len(data.train) + len(data.validation) + len(data.test()),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_child(cache: Path, dataset: str, root: Path, res: str) -> dict:
    env = {**os.environ, "SWEEP_CACHE_DIR": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, dataset, str(root), res],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def run(root: Path, repeats: int = 3) -> list[dict]:
    """Cold and warm loads of genre beat and full, best of `repeats` fresh processes each."""
    rows = []
    for res in ("beat", "full"):
        cold, warm, sizes = [], [], []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as tmp:
                cache = Path(tmp)
                cold.append(run_child(cache, "fma_genre", root, res))
                warm.append(run_child(cache, "fma_genre", root, res))
                sizes.append(sum(p.stat().st_size for p in cache.rglob("*") if p.is_file()))
        best = lambda runs: min(r["seconds"] for r in runs)  # noqa: E731
        assert all(r["hits"] == 0 for r in cold) and all(r["hits"] == 2 for r in warm)
        rows.append(
            {
                "data": f"fma_genre {res}",
                "tracks": cold[0]["tracks"],
                "cold_s": best(cold),
                "warm_s": best(warm),
                "speedup": best(cold) / best(warm),
                "cache_mib": sizes[0] / 2**20,
                "peak_rss_cold_mib": max(r["peak_rss_mib"] for r in cold),
                "peak_rss_warm_mib": max(r["peak_rss_mib"] for r in warm),
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        f"{'data':16} {'tracks':>6} {'cold s':>8} {'warm s':>8} {'x':>6} {'cache MiB':>10} "
        f"{'RSS cold':>9} {'RSS warm':>9}"
    ]
    for r in rows:
        lines.append(
            f"{r['data']:16} {r['tracks']:6d} {r['cold_s']:8.3f} {r['warm_s']:8.3f} "
            f"{r['speedup']:6.1f} {r['cache_mib']:10.1f} {r['peak_rss_cold_mib']:9.0f} "
            f"{r['peak_rss_warm_mib']:9.0f}"
        )
    return "\n".join(lines)


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=here.parent / "shared" / "data" / "emotify")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = run(args.root, args.repeats)
    print(f"root: {args.root}, best of {args.repeats}, {os.cpu_count()} cores")
    print(table(rows))
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
