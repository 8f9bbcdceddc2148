"""A study per spec: its storage, its sampler, its pruner, and the reference trial first.

    study, created = open_study(spec, folder, storage=None, folds=5)
    enqueue_reference(study, spec)

Running a spec again continues its study: completed trials are kept, never redone. A study
run with another spec is refused (its fingerprint differs), and a run that joins a study
that exists (a continued run, a second worker or machine) seeds its sampler apart, so it
does not propose the first run's trials again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import optuna

from sweep import space, trials
from sweep.errors import SpecError, SweepError
from sweep.pruning import make_pruner
from sweep.sampling import PrunerView
from sweep.spec import SamplerSpec, Spec
from sweep.storage import open_storage, redact

WORKER_SEED_STRIDE = 1_000_003  # worker i's sampler seed: the run's seed + i * stride


def open_study(
    spec: Spec,
    folder: Path,
    storage: str | None = None,
    seed_offset: int | None = None,
    *,
    folds: int,
) -> tuple[optuna.Study, bool]:
    """Create the spec's study, or load it to continue; refuses a study of another spec.
    `folds`: the trials' cross-validation folds, which the pruner depends on (every process
    that runs trials must give the study's own).

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
        before = existing.user_attrs.get(trials.SPEC_FINGERPRINT)
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
        study.set_user_attr(trials.SPEC_FINGERPRINT, fingerprint)
        study.set_user_attr(trials.METRIC, spec.metric)
        study.set_user_attr(trials.SPEC, spec.model_dump(mode="json"))  # reports from any machine
        study.set_user_attr(trials.FOLDS, folds)
    return study, created


def random_seed_offset() -> int:
    """An offset no other process will draw (in practice): for samplers joining a study."""
    return int.from_bytes(os.urandom(4), "little") % (2**30)


# Spec fields added after studies were run with it, and the value that leaves a run as it
# was: at that value a field stays out of the fingerprint, so those studies still continue.
ADDED_SINCE = {
    ("training", "ema_epochs"): 0.0,
    ("training", "keep"): "best",
    ("search", "selection", "keep"): None,
}


def _fingerprint(spec: Spec) -> str:
    """What makes two runs the same study: the spec without its budget."""
    raw = spec.model_dump(mode="json")
    for (*sections, name), neutral in ADDED_SINCE.items():
        node = raw
        for section in sections:
            node = node[section]
        if node[name] == neutral:
            del node[name]
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
    if sampler.name == "tpe":  # the reference as the pruner would have left it: sweep.sampling
        return PrunerView(optuna.samplers.TPESampler(seed=seed, multivariate=True, **startup))
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
    when its earlier tries failed (an interrupted run), so the reference is always measured.
    Then, in a new study, the spec's `search.enqueue` configurations, each once."""
    if not any(trials.is_reference(t) and t.state != trials.STATES.FAIL for t in study.trials):
        values = space.reference_params(spec)
        study.enqueue_trial(space.enqueue_form(spec, values), user_attrs={trials.REFERENCE: True})
    if any(trials.ENQUEUED in t.user_attrs for t in study.trials):
        return  # enqueued when the study began (a continued study keeps its own order)
    for i, values in enumerate(spec.search.enqueue):
        study.enqueue_trial(space.enqueue_form(spec, values), user_attrs={trials.ENQUEUED: i})
