"""Commands on specs before any sweep: `validate`, `show` and `check overfit`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sweep.cli.app import (
    CodeOption,
    SetOption,
    app,
    check_app,
    console,
    err_console,
    load_checked_spec,
)
from sweep.errors import SweepError


@app.command("validate")
def validate(
    specs: Annotated[list[Path], typer.Argument(metavar="SPEC...", help="Spec files.")],
    set_: SetOption = None,
    code: CodeOption = None,
) -> None:
    """Check specs without training: schema, component names and parameters, the space."""
    from sweep.specfile import SpecProblems

    failed = 0
    for path in specs:
        try:
            load_checked_spec(path, set_, code)
        except SpecProblems as e:
            failed += 1
            for problem in e.problems:
                err_console.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        except SweepError as e:
            failed += 1
            err_console.print(str(e), markup=False, highlight=False, soft_wrap=True)
        else:
            console.print(f"{path}: ok")
    if failed:
        raise typer.Exit(2)


@app.command("show")
def show(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC", help="The spec (YAML).")],
    set_: SetOption = None,
    code: CodeOption = None,
) -> None:
    """Print the spec with every default filled in."""
    from sweep.specfile import dump_spec

    print(dump_spec(load_checked_spec(spec_path, set_, code)), end="")


@check_app.command("overfit")
def check_overfit(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC", help="The spec (YAML).")],
    steps: Annotated[int, typer.Option(help="Optimisation steps on the one batch.", min=1)] = 300,
    data_root: Annotated[Path | None, typer.Option(help="Override data.root.")] = None,
    set_: SetOption = None,
    code: CodeOption = None,
) -> None:
    """Train the reference configuration on one batch: the loss must go to ~0."""
    from sweep.overfit import memorised, overfit_one_batch

    spec = load_checked_spec(spec_path, set_, code, data_root)
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
