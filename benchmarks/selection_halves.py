"""Which way of choosing the tested model holds up on tracks it was not chosen on? Validation only.

    python3 benchmarks/selection_halves.py results/genre_full/genre_full [more studies]

For a kept study (one validation split, `selection.folds: 1`), the validation tracks are
split at random into two halves, `--repeats` times. On the first half each way of choosing
picks its model from the `ENSEMBLE_CANDIDATES` trials best there; the second half scores it
with the study's metric:

- *bagged*: the study's own ensemble selection (its `ensemble_size` and `ensemble_bags`);
- *greedy*: the same, one bag;
- *best trial*: the one trial best on the first half;
- *top 10 equal* and *top 50 equal*: the mean of the 10 or 50 best trials' outputs.

No test output is read: this judges the choosing, not the models, and what it finds may be
acted on without touching the test split. The halves are the same for every way (paired).
--json writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # runnable as a script from a checkout
    sys.path.insert(0, str(REPO))

from benchmarks.studies import journal_study  # noqa: E402
from sweep import ensemble, evaluate, trials  # noqa: E402
from sweep.evaluate import ENSEMBLE_CANDIDATES  # noqa: E402
from sweep.results import StudyFolder  # noqa: E402
from sweep.spec import Spec  # noqa: E402

WAYS = ("bagged", "greedy", "best trial", "top 10 equal", "top 50 equal")


def held_out_outputs(study_folder: Path):
    """(spec, {trial number: validation outputs}, targets): every complete trial's outputs
    on the validation tracks, in one order (by track id), the study's best trials first."""
    spec = Spec.model_validate(yaml.safe_load((study_folder / "spec.yaml").read_text()))
    study = journal_study(study_folder)
    complete = [t for t in trials.shown(study.trials) if t.state == trials.STATES.COMPLETE]
    complete.sort(key=lambda t: t.value, reverse=spec.direction == "maximize")
    numbers = [t.number for t in complete]  # all of them: the halves rank them afresh
    outputs, targets, _ = evaluate.held_out_outputs(StudyFolder(study_folder), numbers, False)
    if not outputs:
        raise SystemExit(f"{study_folder}: no complete trial with its validation outputs")
    return spec, outputs, targets


def score(spec: Spec, task: str, outputs: np.ndarray, targets: np.ndarray) -> float:
    """The study's metric, larger is better."""
    return rank_key(spec, task, outputs, targets)[0]


def rank_key(spec: Spec, task: str, outputs: np.ndarray, targets: np.ndarray):
    """(metric, tie-breaker), larger is better: ties of the metric on a few dozen tracks
    are common, and are broken as the ensemble selection breaks them (log-loss or MSE)."""
    return ensemble.score_key(outputs, targets, task, spec.metric, spec.direction)


def choose(
    way: str,
    spec: Spec,
    task: str,
    outputs: dict,
    targets: np.ndarray,
    seed: int,
    ranked: list[int] | None = None,
) -> dict[int, float]:
    """{trial number: weight} chosen on (`outputs`, `targets`), as `way` chooses, from the
    trials `ranked` best first (None: ranked on these tracks; the study's own order, as
    `held_out_outputs` gives it, makes "bagged" on every track the study's choice)."""
    if ranked is None:
        keys = {n: rank_key(spec, task, o, targets) for n, o in outputs.items()}
        ranked = sorted(outputs, key=lambda n: keys[n], reverse=True)
    candidates = {n: outputs[n] for n in ranked[:ENSEMBLE_CANDIDATES]}
    selection = spec.search.selection
    if way in ("bagged", "greedy"):
        bags = selection.ensemble_bags if way == "bagged" else 1
        return ensemble.select(
            candidates, targets, task, spec.metric, spec.direction,
            rounds=selection.ensemble_size, bags=bags, seed=seed,
        )  # fmt: skip
    if way == "best trial":
        return {ranked[0]: 1.0}
    top = ranked[: {"top 10 equal": 10, "top 50 equal": 50}[way]]
    return {n: 1.0 / len(top) for n in top}


def run(study_folder: Path, repeats: int = 30, seed: int = 0) -> dict:
    spec, outputs, targets = held_out_outputs(study_folder)
    task = spec.task.kind
    rng = np.random.default_rng(seed)
    scores: dict[str, list[float]] = {way: [] for way in WAYS}
    for r in range(repeats):
        order = rng.permutation(len(targets))
        first, second = order[: len(order) // 2], order[len(order) // 2 :]
        on_first = {n: o[first] for n, o in outputs.items()}
        for way in WAYS:
            weights = choose(way, spec, task, on_first, targets[first], seed=r)
            blended = ensemble.blend(weights, {n: outputs[n][second] for n in weights})
            scores[way].append(score(spec, task, blended, targets[second]))
    bagged = np.array(scores["bagged"])
    return {
        "study": str(study_folder),
        "metric": spec.metric,
        "candidates": len(outputs),
        "validation_tracks": len(targets),
        "repeats": repeats,
        "ways": {
            way: {
                "mean": round(float(np.mean(v)), 4),
                "minus_bagged": round(float(np.mean(np.array(v) - bagged)), 4),
                "minus_bagged_se": round(float(np.std(np.array(v) - bagged) / np.sqrt(len(v))), 4),
            }
            for way, v in scores.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("studies", nargs="+", type=Path, help="kept study folders")
    parser.add_argument("--repeats", type=int, default=30, help="random halvings (30)")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args()
    out = []
    for folder in args.studies:
        one = run(folder, args.repeats)
        out.append(one)
        print(
            f"{folder}: {one['candidates']} candidates, {one['validation_tracks']} validation "
            f"tracks, {one['repeats']} halvings, {one['metric']} on the other half"
        )
        for way, v in one["ways"].items():
            print(
                f"  {way:13s} {v['mean']:.4f}  (minus bagged {v['minus_bagged']:+.4f}, "
                f"standard error {v['minus_bagged_se']:.4f})"
            )
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
