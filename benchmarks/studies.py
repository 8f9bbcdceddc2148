"""Benchmarks of whole studies: pruning, workers, and model quality per CPU budget.

    python3 benchmarks/studies.py pruning --data-root ../shared/data/emotify
    python3 benchmarks/studies.py workers
    python3 benchmarks/studies.py quality --data-root ../shared/data/emotify --minutes 20

- pruning: one spec and trial budget run with the pruner off, with the spec's own pruner
  and with three others (same sampler seed): the epochs trained in all (every fold of every
  trial, from the trials' curves.json), the best validation value of each and the test
  score of the model it chose. `--seed N --seed M ...` runs them all once per sampler
  seed and sums over the seeds too (one run's best moves by about the target's
  tolerance). `--from none=DIR --from LABEL=DIR ...` gives the same figures for study
  folders already run (with `--keep`, or by `sweep run`; a label again: another seed);
  `benchmarks/pruning_replay.py` replays other pruners on the curves of the one without
  pruning.
- workers: trials per hour of wall time from scratch (start-up and final test included) with
  --workers 1 and --workers 2: on trials of equal cost on the real data (genre_all_beat's
  reference LSTM, 4 epochs each), and on the quick start's demo spec.
- quality: the three specs to run for the best model (QUALITY_RUNS: genre_full on
  emotify_full, genre_all_beat and multitask on emotify), each given `search.budget` CPU
  minutes, one after another on both cores. For each: the best trial's and the ensemble's
  test score, the reference configuration's (the study's trial 0, selected and tested the
  same way), and the pooled-features baseline, all on the study's own split; and the 95%
  paired bootstrap interval of each tested model minus the baseline (per axis too, for
  emotion), from the study's test_outputs.npz.

Each `run_*` function returns a dict; `benchmarks/suite.py` runs them all.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def sweep_run(
    spec: Path | str, results: Path, *args: str, env=None, log_file: Path | None = None
) -> subprocess.Popen:
    """`sweep run` in a process; its output piped back, or appended to `log_file` (to be
    followed while it runs)."""
    command = [sys.executable, "-m", "sweep", "run", str(spec), "--results", str(results)]
    out = subprocess.PIPE if log_file is None else open(log_file, "w")  # noqa: SIM115
    return subprocess.Popen(
        [*command, *args],
        cwd=REPO,
        stdout=out,
        stderr=subprocess.STDOUT if log_file is not None else subprocess.PIPE,
        text=True,
        env=env,
    )


def finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate()
    if proc.returncode != 0:
        tail = (err or "")[-2000:] if proc.stderr is not None else "see its log"
        raise RuntimeError(f"{' '.join(proc.args)} failed ({proc.returncode}): {tail}")
    return out or ""


def journal_study(folder: Path):
    import optuna

    from sweep.storage import open_storage

    return optuna.load_study(study_name=folder.name, storage=open_storage(None, folder))


def epochs_trained(folder: Path) -> int:
    """Every epoch of every trial (all folds), as recorded in the trials' curves.json."""
    from sweep.results import StudyFolder

    return sum(len(t.read_curves()) for t in StudyFolder(folder).trial_folders())


# ----------------------------------------------------------------------------- pruning


# the spec's own first; "name:field=value,..." is that pruner with those settings
PRUNERS = (
    "successive_halving",
    "successive_halving:min_resource=1,reduction_factor=4",
    "auto",
    "hyperband",
)


def pruner_sets(label: str) -> list[str]:
    """The --set arguments of a PRUNERS entry."""
    name, _, settings = label.partition(":")
    sets = ["--set", f"search.pruner.name={name}"]
    for setting in filter(None, settings.split(",")):
        sets += ["--set", f"search.pruner.{setting}"]
    return sets


PRUNING_OVERRIDES = ("search.selection.folds=1", "search.budget=null")


def run_pruning(
    data_root: Path,
    spec: str = "specs/genre_all_beat.yaml",
    trials: int = 16,
    overrides: tuple[str, ...] = PRUNING_OVERRIDES,
    pruners: tuple[str, ...] = PRUNERS,
    keep: Path | None = None,
    seeds: tuple[int, ...] = (),
) -> dict:
    """The same spec and trial budget with the pruner off and with each of `pruners` (at
    their default settings; the first is the spec's own, which the target is about). All
    studies run at once, one core-share and one torch thread each: the epochs, not the
    wall time, are the measure. `keep`: a folder to keep the studies in (run0 is the one
    without pruning, whose curves `benchmarks/pruning_replay.py` replays other pruners on).
    `seeds`: sampler seeds, each a run of every pruner (`pruning_over_seeds`); none: the
    spec's own seed, once."""
    out: dict = {"spec": spec, "trials": trials, "overrides": list(overrides)}
    sets = [a for o in (*overrides, "training.threads=1") for a in ("--set", o)]
    labels = ("none", *pruners)
    runs = [
        (label, seed, f"run{i}" + ("" if seed is None else f"-seed{seed}"))
        for seed in (seeds or (None,))
        for i, label in enumerate(labels)
    ]
    kept = contextlib.nullcontext(str(keep)) if keep else tempfile.TemporaryDirectory()
    with kept as tmp:
        started = time.perf_counter()
        procs = [
            sweep_run(
                REPO / spec,
                Path(tmp) / name,
                "--data-root",
                str(data_root),
                "--trials",
                str(trials),
                *sets,
                *pruner_sets(label),
                *([] if seed is None else ["--set", f"search.sampler.seed={seed}"]),
            )
            for label, seed, name in runs
        ]
        for proc in procs:
            finish(proc)
        folders = [
            (label, next(p for p in (Path(tmp) / name).iterdir() if p.is_dir()))
            for label, _, name in runs
        ]
        if seeds:
            out.update(pruning_over_seeds(folders))
            out["seeds"] = list(seeds)
        else:
            out["runs"] = pruning_figures(dict(folders))
        out["wall_s"] = time.perf_counter() - started
    figures = out["over_seeds"] if seeds else out["runs"]
    out["target_met"] = figures[pruners[0]]["target_met"]
    return out


def pruning_figures(folders: dict[str, Path]) -> dict:
    """Each study's epochs (every fold of every trial), best validation value and trial
    counts, against the one labelled "none" (run without pruning): the figures of
    `run_pruning`, also for studies run by hand (`pruning --from LABEL=FOLDER`).

    `test` is the test score of the model the study chose (its test.json), when it has one.
    It is the fairer of the two comparisons: a study that completes 3 trials reports the
    best of 3 noisy validation means, one that completes 20 the best of 20, which is
    higher by selection alone; the test split is the same for both. `unlike_none` says how
    a study ran otherwise than the one without pruning (`unlike_setups`): code, packages or
    processor, which move a trial's numbers by themselves."""
    runs = {}
    for label, folder in folders.items():
        study = journal_study(folder)
        states = [t.state.name for t in study.trials]
        runs[label] = {
            "epochs": epochs_trained(folder),
            "best_validation": study.best_value,
            "test": chosen_test_score(folder),
            "complete": states.count("COMPLETE"),
            "pruned": states.count("PRUNED"),
            "cpu_s": sum(t.user_attrs.get("cpu_seconds", 0.0) for t in study.trials),
        }
    off = runs["none"]
    for label, run_ in runs.items():
        run_["unlike_none"] = unlike_setups(folders["none"], folders[label])
        run_["epoch_reduction"] = off["epochs"] / max(run_["epochs"], 1)
        run_["best_difference"] = run_["best_validation"] - off["best_validation"]
        run_["test_difference"] = (
            None if None in (run_["test"], off["test"]) else run_["test"] - off["test"]
        )
        run_["target_met"] = run_["epoch_reduction"] >= 3 and run_["best_difference"] >= -0.01
    return runs


# what a study's numbers depend on besides its spec and seeds (environment.json): the same
# command trained the same reference configuration to 0.656 on one lab machine and to 0.650
# on another (2026-12-02), so only studies run alike are paired
SETUP_KEYS = ("git_revision", "packages", "python", "cpu", "cpu_capability")


def unlike_setups(off: Path, other: Path) -> list[str]:
    """How the study `other` ran differently from `off` (its environment.json): an empty list
    for a like-for-like pair; a study that recorded no environment is said as such."""
    from sweep.results import StudyFolder

    setups = [StudyFolder(f).read_json(StudyFolder(f).environment) for f in (off, other)]
    if not all(isinstance(setup, dict) for setup in setups):
        return ["no readable environment.json to compare"]
    return [
        f"{key}: {setups[1].get(key)} against {setups[0].get(key)}"
        for key in SETUP_KEYS
        if setups[0].get(key) != setups[1].get(key)
    ]


def chosen_test_score(folder: Path) -> float | None:
    """The test value, in the study's own metric, of the model the study chose (None before
    its test, or for a metric its test.json does not give as one number)."""
    from sweep.results import StudyFolder
    from sweep.specfile import load_spec

    study = StudyFolder(folder)
    value = study.read_test().get("best", {}).get(load_spec(study.spec).metric)
    return float(value) if isinstance(value, (int, float)) else None


def pruning_over_seeds(folders: list[tuple[str, Path]]) -> dict:
    """The figures of several runs of each pruner, one per sampler seed: the k-th folder of
    each label is seed k, paired with the k-th "none". Per label, besides each seed's
    figures: the epochs of all seeds against those of all "none" runs, and the mean of the
    differences in best validation value and in test score. One run's best moves by about
    the tolerance from run to run, so the target is judged on the means; the standard
    error of the mean best difference says how far that mean can be trusted."""
    per_seed = [pruning_figures(studies) for studies in group_by_seed(folders)]
    seeds = len(per_seed)
    summary = {}
    for label in per_seed[0]:
        runs_ = [figures[label] for figures in per_seed]
        tests = [r["test_difference"] for r in runs_]
        summary[label] = {
            "seeds": seeds,
            "epochs": sum(r["epochs"] for r in runs_),
            "epoch_reduction": sum(f["none"]["epochs"] for f in per_seed)
            / max(sum(r["epochs"] for r in runs_), 1),
            "mean_best_validation": float(np.mean([r["best_validation"] for r in runs_])),
            "mean_best_difference": float(np.mean([r["best_difference"] for r in runs_])),
            "best_difference_se": standard_error([r["best_difference"] for r in runs_]),
            "mean_test": None if None in tests else float(np.mean([r["test"] for r in runs_])),
            "mean_test_difference": None if None in tests else float(np.mean(tests)),
            "like_for_like": not any(r["unlike_none"] for r in runs_),
        }
        s = summary[label]
        s["target_met"] = s["epoch_reduction"] >= 3 and s["mean_best_difference"] >= -0.01
    return {"per_seed": per_seed, "over_seeds": summary}


def labelled_studies(parser: argparse.ArgumentParser, items: list[str]) -> list[tuple[str, Path]]:
    """`--from LABEL=FOLDER` items as (label, folder) pairs, or the parser's one-line error
    (exit 2) for an item that is not LABEL=FOLDER, no label none, or a folder with no study."""
    if any("=" not in item for item in items) or not any(i.startswith("none=") for i in items):
        parser.error("--from takes LABEL=FOLDER, and one LABEL must be none")
    pairs = [item.split("=", 1) for item in items]
    for _, folder in pairs:  # not opened as a storage: that would make the folder
        if not (Path(folder) / "optuna.journal").is_file():
            parser.error(f"--from: {folder}: not a study folder (no optuna.journal)")
    return [(label, Path(folder)) for label, folder in pairs]


def group_by_seed(folders: list[tuple[str, Path]]) -> list[dict[str, Path]]:
    """Labelled study folders as one {label: folder} per sampler seed: the k-th folder of
    each label is seed k (`--from LABEL=FOLDER`, a label given again being the next seed).

    Raises:
        ValueError: a label with more or fewer folders than none.
    """
    labels: dict[str, list[Path]] = {}
    for label, folder in folders:
        labels.setdefault(label, []).append(folder)
    seeds = len(labels["none"])
    if any(len(f) != seeds for f in labels.values()):
        raise ValueError("--from: give every label as many folders as none (one per seed)")
    return [{label: f[k] for label, f in labels.items()} for k in range(seeds)]


def standard_error(values: list[float]) -> float | None:
    """The standard error of the mean of `values` (None for fewer than two)."""
    if len(values) < 2:
        return None
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))


# ----------------------------------------------------------------------------- workers


def demo_data(folder: Path) -> Path:
    """The quick start's demo data (written once: `sweep data demo` keeps an existing one)."""
    subprocess.run(
        [sys.executable, "-m", "sweep", "data", "demo", str(folder)],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    return folder


def equal_trials_spec(folder: Path, data_root: Path, epochs: int = 4) -> Path:
    """genre_all_beat's reference LSTM on the real data, `epochs` epochs a trial, no pruning
    and no early stopping, only the learning rate searched: every trial costs the same, so
    a rate of trials measures the workers, not which configurations the sampler drew."""
    import yaml

    raw = yaml.safe_load((REPO / "specs/genre_all_beat.yaml").read_text())
    raw["study"] = "equal_trials"
    raw["data"]["root"] = str(data_root)
    raw["training"].update(max_epochs=epochs, patience=None)
    raw["search"].update(
        pruner={"name": "none"},
        selection={"folds": 1},
        space={"training.lr": {"low": 1.0e-5, "high": 3.0e-3, "log": True}},
    )
    path = folder / "equal_trials.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run_workers(
    data_root: Path, demo_root: Path, trials: int = 10, workers: tuple[int, ...] = (1, 2)
) -> dict:
    """Trials per hour, from scratch (start-up and the final test included), with 1 and 2
    worker processes, on two workloads: trials of equal cost on the real data (the
    measure the target is about), and the quick start's demo spec, whose trials last about
    half a second (what process start-up and storage cost per trial)."""
    out: dict = {"cpus": os.cpu_count(), "workloads": {}}
    with tempfile.TemporaryDirectory() as tmp:
        workloads = {
            "equal_trials": (equal_trials_spec(Path(tmp), data_root), data_root, trials),
            "demo": (REPO / "specs/demo.yaml", demo_root, 20),
        }
        for name, (spec, root, n_trials) in workloads.items():
            runs: dict = {}
            for n in workers:
                results = Path(tmp) / f"{name}-w{n}"
                started = time.perf_counter()
                finish(
                    sweep_run(
                        spec,
                        results,
                        "--data-root",
                        str(root),
                        "--trials",
                        str(n_trials),
                        "--workers",
                        str(n),
                    )
                )
                wall = time.perf_counter() - started
                study = journal_study(next(p for p in results.iterdir() if p.is_dir()))
                finished = sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials)
                runs[n] = {
                    "wall_s": wall,
                    "finished_trials": finished,
                    "trials_per_hour": finished / wall * 3600,
                }
            workload = {"trials": n_trials, "runs": runs}
            if 1 in runs and 2 in runs:
                workload["speedup"] = runs[2]["trials_per_hour"] / runs[1]["trials_per_hour"]
            out["workloads"][name] = workload
    speedup = out["workloads"]["equal_trials"].get("speedup")
    out["target_met"] = None if speedup is None else speedup >= 1.6
    return out


# ----------------------------------------------------------------------------- quality


# (spec, data folder under shared/data): the studies issue 12 judges, each on its own data
QUALITY_RUNS = (
    ("specs/genre_full.yaml", "emotify_full"),  # full resolution, 256 train / 64 test
    ("specs/genre_all_beat.yaml", "emotify"),  # beat-synchronised, 320 / 80
    ("specs/multitask.yaml", "emotify"),  # valence, energy, danceability
)


def run_quality(
    shared_data: Path,
    minutes: float = 15,
    runs=QUALITY_RUNS,
    workers: int = 2,
    log=print,
    sets: tuple[str, ...] = (),
    keep: Path | None = None,
) -> dict:
    """Each spec with a CPU budget of `minutes`, one after another, each on `workers`
    processes of one thread (the machine's cores): the best trial, the ensemble of trials
    (where the spec's `final` is ensemble_selection) and each backbone family's best trial
    against the reference trial and the pooled-features baseline, on the study's own split.
    `sets`: more `--set` overrides for every run; `keep`: a folder to keep the studies in
    (else a temporary one)."""
    from sweep.data import prepare
    from sweep.report.baseline import run_baseline
    from sweep.report.study_data import study_split_spec
    from sweep.results import StudyFolder
    from sweep.spec import Spec

    out: dict = {"minutes": minutes, "workers": workers, "specs": {}}
    logs = Path(tempfile.gettempdir()) / "sweep-quality-logs"
    logs.mkdir(exist_ok=True)
    kept = contextlib.nullcontext(str(keep)) if keep else tempfile.TemporaryDirectory()
    with kept as tmp:
        started = time.perf_counter()
        for spec, data_name in runs:
            data_root = Path(shared_data) / data_name
            results = Path(tmp) / Path(spec).stem
            wall = time.perf_counter()
            log_file = logs / f"{Path(spec).stem}.log"
            log(f"  {spec}: sweep run's output in {log_file}")
            finish(
                sweep_run(
                    REPO / spec,
                    results,
                    "--data-root",
                    str(data_root),
                    "--workers",
                    str(workers),
                    "--set",
                    f"search.budget={minutes}",
                    "--set",
                    "search.n_trials=100000",
                    "--set",
                    "training.threads=1",
                    *(arg for s in sets for arg in ("--set", s)),
                    log_file=log_file,
                )
            )
            wall = time.perf_counter() - wall
            folder = next(p for p in results.iterdir() if p.is_dir())
            test = StudyFolder(folder).read_test()
            study = journal_study(folder)
            raw = study.user_attrs["spec"]
            split = study_split_spec(Spec.model_validate(raw).resolved_data, folder, data_root)
            data = prepare(split)
            baseline = run_baseline(data)
            states = [t.state.name for t in study.trials if not t.user_attrs.get("surplus")]
            cpu = sum(t.user_attrs.get("cpu_seconds", 0.0) for t in study.trials)
            best, reference = test["best"], test.get("reference", {})
            metric = "accuracy" if data.task == "classification" else "spearman"
            row = {
                "study": folder.name,
                "data": data_name,
                "wall_minutes": wall / 60,
                "trials": len(states),
                "complete": states.count("COMPLETE"),
                "pruned": states.count("PRUNED"),
                "failed": states.count("FAIL"),
                "folds": study.user_attrs.get("folds"),
                "search_cpu_minutes": cpu / 60,
                "metric": metric,
                "test_n": best["n"],
                "best_trial": best["trial"],
                "best_backbone": _backbone_of(folder, best["trial"]),
                "best_validation": best["validation"],
                "best_test": best[metric],
                "best_final": best.get("final"),
                "reference_test": reference.get(metric),
                "baseline_test": baseline.test[metric],
                "family_best": _family_best(study, folder, data, metric),
                "family_cost": _family_cost(study, folder),
                "best_params": best["params"],
            }
            ensemble = test.get("ensemble")
            if ensemble:
                row["ensemble_test"] = ensemble[metric]
                row["ensemble_validation"] = ensemble["validation"]
                # the members' refits (ensemble_refit) and tests, after the search's budget
                row["ensemble_refit"] = ensemble.get("refit", False)
                row["ensemble_cpu_minutes"] = ensemble.get("cpu_seconds", 0.0) / 60
                row["ensemble_members"] = [
                    {k: m.get(k) for k in ("trial", "weight", "backbone", "validation", metric)}
                    for m in ensemble["members"]
                ]
                if metric == "spearman":
                    row["ensemble_per_target"] = {
                        name: v["spearman"] for name, v in ensemble["per_target"].items()
                    }
            if metric == "spearman":
                row["per_target"] = {
                    name: {
                        "best": best["per_target"][name]["spearman"],
                        "reference": reference.get("per_target", {}).get(name, {}).get("spearman"),
                        "baseline": baseline.test["per_target"][name]["spearman"],
                    }
                    for name in data.target_names
                }
                row["beats_baseline_on_every_axis"] = all(
                    v["best"] > v["baseline"] for v in row["per_target"].values()
                )
            row["beats_reference"] = row["reference_test"] is not None and (
                row["best_test"] > row["reference_test"]
            )
            row["beats_baseline"] = row["best_test"] > row["baseline_test"]
            row["margin_over_baseline"] = row["best_test"] - row["baseline_test"]
            if ensemble:
                # the spec's own result (final: ensemble_selection), judged as the best trial is
                row["ensemble_margin_over_baseline"] = row["ensemble_test"] - row["baseline_test"]
                row["ensemble_beats_baseline"] = row["ensemble_test"] > row["baseline_test"]
                row["ensemble_beats_reference"] = row["reference_test"] is not None and (
                    row["ensemble_test"] > row["reference_test"]
                )
                if metric == "spearman":
                    row["ensemble_beats_baseline_on_every_axis"] = all(
                        row["ensemble_per_target"][name] > v["baseline"]
                        for name, v in row["per_target"].items()
                    )
            row["intervals_over_baseline"] = _intervals(folder, baseline, data, metric)
            log(
                f"  {spec} on {data_name}: {row['trials']} trials ({row['complete']} complete) "
                f"in {row['wall_minutes']:.1f} min; test {metric}: best {row['best_test']:.3f} "
                f"({row['best_backbone']}), ensemble {row.get('ensemble_test')}, reference "
                f"{row['reference_test']}, baseline {row['baseline_test']:.3f}"
                + "".join(
                    f"; {role} - baseline, 95% paired interval {low:+.3f} to {high:+.3f}"
                    for role, (low, high) in row["intervals_over_baseline"].items()
                    if role in ("best", "ensemble")
                )
            )
            out["specs"][spec] = row
        out["wall_s"] = time.perf_counter() - started
    return out


def _intervals(folder: Path, baseline, data, metric: str) -> dict[str, list[float]]:
    """The 95% paired bootstrap interval of each tested role minus the baseline on the test
    tracks (and of each axis, for regression): {role: [low, high], "<role> <axis>": ...};
    empty where the study kept no test outputs."""
    from sweep.report.baseline import interval_over
    from sweep.results import StudyFolder

    saved = StudyFolder(folder).read_test_outputs() or {}
    axes = list(enumerate(data.target_names)) if metric == "spearman" else []
    out = {}
    for role in ("best", "ensemble", "reference"):
        for axis, label in [(None, role)] + [(k, f"{role} {name}") for k, name in axes]:
            interval = interval_over(baseline, saved, role, data.task, metric, axis)
            if interval is not None:
                out[label] = list(interval)
    return out


def _backbone_of(folder: Path, number: int) -> str | None:
    import yaml

    from sweep.results import StudyFolder

    config = StudyFolder(folder).trial(number).config
    if not config.is_file():
        return None
    return yaml.safe_load(config.read_text())["model"]["backbone"]


def _family_cost(study, folder: Path) -> dict:
    """Where the budget went: per backbone family, its trials (complete ones too) and the
    CPU seconds they took, the reference included; the costliest family first."""
    cost: dict = {}
    for t in study.trials:
        if t.user_attrs.get("surplus") or t.state.name not in ("COMPLETE", "PRUNED"):
            continue
        family = t.params.get("model.backbone") or _backbone_of(folder, t.number)
        entry = cost.setdefault(family, {"trials": 0, "complete": 0, "cpu_seconds": 0.0})
        entry["trials"] += 1
        entry["complete"] += t.state.name == "COMPLETE"
        entry["cpu_seconds"] += t.user_attrs.get("cpu_seconds", 0.0)
    return dict(sorted(cost.items(), key=lambda item: -item[1]["cpu_seconds"]))


def _family_best(study, folder: Path, data, metric: str) -> dict:
    """Each backbone family's best complete trial by validation: its number, validation
    score and (a diagnostic: no trial was chosen on it) its own model's test score."""
    import torch

    from sweep.checkpoints import load_checkpoint, predict_checkpoint
    from sweep.metrics import evaluation_report
    from sweep.results import StudyFolder

    best: dict = {}
    sign = 1 if study.direction.name == "MAXIMIZE" else -1
    for t in study.trials:
        if t.state.name != "COMPLETE" or t.user_attrs.get("surplus"):
            continue
        family = _backbone_of(folder, t.number)
        if family not in best or sign * t.value > sign * best[family]["validation"]:
            best[family] = {"trial": t.number, "validation": t.value}
    test = data.test()
    names = data.class_names if data.task == "classification" else data.target_names
    for entry in best.values():
        path = StudyFolder(folder).trial(entry["trial"]).checkpoint
        if not path.is_file():
            continue
        model, ckpt = load_checkpoint(path)
        batch = ckpt["spec"]["training"]["batch_size"]
        outputs = predict_checkpoint(model, ckpt, data, test, batch, torch.device("cpu"))
        entry["test"] = evaluation_report(data.task, outputs, test.targets, names)[metric]
    return best


def refit_test(folder: Path, study, number: int, data) -> float:
    """A diagnostic beside the study's own test: the best trial's configuration refitted
    on train+validation (`final: refit`) and scored on the same test split, so that the
    two ways of testing a cross-validated trial are compared on the same trial."""
    import numpy as np
    import torch

    from sweep.checkpoints import load_checkpoint, predict_checkpoint
    from sweep.evaluate import refit_trial

    trial = next(t for t in study.trials if t.number == number)
    model, ckpt = load_checkpoint(refit_trial(folder, trial, None))
    test = data.test()
    batch = ckpt["spec"]["training"]["batch_size"]
    outputs = predict_checkpoint(model, ckpt, data, test, batch, torch.device("cpu"))
    return float(np.mean(outputs.argmax(axis=1) == test.targets))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("pruning", "workers", "quality"))
    parser.add_argument(
        "--data-root", type=Path, default=REPO.parent / "shared" / "data" / "emotify"
    )
    parser.add_argument("--minutes", type=float, default=15, help="quality: CPU minutes")
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--only", action="append", help="quality: run only these specs (e.g. genre_full)"
    )
    parser.add_argument(
        "--pruner",
        action="append",
        help="pruning: the pruners to compare with none, the spec's own first "
        "(name or name:field=value,...); default: " + ", ".join(PRUNERS),
    )
    parser.add_argument(
        "--set", action="append", default=[], help="quality, pruning: a --set for every run"
    )
    parser.add_argument(
        "--seed",
        type=int,
        action="append",
        default=[],
        help="pruning: a sampler seed (again for more): every pruner is run with each, and "
        "the figures are also given over the seeds; default: the spec's seed, once",
    )
    parser.add_argument(
        "--keep", type=Path, help="quality, pruning: keep the studies in this folder (a new one)"
    )
    parser.add_argument(
        "--from",
        dest="studies",
        action="append",
        metavar="LABEL=FOLDER",
        help="pruning: the figures of studies already run (one labelled none: no pruning); "
        "a label given again is another seed, paired in order with the none runs",
    )
    args = parser.parse_args()
    if args.what == "pruning" and args.studies:
        pairs = labelled_studies(parser, args.studies)
        labels = [label for label, _ in pairs]
        if len(set(labels)) == len(labels):
            out = {"runs": pruning_figures(dict(pairs))}
        else:
            try:
                out = pruning_over_seeds(pairs)
            except ValueError as e:
                parser.error(str(e))
        per_seed = out.get("per_seed") or [out["runs"]]
        for k, figures in enumerate(per_seed):
            for label, run_ in figures.items():
                if run_["unlike_none"]:
                    seed = f" (seed {k + 1} of {len(per_seed)})" if "per_seed" in out else ""
                    print(
                        f"warning: {label}{seed} did not run as none did: "
                        f"{'; '.join(run_['unlike_none'])}: their difference is not like for like",
                        file=sys.stderr,
                    )
    elif args.what == "pruning":
        overrides = (*PRUNING_OVERRIDES, *args.set)
        pruners = tuple(args.pruner) if args.pruner else PRUNERS
        out = run_pruning(
            args.data_root.resolve(),
            trials=args.trials or 16,
            overrides=overrides,
            pruners=pruners,
            keep=args.keep,
            seeds=tuple(args.seed),
        )
    elif args.what == "workers":
        with tempfile.TemporaryDirectory() as tmp:
            demo = demo_data(Path(tmp) / "demo")
            out = run_workers(args.data_root.resolve(), demo, trials=args.trials or 10)
    else:
        runs = [r for r in QUALITY_RUNS if not args.only or Path(r[0]).stem in args.only]
        out = run_quality(
            args.data_root.resolve().parent,
            args.minutes,
            runs,
            sets=tuple(args.set),
            keep=args.keep,
        )
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
