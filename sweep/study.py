"""An Optuna study per spec: storage, sampler, pruner, the reference trial, the trials' records.

    outcome = run_study(spec, results=Path("results"), n_trials=20)

Layout of `results/<study>/`:
    optuna.journal      the study (Optuna's journal file storage, unless --storage is given)
    spec.yaml           the spec as run, every default filled in
    environment.json    package versions, git revision, machine
    split.json          the track ids of every split
    trials/<n>/         config.yaml (the trial's resolved spec), curves.json, checkpoint.pt
    test.json           the best and the reference trial, evaluated once on the test split

Running a spec again continues its study: completed trials are kept, never redone, and the
trial budget counts for the whole study.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
import yaml

from sweep import selection, space
from sweep.data import PreparedData, prepare
from sweep.errors import SpecError, SweepError
from sweep.metrics import evaluation_report
from sweep.model import build_model
from sweep.pruning import FOLD_STEP, make_pruner
from sweep.results import FOLD_MODELS, REFIT, tested_as
from sweep.spec import DataSpec, SamplerSpec, Spec
from sweep.storage import fail_dead_trials, open_storage, redact, worker_id
from sweep.train import Diverged, EpochRecord, FitResult, fit, pick_device, predict
from sweep.transfer import adopt_source, load_backbone, resolve_checkpoint

CHECKPOINT_FORMAT = 1
STATES = optuna.trial.TrialState
FINISHED = (STATES.COMPLETE, STATES.PRUNED)
IN_BUDGET = (STATES.COMPLETE, STATES.PRUNED, STATES.RUNNING)  # what a new trial counts
WORKER_SEED_STRIDE = 1_000_003  # worker i's sampler seed: the run's seed + i * stride


class TrialFailed(Exception):
    """A trial that could not run to the end (out of memory...): recorded, the study goes on."""


class OverBudget(TrialFailed):
    """Workers started more trials at once than the budget had left: the later one is
    dropped before it trains (failed, tagged `surplus`, and never counted)."""


@dataclass
class StudyOutcome:
    study: optuna.Study
    folder: Path
    test: dict[str, Any] = field(default_factory=dict)  # "best"/"reference" -> report
    notes: list[str] = field(default_factory=list)  # what the run could not do, and why


# ----------------------------------------------------------------------------- the study


def study_folder(results: Path, spec: Spec) -> Path:
    return Path(results) / spec.study


def open_study(
    spec: Spec,
    folder: Path,
    storage: str | None = None,
    seed_offset: int | None = None,
    folds: int = 1,
) -> tuple[optuna.Study, bool]:
    """Create the spec's study, or load it to continue; refuses a study of another spec.

    Returns the study and whether this call created it. The sampler's seed is the spec's
    plus `seed_offset`; by default 0 for a new study (a fresh run is reproducible) and a
    random offset for a study that exists (a continued run, another machine or worker
    joining: the same seed everywhere would propose the same trials again).
    """
    folder.mkdir(parents=True, exist_ok=True)
    storage_obj = open_storage(storage, folder)
    fingerprint = _fingerprint(spec)
    try:
        existing = optuna.load_study(study_name=spec.study, storage=storage_obj)
    except KeyError:
        existing = None
    except Exception as e:  # a damaged journal, a database that went away...
        where = redact(storage) if storage else folder
        raise SweepError(f"storage {where}: {type(e).__name__}: {e}") from e
    if existing is not None:
        before = existing.user_attrs.get("spec_fingerprint")
        if before is not None and before != fingerprint:
            raise SpecError(
                f"study {spec.study!r} in {redact(storage) if storage else folder} was run "
                f"with a different spec; continuing it would mix configurations (give the "
                f"study another name, or use another --results folder)"
            )

    def create(offset: int, load: bool) -> optuna.Study:
        return optuna.create_study(
            study_name=spec.study,
            storage=storage_obj,
            direction=spec.direction,
            sampler=make_sampler(spec.search.sampler, spec, offset),
            pruner=make_pruner(spec, folds),
            load_if_exists=load,
        )

    joined = random_seed_offset() if seed_offset is None else seed_offset
    created = False
    if existing is not None:
        study = create(joined, load=True)
    else:
        try:  # the storage makes one creator, however many machines start at once
            study = create(0 if seed_offset is None else seed_offset, load=False)
            created = True
        except optuna.exceptions.DuplicatedStudyError:
            study = create(joined, load=True)
    if created:
        study.set_user_attr("spec_fingerprint", fingerprint)
        study.set_user_attr("metric", spec.metric)
        study.set_user_attr("spec", spec.model_dump(mode="json"))  # reports from any machine
        study.set_user_attr("folds", folds)
    return study, created


def random_seed_offset() -> int:
    """An offset no other process will draw (in practice): for samplers joining a study."""
    return int.from_bytes(os.urandom(4), "little") % (2**30)


def _fingerprint(spec: Spec) -> str:
    """What makes two runs the same study: the spec without its budget."""
    raw = spec.model_dump(mode="json")
    raw["search"].pop("n_trials")
    raw["search"].pop("timeout")
    raw["search"].pop("budget")
    raw["data"].pop("root")  # the same data may live in another folder on another machine
    raw["training"].pop("threads")  # where and how fast it runs, not what it computes
    raw["training"].pop("device")
    return json.dumps(raw, sort_keys=True)


def make_sampler(sampler: SamplerSpec, spec: Spec, offset: int = 0) -> optuna.samplers.BaseSampler:
    """The spec's sampler, its seed moved by `offset` (see `open_study`): a continued study
    or a joining worker must not replay the trials of the first run."""
    seed = None if sampler.seed is None else (sampler.seed + offset) % 2**32
    startup = (
        {} if sampler.n_startup_trials is None else {"n_startup_trials": sampler.n_startup_trials}
    )
    if sampler.name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, **startup)
    if sampler.name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if sampler.name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False, **startup)
    if sampler.name == "gp":
        return optuna.samplers.GPSampler(seed=seed, **startup)
    grid = {path: grid_values(param) for path, param in space.active_params(spec.search.space, {})}
    return optuna.samplers.GridSampler(grid, seed=seed)


def grid_values(param) -> list:
    if isinstance(param, space.CategoricalParam):
        return [space.encode(v) for v in param.values]
    step = param.step
    n = int(round((param.high - param.low) / step)) + 1
    return [param.low + i * step for i in range(n)]


def enqueue_reference(study: optuna.Study, spec: Spec) -> None:
    """The spec's own configuration is the study's first trial, tagged; enqueued again only
    when its earlier tries failed (an interrupted run), so the reference is always measured."""
    failed = optuna.trial.TrialState.FAIL
    if any(t.user_attrs.get("reference") and t.state != failed for t in study.trials):
        return
    values = space.reference_params(spec)
    study.enqueue_trial(space.enqueue_form(spec, values), user_attrs={"reference": True})


# ----------------------------------------------------------------------------- trials


class Objective:
    """Trains one trial's configuration; records its curves and best weights."""

    def __init__(
        self,
        spec: Spec,
        folder: Path,
        on_epoch: Callable | None = None,
        init_from: Path | None = None,
        budget: int | None = None,
        folds: int = 1,
        cpu_budget: float | None = None,
        keep_fold_models: bool = False,
    ) -> None:
        self.spec = spec
        self.folder = folder
        self.on_epoch = on_epoch  # progress display: (trial number, record, value)
        self.init_from = init_from  # transfer: the checkpoint the backbone starts from
        self.budget = budget  # trials of the whole study, all workers together
        self.folds = folds  # cross-validation folds per trial (1: the validation split)
        self.cpu_budget = cpu_budget  # CPU seconds of the whole study
        self.keep_fold_models = keep_fold_models  # final: ensemble (see sweep.selection)
        self.dropped = 0  # trials dropped before training (OverBudget)
        self.worker = worker_id()
        self._data: dict[str, PreparedData] = {}
        self._folds: dict[tuple, list[PreparedData]] = {}
        self._cpu_started = 0.0

    def data_for(self, data_spec: DataSpec) -> PreparedData:
        key = data_spec.model_dump_json()
        if key not in self._data:  # one load per distinct data configuration, not per trial
            self._data[key] = prepare(data_spec)
        return self._data[key]

    def keep_data(self, data_spec: DataSpec, data: PreparedData) -> None:
        """Data the caller has prepared already, for trials whose data spec is `data_spec`."""
        self._data[data_spec.model_dump_json()] = data

    def __call__(self, trial: optuna.Trial) -> float:
        started = time.perf_counter()
        self._cpu_started = cpu_started = time.process_time()
        trial.set_user_attr("worker", self.worker)  # tells a live trial from a dead worker's
        if self.budget is not None and not within_budget(trial, self.budget):
            trial.set_user_attr("surplus", True)
            trial.set_user_attr("reason", "over budget: other workers started the last trials")
            self.dropped += 1
            raise OverBudget(f"trial {trial.number} is over the budget of {self.budget}")
        if trial.user_attrs.get("reference") and _measured_elsewhere(trial):
            trial.set_user_attr("surplus", True)  # two runs started the study at once
            trial.set_user_attr("reason", "the reference is measured by another worker")
            self.dropped += 1
            raise OverBudget(f"trial {trial.number} repeats the reference trial")
        resolved = space.apply(self.spec, space.suggest(trial, self.spec.search.space))
        data = self.data_for(resolved.resolved_data)
        check_task(resolved, data)
        trial_dir = self.folder / "trials" / str(trial.number)
        trial_dir.mkdir(parents=True, exist_ok=True)
        (trial_dir / "config.yaml").write_text(spec_yaml(resolved))
        torch.manual_seed(resolved.training.seed)  # initial weights depend on the seed alone
        try:
            model = build(resolved, data)
        except (ValueError, TypeError) as e:  # a combination the component refuses
            trial.set_user_attr("reason", f"invalid configuration: {str(e).splitlines()[0]}")
            raise TrialFailed(str(e)) from e
        if self.init_from is not None:
            load_backbone(model, self.init_from)

        curves: list[dict] = []  # written whatever the outcome, pruned trials' too
        fold_models: list[dict] = []
        try:
            if self.folds > 1:
                result, model, fold_models = self._cross_validate(
                    trial, resolved, data, model, curves
                )
            else:
                result = self._fit(trial, resolved, data, model, curves, fold=None)
        except optuna.TrialPruned:
            if "reason" not in trial.user_attrs:
                trial.set_user_attr("reason", "pruned by the pruner")
            raise
        except Diverged as e:
            trial.set_user_attr("reason", f"diverged: {e}")
            raise optuna.TrialPruned(str(e)) from e
        except (torch.OutOfMemoryError, MemoryError) as e:
            trial.set_user_attr("reason", f"out of memory: {str(e).splitlines()[0][:200]}")
            raise TrialFailed(str(e)) from e
        finally:
            trial.set_user_attr("wall_seconds", time.perf_counter() - started)
            trial.set_user_attr("cpu_seconds", time.process_time() - cpu_started)
            trial.set_user_attr("epochs", len(curves))  # every epoch trained, all folds
            (trial_dir / "curves.json").write_text(json.dumps(curves, indent=1))
        save_checkpoint(trial_dir / "checkpoint.pt", resolved, data, model, result)
        if fold_models and _may_be_tested(trial, result, resolved.direction):
            save_checkpoint(trial_dir / FOLD_MODELS, resolved, data, model, result, fold_models)
        trial.set_user_attr("best_epoch", result.best_epoch)
        trial.set_user_attr("stopped_early", result.stopped_early)
        return result.best_value

    def _fit(
        self,
        trial: optuna.Trial,
        spec: Spec,
        data: PreparedData,
        model: torch.nn.Module,
        curves: list[dict],
        fold: int | None,
    ) -> FitResult:
        """Train one model. With one validation split, and in the first fold, every epoch
        is a pruner report (see sweep.pruning); `_cross_validate` reports each fold's result."""

        def report(record: EpochRecord, value: float) -> None:
            curves.append({**vars(record), **({} if fold is None else {"fold": fold})})
            if self.on_epoch is not None:
                self.on_epoch(trial.number, record, value)
            if not fold:  # None (one split) or the first fold
                trial.report(value, record.epoch)
                if trial.should_prune():
                    where = "" if fold is None else " of the first fold"
                    raise optuna.TrialPruned(f"pruned at epoch {record.epoch}{where}")
            if self.cpu_budget is not None:  # other workers count it before it ends
                spent = time.process_time() - self._cpu_started
                trial.set_user_attr("cpu_seconds_so_far", spent)
                # the budget holds to an epoch: a trial running when it is spent stops
                # (pruned), except the reference, which is always measured to its end
                if not trial.user_attrs.get("reference") and (
                    cpu_spent(trial.study) >= self.cpu_budget
                ):
                    trial.set_user_attr("reason", "stopped: the study's CPU budget is spent")
                    raise optuna.TrialPruned("the study's CPU budget is spent")

        return fit(model, data, spec.training, spec.metric, spec.direction, on_epoch=report)

    def _cross_validate(
        self,
        trial: optuna.Trial,
        spec: Spec,
        data: PreparedData,
        model: torch.nn.Module,
        curves: list[dict],
    ) -> tuple[FitResult, torch.nn.Module, list[dict]]:
        """One model per fold, each from the same initial weights; the trial's value is the
        mean of the folds' best values. Returns the best fold's result and model, and every
        fold's best weights where they are kept (`keep_fold_models`; else an empty list)."""
        initial = {k: v.clone() for k, v in model.state_dict().items()}
        values, epochs, best, weights_per_fold = [], [], None, []
        for fold, fold_data in enumerate(self.folds_of(data)):
            if fold:
                model.load_state_dict(initial)
            result = self._fit(trial, spec, fold_data, model, curves, fold)
            values.append(result.best_value)
            epochs.append(result.best_epoch)
            trial.report(result.best_value, FOLD_STEP + fold)
            trial.set_user_attr("fold_values", values)
            trial.set_user_attr("fold_best_epochs", epochs)
            better = best is None or _better(spec.direction, result.best_value, best[0].best_value)
            if self.keep_fold_models or better:
                weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                if self.keep_fold_models:
                    weights_per_fold.append(weights)
                if better:
                    best = (result, weights)
            if fold < self.folds - 1 and trial.should_prune():
                raise optuna.TrialPruned(f"pruned after fold {fold + 1} of {self.folds}")
        result, weights = best
        model.load_state_dict(weights)
        return (
            dataclasses.replace(
                result,
                best_value=float(np.mean(values)),
                best_epoch=int(round(np.mean(epochs))),
            ),
            model,
            weights_per_fold,
        )

    def folds_of(self, data: PreparedData) -> list[PreparedData]:
        key = (id(data), self.folds)
        if key not in self._folds:
            self._folds[key] = selection.folds(data, self.folds)
        return self._folds[key]


def _better(direction: str, a: float, b: float) -> bool:
    return a > b if direction == "maximize" else a < b


def _may_be_tested(trial: optuna.Trial, result: FitResult, direction: str) -> bool:
    """Whether a trial ending now could be the one tested: the reference, or better than
    every trial complete so far (so the study's best always keeps its fold models)."""
    if trial.user_attrs.get("reference"):
        return True
    try:
        best = trial.study.best_value
    except ValueError:  # nothing complete yet
        return True
    return not _better(direction, best, result.best_value)


def cpu_spent(study: optuna.Study) -> float:
    """CPU seconds the study has used: finished trials, plus running trials so far."""
    total = 0.0
    for t in study.get_trials(deepcopy=False):
        if t.state == STATES.RUNNING:
            total += t.user_attrs.get("cpu_seconds_so_far", 0.0)
        else:
            total += t.user_attrs.get("cpu_seconds", 0.0)
    return total


def _measured_elsewhere(trial: optuna.Trial) -> bool:
    """Whether a reference trial numbered before this one is running or done: runs that
    open a new study at once each enqueue the reference, and the first one measures it."""
    return any(
        t.number < trial.number and t.user_attrs.get("reference") and t.state != STATES.FAIL
        for t in trial.study.get_trials(deepcopy=False)
    )


def within_budget(trial: optuna.Trial, budget: int) -> bool:
    """Whether fewer than `budget` trials numbered before this one count (complete, pruned
    or running): trial numbers are handed out by the storage, so every worker agrees."""
    ahead = trial.study.get_trials(deepcopy=False, states=IN_BUDGET)
    return sum(t.number < trial.number for t in ahead) < budget


def counted(study: optuna.Study) -> int:
    """Trials that count for the budget: complete or pruned."""
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def check_task(spec: Spec, data: PreparedData) -> None:
    wanted = "classification" if spec.task.kind == "classification" else "regression"
    if data.task != wanted:
        raise SpecError(
            f"task.kind {spec.task.kind!r} needs a {wanted} data set, but "
            f"{spec.data.dataset!r} is {data.task}"
        )


def n_outputs(data: PreparedData) -> int:
    return len(data.class_names) if data.task == "classification" else len(data.target_names)


def build(spec: Spec, data: PreparedData) -> torch.nn.Module:
    model = build_model(
        spec.model.backbone,
        spec.head,
        data.n_features,
        n_outputs(data),
        spec.model.backbone_params,
        spec.model.head_params,
    )
    head_task = getattr(model.head, "task", None)
    wanted = "classification" if spec.task.kind == "classification" else "regression"
    if head_task is not None and head_task != wanted:
        raise SpecError(
            f"model.head {spec.head!r} is a {head_task} head, but task.kind is {spec.task.kind!r}"
        )
    return model


def spec_yaml(spec: Spec) -> str:
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)


# ----------------------------------------------------------------------------- checkpoints


def save_checkpoint(
    path: Path,
    spec: Spec,
    data: PreparedData,
    model: torch.nn.Module,
    result: FitResult,
    fold_models: list[dict] | None = None,
) -> None:
    """Best weights plus everything needed to rebuild and feed the model without the spec.
    With `fold_models` (every fold's weights), it stands for their ensemble."""
    extra = {} if fold_models is None else {"fold_state_dicts": fold_models}
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "spec": spec.model_dump(mode="json"),
            "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
            "n_features": data.n_features,
            "n_outputs": n_outputs(data),
            "class_names": list(data.class_names),
            "target_names": list(data.target_names),
            "mean": None if data.mean is None else data.mean.tolist(),
            "std": None if data.std is None else data.std.tolist(),
            "best_epoch": result.best_epoch,
            "best_value": result.best_value,
            **extra,
        },
        path,
    )


def predict_checkpoint(
    model: torch.nn.Module,
    ckpt: dict,
    data: PreparedData,
    split,
    batch_size: int,
    device: torch.device,
) -> np.ndarray:
    """The model's outputs on a split: probabilities (n, C) or values (n, K). A checkpoint of
    fold models gives their mean (and leaves the model holding the last fold's weights)."""
    model.to(device)
    outputs = []
    for weights in ckpt.get("fold_state_dicts") or [None]:
        if weights is not None:
            model.load_state_dict(weights)  # copied onto the model's device
        outputs.append(predict(model, data, split, batch_size, device)[0])
    return np.mean(outputs, axis=0)


def load_checkpoint(path: Path) -> tuple[torch.nn.Module, dict]:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as e:
        raise SweepError(f"{path}: checkpoint not found") from e
    except Exception as e:
        raise SweepError(f"{path}: not a sweep checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise SweepError(f"{path}: not a sweep checkpoint of format {CHECKPOINT_FORMAT}")
    spec = Spec.model_validate(ckpt["spec"])
    model = build_model(
        spec.model.backbone,
        spec.head,
        ckpt["n_features"],
        ckpt["n_outputs"],
        spec.model.backbone_params,
        spec.model.head_params,
    )
    model.load_state_dict(ckpt["state_dict"])
    return model, ckpt


# ----------------------------------------------------------------------------- the run


def run_study(
    spec: Spec,
    results: Path,
    n_trials: int | None = None,
    timeout: float | None = None,
    storage: str | None = None,
    progress: Any = None,
    workers: int = 1,
    code: tuple[Path, ...] = (),
) -> StudyOutcome:
    """Run (or continue) the spec's study, then evaluate the best and reference trials.

    With `workers` > 1, that many processes run trials at once (see `sweep.workers`);
    `code` is the --code files they import.
    """
    from sweep.workers import WorkPlan, run_workers, work

    if workers > 1 and storage is not None and storage.startswith("sqlite"):
        raise SweepError(
            "--workers > 1 with a SQLite storage: SQLite fails under concurrent writers; "
            "leave --storage out (a journal file) or use postgresql://"
        )
    init_from = None
    if spec.model.init_from:  # refused before any trial if it does not fit
        init_from = resolve_checkpoint(spec.model.init_from, results)
        spec = adopt_source(spec, init_from)
    folder = study_folder(results, spec)
    data = prepare(spec.resolved_data)  # a data error stops the run before anything is written
    folds = selection.n_folds(spec.search.selection, data)
    study, created = open_study(spec, folder, storage, folds=folds)
    folds = int(study.user_attrs.get("folds", folds))  # a study keeps its folds
    final = selection.final(spec.search.selection, folds)
    if init_from is not None:
        study.set_user_attr("init_from", str(init_from))
    (folder / "spec.yaml").write_text(spec_yaml(spec))
    (folder / "environment.json").write_text(json.dumps(environment(), indent=1))
    fail_dead_trials(study)  # an earlier run killed mid-trial: failed, and enqueued again
    enqueue_reference(study, spec)

    budget = n_trials or spec.search.n_trials
    timeout = timeout or spec.search.timeout
    plan = WorkPlan(
        spec,
        folder,
        storage,
        budget,
        deadline=None if timeout is None else time.time() + timeout,
        init_from=init_from,
        threads=spec.training.threads,
        code=tuple(code),
        seed_offset=0 if created else random_seed_offset(),
        folds=folds,
        cpu_budget=None if spec.search.budget is None else spec.search.budget * 60,
        keep_fold_models=final == "ensemble",
    )
    if counted(study) < budget:
        if progress is not None:
            progress.start(study, budget)
        if workers > 1:
            run_workers(plan, workers, progress)
        else:
            work(
                plan,
                on_epoch=progress.epoch if progress else None,
                on_trial=progress.trial_finished if progress else None,
                data=data,
            )
    outcome = StudyOutcome(study, folder)
    (folder / "split.json").write_text(json.dumps(data.split_record(), indent=1))
    outcome.test = evaluate_on_test(study, folder, data, spec, outcome.notes, final, init_from)
    return outcome


def evaluate_on_test(
    study: optuna.Study,
    folder: Path,
    data: PreparedData,
    spec: Spec,
    notes: list[str],
    final: str = "model",
    init_from: Path | None = None,
) -> dict[str, Any]:
    """The best and the reference trial, each evaluated once on the test split, as
    `final` says (see sweep.selection): the mean of the trial's fold models ("ensemble"),
    its configuration retrained on train+validation ("refit", see `refit_trial`), or its
    own model ("model").

    The results go to `test.json` and into the study itself, so that a report on any
    machine sharing the storage has them. A trial that ran on another machine (its
    checkpoint is there) is tested by a `sweep run` there: a note says so.
    """
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        return {}
    chosen = {"best": study.best_trial}
    reference = [t for t in complete if t.user_attrs.get("reference")]
    if reference:
        chosen["reference"] = reference[0]
    path = folder / "test.json"
    stored = json.loads(path.read_text()) if path.is_file() else study.user_attrs.get("test", {})
    test = None
    device = pick_device(spec.training.device)
    report = {}
    for role, trial in chosen.items():
        before = stored.get(role, {})
        if before.get("trial") == trial.number and tested_as(before) == final:
            report[role] = before  # evaluated once, never again
            continue
        trial_dir = folder / "trials" / str(trial.number)
        checkpoint = trial_dir / "checkpoint.pt"
        if not checkpoint.is_file():
            host = trial.user_attrs.get("worker", {}).get("host", "another machine")
            notes.append(
                f"the {role} trial ({trial.number}) ran on {host}, and its checkpoint is there: "
                f"the same `sweep run` there tests it (or share --results between machines)"
            )
            continue
        how = final
        if final == "ensemble" and not (trial_dir / FOLD_MODELS).is_file():
            notes.append(
                f"the {role} trial ({trial.number}) kept no fold models (it ran before they "
                f"were kept, or elsewhere): its configuration was refitted instead"
            )
            how = "refit"
        if how == "refit":
            checkpoint = refit_trial(folder, trial, init_from)
        elif how == "ensemble":
            checkpoint = trial_dir / FOLD_MODELS
        model, ckpt = load_checkpoint(checkpoint)
        test = data.test() if test is None else test
        outputs = predict_checkpoint(model, ckpt, data, test, spec.training.batch_size, device)
        names = data.class_names if data.task == "classification" else data.target_names
        report[role] = {
            "trial": trial.number,
            "validation": trial.value,
            "final": how,
            "params": trial.params,
            **evaluation_report(data.task, outputs, test.targets, names),
        }
    if report:
        path.write_text(json.dumps(report, indent=1))
        study.set_user_attr("test", report)
    keep = {t.number for t in chosen.values()}
    for kept in folder.glob(f"trials/*/{FOLD_MODELS}"):  # fold models of trials overtaken
        if kept.parent.name.isdigit() and int(kept.parent.name) not in keep:
            kept.unlink()
    return report


def refit_trial(folder: Path, trial: optuna.trial.FrozenTrial, init_from: Path | None) -> Path:
    """Train a trial's configuration again on train+validation, for its best epoch (the mean
    of its folds'), from the same seed; saved as `refit.pt` beside its checkpoint."""
    trial_dir = folder / "trials" / str(trial.number)
    path = trial_dir / REFIT
    if path.is_file():
        return path
    resolved = Spec.model_validate(yaml.safe_load((trial_dir / "config.yaml").read_text()))
    data = prepare(resolved.resolved_data)
    epochs = max(1, int(trial.user_attrs.get("best_epoch", resolved.training.max_epochs)))
    training = resolved.training.model_copy(update={"max_epochs": epochs, "patience": None})
    torch.manual_seed(training.seed)
    model = build(resolved, data)
    if init_from is not None:
        load_backbone(model, init_from)
    result = fit(
        model,
        selection.refit_data(data),
        training,
        resolved.metric,
        resolved.direction,
        validate=False,
    )
    save_checkpoint(path, resolved, data, model, result)
    return path


def environment() -> dict[str, Any]:
    packages = {}
    for name in ("sweep", "torch", "optuna", "numpy", "scikit-learn", "scipy", "pydantic"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    try:
        here = Path(__file__).resolve().parent
        revision = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        revision = None
    return {
        "packages": packages,
        "git_revision": revision,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }
