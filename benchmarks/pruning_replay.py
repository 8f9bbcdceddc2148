"""Pruners replayed on the curves of a study run without pruning: the same trials, in the
same order, each fed epoch by epoch to the engine's own pruner (sweep.pruning.make_pruner),
which stops it where it would have stopped it.

    python3 benchmarks/pruning_replay.py results/genre_all_beat \\
        --pruner successive_halving --pruner successive_halving:min_resource=1

The study must have been run with `search.pruner.name=none` (the curves of every trial
whole), on one validation split or on folds: a cross-validated trial is replayed as the
objective reports it, its first fold's epochs and then each fold's result (sweep.pruning).
For each pruner: the epochs trained, the reduction against no pruning, and the best
complete trial's validation value against no pruning's.

What a replay measures is how well the pruner judges trials from their first epochs: the
sampler drew the same configurations for every pruner. In a real study pruned trials also
change what the sampler draws next (`benchmarks/studies.py pruning` measures that, with
its run-to-run noise); a pruner that fails a replay fails there too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def recorded_trials(folder: Path) -> list[dict]:
    """Each trial that trained, in order: its number, whether pruning may stop it, and its
    validation metric per epoch of each fold (one list on one split)."""
    from sweep import trials
    from sweep.errors import SweepError
    from sweep.results import StudyFolder

    study = StudyFolder(folder)
    optuna_study = study.load_study()
    metric = optuna_study.user_attrs[trials.METRIC]
    by_number = {t.number: t for t in optuna_study.trials}
    if any(t.state == trials.STATES.PRUNED for t in optuna_study.trials):
        raise SweepError(f"{folder}: a study with pruned trials (their curves are cut short)")
    out = []
    for trial_folder in study.trial_folders():
        curves = trial_folder.read_curves()
        frozen = by_number[trial_folder.number]
        if not curves or frozen.state != trials.STATES.COMPLETE:
            continue
        folds: dict[int, list[float]] = {}
        for record in curves:
            folds.setdefault(record.get("fold", 0), []).append(record["val"][metric])
        out.append(
            {
                "number": trial_folder.number,
                "exempt": trials.exempt_from_pruning(frozen),
                "folds": [folds[f] for f in sorted(folds)],
            }
        )
    return out


def replay(spec, recorded: list[dict]) -> dict:
    """The epochs and best value of `recorded` under `spec`'s pruner."""
    import optuna

    from sweep.pruning import FOLD_STEP, make_pruner

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    k = len(recorded[0]["folds"])
    # the study's own name: Hyperband puts a trial in a bracket by hashing it with its number
    study = optuna.create_study(
        study_name=spec.study, direction=spec.direction, pruner=make_pruner(spec, folds=k)
    )
    best_of = max if spec.direction == "maximize" else min
    epochs, pruned_at, best = 0, {}, None
    for record in recorded:
        trial = study.ask()
        stopped, fold_values = None, []
        for fold, values in enumerate(record["folds"]):
            if fold == 0:  # one split, or the first fold: every epoch is reported
                for epoch, value in enumerate(values, start=1):
                    trial.report(value, epoch)
                    if trial.should_prune() and not record["exempt"]:
                        stopped = f"epoch {epoch}"
                        epochs += epoch
                        break
                if stopped:
                    break
            epochs += len(values)
            fold_values.append(best_of(values))
            if k > 1:
                trial.report(fold_values[-1], FOLD_STEP + fold)
                last = fold == k - 1
                if not last and trial.should_prune() and not record["exempt"]:
                    stopped = f"fold {fold + 1}"
                    break
        if stopped is None:
            final = sum(fold_values) / len(fold_values)
            study.tell(trial, final)
            best = final if best is None else best_of(best, final)
        else:
            pruned_at[record["number"]] = stopped
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    return {"epochs": epochs, "best": best, "pruned": len(pruned_at), "pruned_at": pruned_at}


def main() -> None:
    from benchmarks.studies import pruner_sets
    from sweep.results import StudyFolder
    from sweep.specfile import load_spec

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path, help="a study folder run with no pruner")
    parser.add_argument("--pruner", action="append", required=True, help="name[:field=value,...]")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from sweep.errors import SweepError

    try:
        recorded = recorded_trials(args.study)
    except SweepError as e:
        parser.error(str(e))
    if not recorded:
        parser.error(f"{args.study}: no complete trial with its curves to replay")
    spec_file = StudyFolder(args.study).spec
    off = replay(load_spec(spec_file, ["search.pruner.name=none"]), recorded)
    out = {
        "study": str(args.study),
        "trials": len(recorded),
        "folds": len(recorded[0]["folds"]),
        "none": off,
        "pruners": {},
    }
    for label in args.pruner:
        sets = pruner_sets(label)[1::2]
        run = replay(load_spec(spec_file, sets), recorded)
        run["epoch_reduction"] = off["epochs"] / max(run["epochs"], 1)
        run["best_difference"] = run["best"] - off["best"]
        out["pruners"][label] = run
        print(
            f"{label:60s} epochs {run['epochs']:4d} ({run['epoch_reduction']:.2f}x)  "
            f"best {run['best']:.4f} ({run['best_difference']:+.4f})  pruned {run['pruned']}"
        )
    print(f"{'none':60s} epochs {off['epochs']:4d}          best {off['best']:.4f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
