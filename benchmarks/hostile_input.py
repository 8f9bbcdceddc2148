"""The hostile-input properties of tests/test_hostile_input.py, with many more examples.

    python benchmarks/hostile_input.py [--examples 5000] [--seed 0]

Arbitrary text, bytes, YAML, mutated specs and `--set` overrides go through the loader every
command runs; each must give a Spec (then get through what `sweep run` does before reading
data) or a SweepError with a one-line message. The examples are shared out evenly between
the properties (tests/hostile_strategies.py). Prints "N examples, 0 tracebacks", or each
property's shrunk failure; exits 1 when one fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # sweep and tests/

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from tests import hostile_strategies as hs  # noqa: E402


def prop(name: str, strategy, n: int, seed_: int, spec: Path, ran: Counter, outcomes: Counter):
    """One property of the test module, with `n` examples."""

    @seed(seed_)
    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(strategy)
    def run(example):
        ran[name] += 1
        outcomes[hs.run_example(name, example, spec)] += 1

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000, help="in all (default 5000)")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    per_property = max(1, args.examples // len(hs.PROPERTIES))
    spec = Path(tempfile.mkdtemp(prefix="sweep-hostile-")) / "spec.yaml"
    ran: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    failures: dict[str, str] = {}
    started = time.perf_counter()
    for name, (strategy, _, _) in hs.PROPERTIES.items():
        t = time.perf_counter()
        try:
            prop(name, strategy, per_property, args.seed, spec, ran, outcomes)()
        except Exception as e:  # hypothesis has printed the shrunk example
            failures[name] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        print(
            f"{name:>14}: {ran[name]:5d} examples in {time.perf_counter() - t:5.1f} s"
            + (f"  FAILED {failures[name]}" if name in failures else ""),
            flush=True,
        )
    total = sum(ran.values())
    print(
        f"{total} examples, {len(failures)} tracebacks "
        f"({outcomes['ok']} specs loaded, {outcomes['error']} one-line errors) "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
