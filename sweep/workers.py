"""Workers: the processes that run a study's trials, one or several at once.

    plan = WorkPlan(spec, folder, storage=None, budget=20)
    work(plan, index=0)                      # in this process
    run_workers(plan, workers=2, progress)   # two processes on the same study

Every worker opens the same study from its storage and runs trials until the *study* has
`budget` trials that count (complete or pruned, running ones included), so the budget is
the whole study's, whatever the number of workers or machines. Worker i seeds its sampler
differently, and a run joining a study that exists draws a random offset (see
`sweep.study.open_study`). Trial numbers come from the storage, so when two
workers start the last trial at once, the later number is dropped before it trains
(`OverBudget`).

With several workers on one machine, each gets an equal share of the torch threads (of the
cores that every live run on the machine shares, see sweep.cores). The
main process only follows: it shows their progress (the workers send it events), notices a
worker that died, fails and re-enqueues that worker's trial, and starts a replacement.

Each worker sends its events down a pipe of its own, of which it holds the only write end.
A worker killed in the middle of a message (SIGKILL, the out-of-memory killer) so leaves
a truncated message that reads as the end of its pipe, and nothing else: with one queue
shared by all workers, it would die holding the queue's write lock, and every other
worker would hang at exit waiting to flush its events.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from sweep import trials
from sweep.cores import fair_threads
from sweep.data import PreparedData
from sweep.errors import SweepError
from sweep.objective import Objective, TrialFailed
from sweep.signals import SIGNALS, raise_interrupted, signal_name
from sweep.spec import Spec
from sweep.storage import fail_dead_trials, open_storage
from sweep.study import WORKER_SEED_STRIDE, open_study
from sweep.train import EpochRecord, set_threads

POLL_SECONDS = 0.5
STOP_SECONDS = 20  # how long an interrupted worker may take to record its trial


@dataclass(frozen=True)
class WorkPlan:
    """What a worker needs to join the study (picklable: sent to worker processes)."""

    spec: Spec
    folder: Path
    storage: str | None
    budget: int  # trials for the whole study
    deadline: float | None = None  # time.time() after which no trial starts
    init_from: Path | None = None  # transfer: the source checkpoint
    threads: int | None = None  # torch threads of this worker
    code: tuple[Path, ...] = ()  # --code files to import in a worker process
    seed_offset: int = 0  # worker i's sampler: the spec's seed + offset + i * stride
    folds: int = 1  # cross-validation folds per trial (sweep.selection)
    cpu_budget: float | None = None  # CPU seconds for the whole study
    keep_fold_models: str = "none"  # "best", "every" (sweep.selection.fold_models_kept)


def work(
    plan: WorkPlan,
    index: int = 0,
    on_epoch=None,
    on_trial=None,
    on_note=None,
    data: PreparedData | None = None,
) -> Objective:
    """Run trials until the study's budget is spent or the deadline passes. `data`: the
    spec's data, already prepared by the caller (else each worker prepares its own)."""
    offset = plan.seed_offset + WORKER_SEED_STRIDE * index
    study, _ = open_study(
        plan.spec, plan.folder, plan.storage, seed_offset=offset, folds=plan.folds
    )
    objective = Objective(
        plan.spec,
        plan.folder,
        on_epoch=on_epoch,
        on_note=on_note,
        init_from=plan.init_from,
        budget=plan.budget,
        folds=plan.folds,
        cpu_budget=plan.cpu_budget,
        keep_fold_models=plan.keep_fold_models,
    )
    if data is not None:
        objective.keep_data(plan.spec.resolved_data, data)
    callbacks = [on_trial] if on_trial is not None else []
    # Attempts are bounded too: a configuration that fails (out of memory...) does not
    # count for the budget, and a space where everything fails must still end. A trial
    # dropped before it trained (over the budget, a second reference) is no attempt.
    attempts = 0
    while attempts - objective.dropped < plan.budget and not _budget_spent(study, plan):
        if plan.threads is None:  # the machine's cores, shared with the runs live now
            set_threads(fair_threads())
        study.optimize(objective, n_trials=1, catch=(TrialFailed,), callbacks=callbacks)
        attempts += 1
    return objective


def threads_per_worker(threads: int | None, workers: int) -> int | None:
    """Each worker's share of the spec's `training.threads`; None (no number in the spec):
    each worker takes its fair share of the machine before each trial (sweep.cores)."""
    return None if threads is None else max(1, threads // workers)


# ----------------------------------------------------------------------------- processes


def run_workers(plan: WorkPlan, workers: int, progress: Any = None) -> None:
    """Run `workers` processes on the study and follow them until all have stopped.

    Raises:
        SweepError: a worker stopped on an error of the spec or the data (the first one).
        KeyboardInterrupt: Ctrl-C; the workers are interrupted and record their trials.
    """
    plan = dataclasses.replace(plan, threads=threads_per_worker(plan.threads, workers))
    context = multiprocessing.get_context("spawn")  # no forked torch threads or sockets
    running = {i: _Worker.start(context, plan, i) for i in range(workers)}
    study = optuna.load_study(
        study_name=plan.spec.study, storage=open_storage(plan.storage, plan.folder)
    )
    replacements, errors = workers, []
    try:
        while running:
            _show(running.values(), study, progress, errors, timeout=POLL_SECONDS)
            for i, worker in list(running.items()):
                if worker.process.is_alive():
                    continue
                _show([worker], study, progress, errors, timeout=0)  # its last words
                worker.close()
                del running[i]
                if worker.process.exitcode is not None and worker.process.exitcode < 0:
                    failed = fail_dead_trials(study)  # killed: its trial failed, and enqueued again
                    if progress is not None:
                        progress.note(_died_note(i, worker.process.exitcode, failed))
                    if replacements > 0 and not _budget_spent(study, plan):
                        replacements -= 1
                        running[i] = _Worker.start(context, plan, i)
            if errors:
                break
    except KeyboardInterrupt as e:  # passed on: each worker records its trial as stopped so
        _stop(running.values(), signal.SIGTERM if signal_name(e) == "SIGTERM" else signal.SIGINT)
        raise
    finally:
        _stop(running.values(), signal.SIGTERM)
        _show(running.values(), study, progress, errors, timeout=0)
        for worker in running.values():
            worker.close()
        fail_dead_trials(study)
    if errors:
        raise SweepError(errors[0])


@dataclass
class _Worker:
    """A worker process and the read end of its events pipe."""

    process: multiprocessing.Process
    events: multiprocessing.connection.Connection
    ended: bool = False  # its pipe reached its end: the worker exited, or died mid-message

    @classmethod
    def start(cls, context, plan: WorkPlan, index: int) -> _Worker:
        events, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_worker_main, args=(plan, index, sender), name=f"sweep-worker-{index}"
        )
        process.start()
        sender.close()  # the worker's is now the only write end: its exit ends the pipe
        return cls(process, events)

    def receive(self) -> list[tuple]:
        """The events waiting in the pipe, without blocking; marks the pipe ended at its end."""
        received = []
        try:
            while not self.ended and self.events.poll():
                received.append(self.events.recv())
        except Exception:  # noqa: BLE001 - exited (EOFError), killed mid-message (OSError), or
            self.ended = True  # a message cut short by a signal: nothing after it is readable
        return received

    def close(self) -> None:
        self.ended = True
        self.events.close()


def _died_note(index: int, exitcode: int, failed: list[int]) -> str:
    try:
        how = f"killed by {signal.Signals(-exitcode).name}"
    except ValueError:
        how = f"exit code {exitcode}"
    trial = f": trial {', '.join(map(str, failed))} failed, and is retried" if failed else ""
    return f"worker {index} died ({how}){trial}"


def _budget_spent(study: optuna.Study, plan: WorkPlan) -> bool:
    """No trial is to start: the trials, the CPU minutes or this run's time are used up."""
    if plan.deadline is not None and time.time() >= plan.deadline:
        return True
    if plan.cpu_budget is not None and trials.cpu_spent(study) >= plan.cpu_budget:
        return True
    return len(study.get_trials(deepcopy=False, states=trials.IN_BUDGET)) >= plan.budget


def _stop(workers, sig: int) -> None:
    processes = [w.process for w in workers]
    for process in processes:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, sig)
    for process in processes:
        process.join(STOP_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()


def _show(workers, study: optuna.Study, progress: Any, errors: list[str], timeout: float) -> None:
    """Pass the workers' events to the progress display: waits up to `timeout` for the first
    one, then takes only what is already there."""
    open_pipes = {w.events: w for w in workers if not w.ended}
    if not open_pipes:
        return
    ready = multiprocessing.connection.wait(list(open_pipes), timeout=timeout)
    for pipe in ready:
        for kind, *payload in open_pipes[pipe].receive():
            _dispatch(kind, payload, study, progress, errors)


def _dispatch(kind: str, payload: list, study: optuna.Study, progress: Any, errors: list[str]):
    if kind == "error":
        errors.append(payload[0])
    elif progress is None:
        return
    elif kind == "note":
        progress.note(payload[0])
    elif kind == "epoch":
        number, record, value, fold, max_epochs = payload
        progress.epoch(number, EpochRecord(**record), value, fold, max_epochs)
    elif kind == "trial":
        trial = next((t for t in study.get_trials(deepcopy=False) if t.number == payload[0]), None)
        if trial is not None:
            progress.trial_finished(study, trial)


def _worker_main(plan: WorkPlan, index: int, events: multiprocessing.connection.Connection):
    """A worker process: joins the study, sends its progress, exits quietly on Ctrl-C."""
    from sweep.registry import import_user_code

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    for sig in SIGNALS:  # stopped: record the trial, with the signal as its reason
        signal.signal(sig, raise_interrupted)
    set_threads(plan.threads)
    try:
        for path in plan.code:
            import_user_code(path)
        work(
            plan,
            index,
            on_epoch=lambda n, record, v, fold, max_epochs: events.send(
                ("epoch", n, dataclasses.asdict(record), v, fold, max_epochs)
            ),
            on_trial=lambda study, trial: events.send(("trial", trial.number)),
            on_note=lambda text: events.send(("note", text)),
        )
    except KeyboardInterrupt:
        sys.exit(130)
    except SweepError as e:
        events.send(("error", str(e)))
        sys.exit(2)
