"""Does cross-validated selection pick better models than one small validation split?

    python3 benchmarks/selection.py --data-root ../shared/data/emotify --trials 16

One study of `specs/genre_all_beat.yaml`'s LSTM space on the data's genre beat features,
every trial cross-validated on 5 folds of train+validation (no pruning, so every trial has
all its folds). Each complete trial is then refitted on train+validation and scored on the
test split: a diagnostic only, never used to choose. Side by side, on the same trials:

- *one split*: each trial scored by its first fold alone, i.e. one validation split of
  a fifth of train+validation (what a plain sweep sees);
- *5 folds*: each trial scored by the mean of its 5 folds.

Printed: how well each score ranks the trials' test accuracy (Spearman), the test accuracy
of the trial each would pick, the reference configuration's and the pooled-features
baseline's, all on the same split. Writes the numbers as JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
import torch
from scipy.stats import spearmanr

from sweep.checkpoints import load_checkpoint
from sweep.data import prepare
from sweep.evaluate import refit_trial
from sweep.report.baseline import run_baseline
from sweep.run import run_study
from sweep.specfile import load_spec
from sweep.train import predict, set_threads

HERE = Path(__file__).resolve().parent.parent


def run(data_root: Path, trials: int = 16, folds: int = 5, threads: int | None = None) -> dict:
    set_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    spec = load_spec(
        HERE / "specs" / "genre_all_beat.yaml",
        [
            f"search.selection.folds={folds}",
            "search.selection.final=refit",
            "search.pruner.name=none",
            f"search.n_trials={trials}",
        ],
        data_root=data_root,
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        outcome = run_study(spec, Path(tmp))
        data = prepare(spec.resolved_data)
        test = data.test()
        rows = []
        for t in outcome.study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
            model, _ = load_checkpoint(refit_trial(outcome.folder, t, None))
            probs, _ = predict(model, data, test, 32, torch.device("cpu"))
            rows.append(
                {
                    "trial": t.number,
                    "reference": bool(t.user_attrs.get("reference")),
                    "one_split": t.user_attrs["fold_values"][0],
                    "folds": float(np.mean(t.user_attrs["fold_values"])),
                    "test": float((probs.argmax(1) == test.targets).mean()),
                }
            )
    baseline = run_baseline(data)
    seconds = time.perf_counter() - started

    def pick(key: str) -> dict:
        return max(rows, key=lambda r: (r[key], -r["trial"]))

    out = {
        "data": str(data_root),
        "tracks": {"train+validation": len(data.train) + len(data.validation), "test": len(test)},
        "trials": len(rows),
        "folds": folds,
        "seconds": seconds,
        "spearman_with_test": {
            key: float(spearmanr([r[key] for r in rows], [r["test"] for r in rows])[0])
            for key in ("one_split", "folds")
        },
        "picked": {key: pick(key) for key in ("one_split", "folds")},
        "reference_test": next((r["test"] for r in rows if r["reference"]), None),
        "baseline_test": float(baseline.test["accuracy"]),
        "rows": rows,
    }
    return out


def print_table(out: dict) -> None:
    print(
        f"{out['trials']} trials, {out['folds']} folds, {out['tracks']['train+validation']} "
        f"train+validation / {out['tracks']['test']} test tracks, {out['seconds']:.0f} s"
    )
    print(f"{'selection':12} {'Spearman(score, test)':>22} {'picked trial':>13} {'its test':>9}")
    for key, label in (("one_split", "one split"), ("folds", f"{out['folds']} folds")):
        picked = out["picked"][key]
        print(
            f"{label:12} {out['spearman_with_test'][key]:>22.3f} {picked['trial']:>13} "
            f"{picked['test']:>9.3f}"
        )
    print(f"reference configuration (refitted): test {out['reference_test']:.3f}")
    print(f"pooled features + logistic regression: test {out['baseline_test']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=HERE.parent / "shared/data/emotify")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if not args.data_root.is_dir():
        sys.exit(f"{args.data_root}: no data (the emotify data lives in ../shared/data/emotify)")
    out = run(args.data_root, args.trials, args.folds, args.threads)
    print_table(out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
