"""`sweep run`: a spec's study (or one per target), its progress, and its outcome."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sweep.cli.app import (
    CodeOption,
    Command,
    DataRootOption,
    ResultsOption,
    SetOption,
    SpecArgument,
    app,
    check_output_folder,
    console,
    enqueue_notes,
    err_console,
    load_checked_spec,
)


@app.command("run", cls=Command)
def run(
    spec_path: SpecArgument,
    trials: Annotated[
        int | None, typer.Option(metavar="N", help="Trials for the whole study.", min=1)
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(metavar="SECONDS", help="Time for this run.", min=1)
    ] = None,
    data_root: DataRootOption = None,
    storage: Annotated[
        str | None,
        typer.Option(
            metavar="URL", help="Optuna storage URL (default: a journal file in the results)."
        ),
    ] = None,
    results: ResultsOption = Path("results"),
    workers: Annotated[
        int,
        typer.Option(
            metavar="N",
            help="Processes running trials at once on this machine (torch threads are shared "
            "out between them).",
            min=1,
        ),
    ] = 1,
    skip_bad: Annotated[
        bool,
        typer.Option("--skip-bad", help="Skip bad tracks (data.skip_bad) and say which."),
    ] = False,
    set_: SetOption = None,
    code: CodeOption = None,
) -> None:
    """Run or resume a study; test the best and the reference trial.

    Runs the spec's study, or continues it where its results already are, then tests the
    best and the reference trial. Another `sweep run` of the same spec with the same
    --storage (on this machine or another) joins the study: the trial budget is the whole
    study's.
    """
    import optuna

    from sweep.progress import StudyProgress
    from sweep.run import run_study
    from sweep.signals import exit_code, signal_name, stop_on_signals
    from sweep.train import set_threads

    overrides = [*(set_ or []), *(["data.skip_bad=true"] if skip_bad else [])]
    spec = load_checked_spec(spec_path, overrides, code, data_root)
    check_output_folder(results, "--results")
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trial outcomes: our own lines
    set_threads(spec.training.threads)
    budget = trials or spec.search.n_trials
    running: dict = {"study": spec.study, "progress": None}  # what a signal interrupts

    def acknowledge(name: str) -> None:  # at once, before anything is cleaned up
        if running["progress"] is not None:
            running["progress"].stop()
        err_console.print(
            f"{name} received: stopping; the running trial is recorded as failed", markup=False
        )

    # From the first line on: a signal between two studies' lines, or while the data loads,
    # is taken the same way as one in the middle of a trial.
    with stop_on_signals(acknowledge):
        try:
            console.print(
                f"Study [bold]{spec.study}[/]: {spec.model.backbone} on {spec.data.dataset} "
                f"({spec.data.features}, {'beat' if spec.data.beat else 'full'}), {budget} "
                f"trials, optimising validation {spec.metric} ({spec.direction})"
                + (f", {workers} workers." if workers > 1 else ".")
            )
            for note in enqueue_notes(spec):
                console.print(f"note: {note}", markup=False, highlight=False)
            for one in spec.per_target_specs():  # one study, or one per target
                if one is not spec:
                    console.print(f"Study [bold]{one.study}[/]: target {one.task.targets[0]}.")
                running["study"] = one.study
                progress = running["progress"] = StudyProgress(
                    console, one.metric, one.training.max_epochs
                )
                try:
                    outcome = run_study(
                        one,
                        results,
                        n_trials=trials,
                        timeout=timeout,
                        storage=storage,
                        progress=progress,
                        workers=workers,
                        code=tuple(code or ()),
                    )
                finally:
                    progress.stop()
                console.print(_format_outcome(one, outcome))
                for note in outcome.notes:
                    console.print(f"note: {note}", markup=False, highlight=False)
        except KeyboardInterrupt as e:
            if running["progress"] is not None:
                running["progress"].stop()
            err_console.print(
                f"interrupted ({signal_name(e)}): finished trials are kept in "
                f"{results / running['study']}; run the same command again to continue",
                markup=False,
            )
            sys.exit(exit_code(e))


def _format_outcome(spec, outcome) -> str:
    from sweep.trials import shown, state_counts

    count = state_counts(outcome.study.trials)
    lines = [
        f"\n{len(shown(outcome.study.trials))} trials: {count['complete']} complete, "
        f"{count['pruned']} pruned, {count['fail']} failed. "
        f"Results in {outcome.folder}"
    ]
    if not outcome.test:
        lines.append("No trial completed, so nothing was tested.")
        return "\n".join(lines)
    metrics = ["accuracy", "macro_f1"] if spec.task.kind == "classification" else ["spearman"]
    lines.append(
        f"{'':12} {'trial':>5} {'val ' + spec.metric:>16} "
        + " ".join(f"{'test ' + m:>16}" for m in metrics)
    )
    for role in ("reference", "best"):
        r = outcome.test.get(role)
        if r is None:
            why = "not tested here (see the note)" if outcome.notes else "did not complete"
            lines.append(f"{role:12} ({why})")
            continue
        lines.append(
            f"{role:12} {r['trial']:>5} {r['validation']:>16.4f} "
            + " ".join(f"{r[m]:>16.4f}" for m in metrics)
        )
    ensemble = outcome.test.get("ensemble")
    if ensemble:
        lines.append(
            f"{'ensemble':12} {'':>5} {ensemble['validation']:>16.4f} "
            + " ".join(f"{ensemble[m]:>16.4f}" for m in metrics)
        )
        members = ", ".join(
            f"#{m['trial']} {m['backbone']} x{m['weight']:.2f}" for m in ensemble["members"]
        )
        lines.append(f"  ensemble of trials (validation: on their held-out predictions): {members}")
    return "\n".join(lines)
