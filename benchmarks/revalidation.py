"""What studies found, measured again without the selection that chose it: each study's best
trial's configuration trained anew on other folds, with another training seed.

    python3 benchmarks/revalidation.py --from none=DIR --from successive_halving=DIR \\
        --split-seed 1 --split-seed 2 --split-seed 3

A study's best validation value is the highest of its complete trials' k-fold means, so
selection lifts it: the best of 20 noisy means is higher than the best of 3 even when the
configurations behind them are as good. A pruned study completes few trials, and its best
is compared with the best of a study without pruning that completed all of them
(`benchmarks/studies.py pruning`); that comparison mixes what the pruned study found with
how few trials it could choose among. Here the configuration each study chose
(trials/N/config.yaml, its resolved spec) is run again as a study of that one trial, once
per `--split-seed S` (data.split_seed = training.seed = S: other folds, other
initialisation and batches; a data set's official test split stays, a carved one moves
with the seed), without pruning. The
mean of those runs' validation values estimates what the configuration scores on this data,
not what it scored where it was chosen; their test scores are the chosen model's, retrained.

`--from` is read as by `studies.py pruning --from`: one label must be none, and a label
given again is the next sampler seed, paired in order with the none runs. A configuration
chosen by several studies (the same model and training) is run once.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.studies import (  # noqa: E402
    chosen_test_score,
    epochs_trained,
    finish,
    group_by_seed,
    journal_study,
    labelled_studies,
    standard_error,
    sweep_run,
)

# a run of one configuration: its spec's own (the reference trial), nothing pruned or cut
RUN_SETS = (
    "search.pruner.name=none",
    "search.budget=null",
    "search.selection.final=model",
    "search.enqueue=[]",
    "training.threads=1",
)


def chosen_configuration(folder: Path) -> tuple[int, dict]:
    """The trial a study chose (tested): its number and its resolved spec."""
    import yaml

    from sweep.results import StudyFolder

    number = StudyFolder(folder).best_trial_number()  # the trial the study tested
    return number, yaml.safe_load(StudyFolder(folder).trial(number).config.read_text())


def configuration_key(config: dict) -> str:
    """What makes two chosen configurations the same run: the data, the model and the
    training (not the seeds, which every run sets, nor the study's search)."""
    training = {k: v for k, v in config["training"].items() if k not in ("seed", "threads")}
    data = {k: v for k, v in config["data"].items() if k != "split_seed"}
    data["root"] = os.path.abspath(data["root"])  # ../data and /work/data: the same tracks
    return json.dumps([data, config["task"], config["model"], training], sort_keys=True)


def run_configuration(
    config: dict, sets: tuple[str, ...], folder: Path, data_root: Path | None
) -> Path:
    """`config` (a spec, as a dict) trained as a one-trial study with `RUN_SETS` and then
    `sets` (FIELD=VALUE, as `sweep run --set` takes them): the study's folder. A run already
    tested in `folder` is read, not run again (a kept folder given again)."""
    import yaml

    results = folder / "results"
    done = [p for p in results.glob("*") if (p / "test.json").is_file()]
    if not done:
        folder.mkdir(parents=True, exist_ok=True)
        spec = folder / "config.yaml"
        spec.write_text(yaml.safe_dump(config, sort_keys=False))
        root = [] if data_root is None else ["--data-root", str(data_root)]
        finish(
            sweep_run(
                spec,
                results,
                "--trials",
                "1",
                *root,
                *(a for s in (*RUN_SETS, *sets) for a in ("--set", s)),
                log_file=folder / "run.log",
            )
        )
        done = [p for p in results.glob("*") if (p / "test.json").is_file()]
    return done[0]


def run_on_split(config: dict, split_seed: int, folder: Path, data_root: Path | None) -> dict:
    """`config` trained on the folds of `split_seed` (and with it as its training seed): its
    validation value, its test score and its epochs."""
    done = run_configuration(
        config,
        (f"data.split_seed={split_seed}", f"training.seed={split_seed}"),
        folder,
        data_root,
    )
    return {
        "validation": journal_study(done).best_value,
        "test": chosen_test_score(done),
        "epochs": epochs_trained(done),
    }


def revalidate(
    seeds: list[dict[str, Path]],
    split_seeds: tuple[int, ...],
    work: Path,
    data_root: Path | None = None,
    jobs: int = 1,
    log=None,
) -> dict:
    """Every study's chosen configuration run once per split seed (each distinct
    configuration once, `jobs` runs at a time, each in `work`/<its key's hash>/split<S>),
    then, per sampler seed and over the seeds, each label's mean against none's."""
    chosen = [
        {label: (folder, *chosen_configuration(folder)) for label, folder in studies.items()}
        for studies in seeds
    ]
    configs = {configuration_key(c): c for studies in chosen for _, _, c in studies.values()}
    tasks = [(key, s) for key in configs for s in split_seeds]
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))

    def run(task: tuple[str, int]) -> dict:
        key, s = task
        place = work / hashlib.sha1(key.encode()).hexdigest()[:12] / f"split{s}"
        backbone = configs[key]["model"]["backbone"]
        log(f"  {backbone} configuration in {place.parent.name}, split seed {s}")
        return run_on_split(configs[key], s, place, data_root)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        ran = dict(zip(tasks, pool.map(run, tasks), strict=True))
    per_seed = []
    for studies in chosen:
        figures = {}
        for label, (folder, number, config) in studies.items():
            again = [ran[(configuration_key(config), s)] for s in split_seeds]
            figures[label] = {
                "folder": str(folder),
                "trial": number,
                "backbone": config["model"]["backbone"],
                "best_validation": journal_study(folder).best_value,
                "revalidated": [r["validation"] for r in again],
                "mean_revalidated": float(np.mean([r["validation"] for r in again])),
                "retested": [r["test"] for r in again],
                "mean_retested": _mean([r["test"] for r in again]),
                "epochs": sum(r["epochs"] for r in again),
            }
        off = figures["none"]
        for f in figures.values():
            f["selection_lift"] = f["best_validation"] - f["mean_revalidated"]
            f["revalidated_difference"] = f["mean_revalidated"] - off["mean_revalidated"]
            f["retested_difference"] = _difference(f["mean_retested"], off["mean_retested"])
        per_seed.append(figures)
    over = {}
    for label in per_seed[0]:
        rows = [figures[label] for figures in per_seed]
        differences = [r["revalidated_difference"] for r in rows]
        tests = [r["retested_difference"] for r in rows]
        over[label] = {
            "seeds": len(rows),
            "mean_revalidated": float(np.mean([r["mean_revalidated"] for r in rows])),
            "mean_revalidated_difference": float(np.mean(differences)),
            "revalidated_difference_se": standard_error(differences),
            "mean_selection_lift": float(np.mean([r["selection_lift"] for r in rows])),
            "mean_retested_difference": _mean(tests),
            "retested_difference_se": None if None in tests else standard_error(tests),
        }
    return {"split_seeds": list(split_seeds), "per_seed": per_seed, "over_seeds": over}


def _mean(values: list) -> float | None:
    return None if None in values else float(np.mean(values))


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--from",
        dest="studies",
        action="append",
        required=True,
        metavar="LABEL=FOLDER",
        help="a study folder (one label must be none; a label again: the next seed)",
    )
    parser.add_argument(
        "--split-seed",
        type=int,
        action="append",
        required=True,
        help="the folds and training seed of one run of each configuration (again for more)",
    )
    parser.add_argument("--data-root", type=Path, help="the data, if not the studies' own")
    parser.add_argument(
        "--keep", type=Path, help="keep the runs in this folder (runs already there are read)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (one thread each)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    try:
        seeds = group_by_seed(labelled_studies(parser, args.studies))
    except ValueError as e:
        parser.error(str(e))
    data_root = args.data_root.resolve() if args.data_root else None
    kept = contextlib.nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory()
    with kept as work:
        out = revalidate(seeds, tuple(args.split_seed), Path(work), data_root, args.jobs)
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
