"""Does refitting an ensemble's members on train+validation pay? The same ensemble, both ways.

    python3 benchmarks/ensemble_members.py results/genre_all_beat/genre_all_beat \\
        --data-root ../shared/data/emotify

For a study that tested an ensemble of trials (`final: ensemble_selection`), the members
and weights its test chose (test.json) are tested twice on the study's own test split:

- *own models*: each member as the search trained it (its fold models' mean with folds),
  what `ensemble_refit: false` scores;
- *refitted*: each member's configuration trained again on train+validation for its best
  epoch with the search's learning-rate schedule (`sweep.evaluate.refit_model`), what
  `ensemble_refit: true` scores.

The pooled-features baseline is printed beside them. Nothing is written into the study:
refits stay in memory. --json writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import optuna
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # runnable as a script from a checkout
    sys.path.insert(0, str(REPO))

from benchmarks.studies import journal_study  # noqa: E402
from sweep import ensemble, trials  # noqa: E402
from sweep.checkpoints import load_checkpoint, predict_checkpoint  # noqa: E402
from sweep.data import prepare  # noqa: E402
from sweep.evaluate import prepared_for, refit_model  # noqa: E402
from sweep.metrics import evaluation_report  # noqa: E402
from sweep.report.baseline import run_baseline  # noqa: E402
from sweep.report.study_data import study_split_spec  # noqa: E402
from sweep.results import StudyFolder  # noqa: E402
from sweep.spec import Spec  # noqa: E402
from sweep.train import set_threads  # noqa: E402


def summary(report: dict) -> float | dict[str, float]:
    """Accuracy, or the Spearman correlation of each target."""
    if "per_target" in report:
        return {name: round(v["spearman"], 4) for name, v in report["per_target"].items()}
    return round(report["accuracy"], 4)


def run(study_folder: Path, data_root: Path, threads: int | None = 2) -> dict:
    set_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    results = StudyFolder(study_folder)
    tested = results.read_test().get("ensemble")
    if not tested:
        raise SystemExit(f"{study_folder}: its test scored no ensemble of trials")
    spec = Spec.model_validate(yaml.safe_load((study_folder / "spec.yaml").read_text()))
    data = prepare(study_split_spec(spec.resolved_data, study_folder, data_root))
    test = data.test()
    names = data.class_names if data.task == "classification" else data.target_names
    study = journal_study(study_folder)
    by_number = {t.number: t for t in study.trials}
    init_from = study.user_attrs.get(trials.INIT_FROM)  # a transfer study's refits start there
    init_from = None if init_from is None else Path(init_from)
    prepared = {data.spec.model_dump_json(): data}
    weights = {m["trial"]: m["weight"] for m in tested["members"]}
    outputs: dict[str, dict[int, np.ndarray]] = {"own models": {}, "refitted": {}}
    members = []
    for number in weights:
        trial_dir = results.trial(number)
        model, ckpt = load_checkpoint(trial_dir.own_model())
        resolved = Spec.model_validate(yaml.safe_load(trial_dir.config.read_text()))
        # a trial may search the data (crops...): each member on its own, the study's split
        member_spec = study_split_spec(resolved.resolved_data, study_folder, data_root)
        member_data = prepared_for(member_spec, prepared)
        member_test = test if member_data is data else member_data.test()
        batch, cpu = resolved.training.batch_size, torch.device("cpu")
        outputs["own models"][number] = predict_checkpoint(
            model, ckpt, member_data, member_test, batch, cpu
        )
        best_epoch = by_number[number].user_attrs.get(trials.BEST_EPOCH)
        refit, _ = refit_model(
            resolved, member_data, best_epoch or resolved.training.max_epochs, init_from
        )
        outputs["refitted"][number] = predict_checkpoint(
            refit, {}, member_data, member_test, batch, cpu
        )
        members.append(
            {
                "trial": number,
                "weight": weights[number],
                "best_epoch": best_epoch,
                **{
                    way: summary(evaluation_report(data.task, o[number], test.targets, names))
                    for way, o in outputs.items()
                },
            }
        )
    scores = {
        way: summary(evaluation_report(data.task, ensemble.blend(weights, o), test.targets, names))
        for way, o in outputs.items()
    }
    baseline = run_baseline(data)
    return {
        "study": str(study_folder),
        "test_n": len(test),
        "as_tested": summary(tested),
        "refit_when_tested": tested.get("refit", False),
        **scores,
        "baseline": summary(baseline.test),
        "members": members,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path, help="a study's results folder (holds test.json)")
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = run(args.study, args.data_root, args.threads)
    print(f"{out['study']} ({out['test_n']} test tracks), {len(out['members'])} members:")
    print(f"  as its test scored it (refit {out['refit_when_tested']}): {out['as_tested']}")
    for way in ("own models", "refitted", "baseline"):
        print(f"  {way}: {out[way]}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    sys.exit(main())
