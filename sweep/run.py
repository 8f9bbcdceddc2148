"""`sweep run`: a spec's study run (or continued) by its workers, then tested once.

    outcome = run_study(spec, results=Path("results"), n_trials=20)
    outcome.test["best"]["accuracy"]

The run prepares the data first (a data error stops it before anything is written), opens
the study (sweep.study), writes the spec and the environment into the study's folder
(sweep.results), fails the trials of workers that died and enqueues the reference, lets
one or several workers train trials (sweep.workers, sweep.objective), and finally tests the
best and the reference trial (sweep.evaluate).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from sweep import selection, trials
from sweep.cores import claim_cores
from sweep.data import prepare
from sweep.environment import environment
from sweep.errors import SweepError
from sweep.evaluate import evaluate_on_test
from sweep.results import StudyFolder
from sweep.spec import Spec
from sweep.specfile import dump_spec
from sweep.storage import fail_dead_trials
from sweep.study import enqueue_reference, open_study, random_seed_offset
from sweep.transfer import adopt_source, resolve_checkpoint
from sweep.workers import WorkPlan, run_workers, work


@dataclass
class StudyOutcome:
    study: optuna.Study
    folder: Path
    test: dict[str, Any] = field(default_factory=dict)  # "best"/"reference" -> report
    notes: list[str] = field(default_factory=list)  # what the run could not do, and why


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
    if workers > 1 and storage is not None and storage.startswith("sqlite"):
        raise SweepError(
            "--workers > 1 with a SQLite storage: SQLite fails under concurrent writers; "
            "leave --storage out (a journal file) or use postgresql://"
        )
    init_from = None
    if spec.model.init_from:  # refused before any trial if it does not fit
        init_from = resolve_checkpoint(spec.model.init_from, results)
        spec = adopt_source(spec, init_from)
    folder = StudyFolder.of(results, spec.study)
    data = prepare(spec.resolved_data)  # a data error stops the run before anything is written
    skipped = skipped_note(data)
    folds = selection.n_folds(spec.search.selection, data)
    study, created = open_study(spec, folder.path, storage, folds=folds)
    folds = int(study.user_attrs.get(trials.FOLDS, folds))  # a study keeps its folds
    final = selection.final(spec.search.selection, folds)
    if init_from is not None:
        study.set_user_attr(trials.INIT_FROM, str(init_from))
    folder.spec.write_text(dump_spec(spec))
    folder.write_json(folder.environment, environment())
    # an earlier run killed mid-trial: its trial failed, and enqueued again (said below)
    retried = retried_note(fail_dead_trials(study))
    enqueue_reference(study, spec)

    budget = n_trials or spec.search.n_trials
    timeout = timeout or spec.search.timeout
    plan = WorkPlan(
        spec,
        folder.path,
        storage,
        budget,
        deadline=None if timeout is None else time.time() + timeout,
        init_from=init_from,
        threads=spec.training.threads,
        code=tuple(code),
        seed_offset=0 if created else random_seed_offset(),
        folds=folds,
        cpu_budget=None if spec.search.budget is None else spec.search.budget * 60,
        keep_fold_models=selection.fold_models_kept(final),
    )
    for note in (skipped, retried):
        if note and progress is not None:
            progress.note(note)  # before any training: the user knows what the study lacks
    if trials.counted(study) < budget:
        if progress is not None:
            progress.start(study, budget, cpu_budget=plan.cpu_budget, deadline=plan.deadline)
        with claim_cores(workers):  # other runs on the machine leave these cores to us
            if workers > 1:
                run_workers(plan, workers, progress)
            else:
                work(
                    plan,
                    on_epoch=progress.epoch if progress else None,
                    on_trial=progress.trial_finished if progress else None,
                    on_note=progress.note if progress else None,
                    data=data,
                )
    outcome = StudyOutcome(study, folder.path)
    outcome.notes += [note for note in (skipped, retried) if note and progress is None]
    folder.write_json(folder.split, data.split_record())
    outcome.test = evaluate_on_test(study, folder.path, data, spec, outcome.notes, final, init_from)
    return outcome


def retried_note(failed: list[int]) -> str | None:
    """What `fail_dead_trials` did, in a line."""
    if not failed:
        return None
    which = ", ".join(map(str, failed))
    s = "s" if len(failed) > 1 else ""
    return (
        f"trial{s} {which} had been left running by a run that ended (killed or stopped): "
        f"failed, and retried once with the same parameters"
    )


def skipped_note(data, shown: int = 3) -> str | None:
    """The tracks `data.skip_bad` left out, in a line: how many, and the first reasons."""
    reasons = list(data.report.skipped.values())
    if not reasons:
        return None
    more = f"; and {len(reasons) - shown} more" if len(reasons) > shown else ""
    return (
        f"skipped {len(reasons)} bad track{'s' if len(reasons) > 1 else ''} "
        f"(data.skip_bad): {'; '.join(reasons[:shown])}{more}"
    )
