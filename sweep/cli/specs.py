"""Commands on specs before any sweep: `validate`, `show` and `check overfit`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sweep.cli.app import (
    CodeOption,
    Command,
    DataRootOption,
    SetOption,
    SpecArgument,
    app,
    check_app,
    console,
    enqueue_notes,
    load_checked_spec,
    print_error,
)
from sweep.errors import SweepError


@app.command("validate", cls=Command)
def validate(
    specs: Annotated[list[Path], typer.Argument(metavar="SPEC", help="Spec files (YAML).")],
    set_: SetOption = None,
    code: CodeOption = None,
) -> None:
    """Check specs without training: schema, components, the space.

    Checks each spec's schema, its component names and their parameters, and its search
    space, and lists every problem found (exit code 2 if any).
    """
    from sweep.specfile import SpecProblems

    failed = 0
    for path in specs:
        try:
            spec = load_checked_spec(path, set_, code)
        except SpecProblems as e:
            failed += 1
            for problem in e.problems:
                print_error(str(problem))
        except SweepError as e:
            failed += 1
            print_error(str(e))
        else:
            console.print(f"{path}: ok")
            for note in enqueue_notes(spec):
                console.print(f"  note: {note}", markup=False, highlight=False)
    if failed:
        raise typer.Exit(2)


@app.command("show", cls=Command)
def show(
    spec_path: SpecArgument,
    set_: SetOption = None,
    code: CodeOption = None,
) -> None:
    """Print the spec with every default filled in."""
    from sweep.specfile import dump_spec

    print(dump_spec(load_checked_spec(spec_path, set_, code)), end="")


@check_app.command("overfit", cls=Command)
def check_overfit(
    spec_path: SpecArgument,
    steps: Annotated[
        int, typer.Option(metavar="N", help="Optimisation steps on the one batch.", min=1)
    ] = 300,
    data_root: DataRootOption = None,
    set_: SetOption = None,
    code: CodeOption = None,
) -> None:
    """Train the reference on one batch: the loss must go to ~0.

    Trains the spec's reference configuration on a single batch for --steps steps. It passes
    when the last loss is at most 5% of the first (or below 0.01), else exits with code 1.
    """
    from sweep.overfit import memorised, overfit_one_batch
    from sweep.train import set_threads

    spec = load_checked_spec(spec_path, set_, code, data_root)
    set_threads(spec.training.threads)  # as `sweep run` trains it
    losses = overfit_one_batch(spec, steps)
    every = max(1, steps // 10)
    for step in range(0, steps, every):
        console.print(f"step {step + 1:5d}  loss {losses[step]:.5f}")
    final = losses[-1]
    passed = memorised(losses)
    console.print(
        f"step {steps:5d}  loss {final:.5f}\n"
        f"{'PASSED' if passed else 'FAILED'}: loss {losses[0]:.4f} -> {final:.5f} "
        f"({final / losses[0]:.1%} of the first step)"
    )
    if not passed:
        raise typer.Exit(1)
