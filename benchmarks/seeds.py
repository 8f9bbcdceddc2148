"""How much of one configuration's score is its training seed? Its spec's reference configuration
trained again with each seed, on the same split.

    python3 benchmarks/seeds.py specs/genre_full.yaml --data-root ../shared/data/emotify_full \\
        --seeds 8 [--set FIELD=VALUE ...]

Each seed is a one-trial study of the spec's reference configuration (with `--set` applied),
nothing pruned or cut (`benchmarks/revalidation.py`'s settings), `training.seed` = the seed;
the split is the spec's own (`data.split_seed` unchanged), so every run trains, validates and
tests on the same tracks and only the initial weights, the batches, the crops and the
augmentation differ. Printed: each seed's validation value and test score (the study's
metric), their mean, standard deviation and range, and the test score of the mean of k seeds'
test outputs (probabilities or values), averaged over every k of the seeds (at most
`MAX_SUBSETS` of them, drawn), for k = 1, 2, 4, ... up to all of them: how much a comparison
of single runs is luck, and what averaging seeds buys. --json writes the numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # runnable as a script from a checkout
    sys.path.insert(0, str(REPO))

from benchmarks.revalidation import run_configuration  # noqa: E402
from benchmarks.studies import journal_study  # noqa: E402

# the runs go one after another, each with every core (revalidation's runs share them)
ONE_AT_A_TIME = ("training.threads=null",)
MAX_SUBSETS = 200  # k-subsets of the seeds scored for each k; more are drawn at random


def seed_runs(
    spec: Path, seeds: list[int], sets: list[str], work: Path, data_root: Path | None, log=None
) -> list[dict]:
    """Each seed's run (in `work`/seed<S>, read again if already there): its validation
    value, its test outputs and targets (by track id) and its study folder."""
    import yaml

    config = yaml.safe_load(spec.read_text())
    if data_root is None and (config.get("data") or {}).get("root"):
        data_root = Path(config["data"]["root"]).resolve()  # as `sweep run` would read it here
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    runs = []
    for seed in seeds:
        log(f"  seed {seed}")
        folder = run_configuration(
            config,
            (*ONE_AT_A_TIME, *sets, f"training.seed={seed}"),
            work / f"seed{seed}",
            data_root,
        )
        with np.load(folder / "test_outputs.npz") as tested:
            order = np.argsort(tested["ids"], kind="stable")
            outputs, targets = tested["best"][order], tested["targets"][order]
        runs.append(
            {
                "seed": seed,
                "folder": folder,
                "validation": journal_study(folder).best_value,
                "outputs": outputs,
                "targets": targets,
            }
        )
    return runs


def seed_figures(runs: list[dict], task: str, metric: str, rng_seed: int = 0) -> dict:
    """The figures of `seed_runs`' runs: each seed's, their spread, and the test score of
    averages of k seeds' outputs."""
    from sweep.ensemble import score_key

    def score(outputs: np.ndarray) -> float:  # the metric itself, loss included, unsigned
        return score_key(outputs, runs[0]["targets"], task, metric, "maximize")[0]

    for r in runs[1:]:
        if not np.array_equal(r["targets"], runs[0]["targets"]):
            raise ValueError(f"seed {r['seed']} was tested on other tracks than seed 0's")
    tests = [score(r["outputs"]) for r in runs]
    validations = [r["validation"] for r in runs]
    rng = np.random.default_rng(rng_seed)
    averaged = {}
    sizes = sorted({k for k in (2**i for i in range(len(runs).bit_length())) if k <= len(runs)})
    sizes += [len(runs)] if sizes[-1] != len(runs) else []
    for k in sizes:
        subsets = list(itertools.combinations(range(len(runs)), k))
        if len(subsets) > MAX_SUBSETS:
            subsets = [subsets[i] for i in rng.choice(len(subsets), MAX_SUBSETS, replace=False)]
        values = [score(np.mean([runs[i]["outputs"] for i in s], axis=0)) for s in subsets]
        averaged[k] = {
            "mean": float(np.mean(values)),
            "min": float(np.min(values)),
            "max": float(np.max(values)),
            "subsets": len(subsets),
        }
    return {
        "metric": metric,
        "seeds": [
            {"seed": r["seed"], "validation": v, "test": t}
            for r, v, t in zip(runs, validations, tests, strict=True)
        ],
        "validation": _spread(validations),
        "test": _spread(tests),
        "test_of_seed_averages": averaged,
    }


def _spread(values: list[float]) -> dict:
    return {
        "mean": float(np.mean(values)),
        "sd": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
        "min": float(np.min(values)),
        "max": float(np.max(values)),
    }


def print_figures(figures: dict) -> None:
    metric = figures["metric"]
    print(f"seed   validation {metric}   test {metric}")
    for row in figures["seeds"]:
        print(f"{row['seed']:>4}   {row['validation']:>19.4f}   {row['test']:>13.4f}")
    for name in ("validation", "test"):
        s = figures[name]
        print(
            f"{name}: mean {s['mean']:.4f}, sd {s['sd']:.4f}, range {s['min']:.4f}-{s['max']:.4f}"
        )
    print(f"test {metric} of the mean of k seeds' outputs (mean over subsets, range):")
    for k, s in figures["test_of_seed_averages"].items():
        subsets = f"{s['subsets']} subset" + ("s" if s["subsets"] > 1 else "")
        print(f"  k = {k}: {s['mean']:.4f} ({s['min']:.4f}-{s['max']:.4f}, {subsets})")


def main() -> None:
    from sweep.specfile import load_spec

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, help="the spec whose reference configuration runs")
    parser.add_argument("--seeds", type=int, default=8, help="seeds 0 .. N-1 (default 8)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="F=V")
    parser.add_argument("--data-root", type=Path, help="the data, if not the spec's data.root")
    parser.add_argument(
        "--keep", type=Path, help="keep the runs in this folder (runs already there are read)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.seeds < 2:
        parser.error("--seeds: at least 2")
    if not args.spec.is_file():
        parser.error(f"{args.spec}: no such spec file")
    data_root = args.data_root.resolve() if args.data_root else None
    kept = contextlib.nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory()
    with kept as work:
        runs = seed_runs(
            args.spec.resolve(), list(range(args.seeds)), args.sets, Path(work), data_root
        )
        spec = load_spec(runs[0]["folder"] / "spec.yaml")
        figures = seed_figures(runs, spec.task.kind, spec.metric)
    print_figures(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
