"""The architecture as ARCHITECTURE.md states it: no import loop, imports in one direction,
every module listed with its idea, the engine naming no component."""

from __future__ import annotations

import ast

import pytest
from import_graph import REPO, cycles, first_docstring_line, graph, modules, tree

ARCHITECTURE = REPO / "ARCHITECTURE.md"


@pytest.fixture(scope="module")
def edges() -> dict[str, set[str]]:
    return graph()


def _importers(edges: dict[str, set[str]], target: str) -> set[str]:
    """The modules outside `target`'s own package that import it or one of its modules."""
    return {
        a
        for a, bs in edges.items()
        if not (a == target or a.startswith(target + "."))
        and any(b == target or b.startswith(target + ".") for b in bs)
    }


def test_no_import_cycle(edges):
    assert cycles(edges) == []


def test_the_engine_imports_no_component(edges):
    engine = {a for a in edges if a.startswith("sweep")}
    assert _importers(edges, "components") & engine == set()


def test_only_the_command_line_entry_imports_the_command_line(edges):
    assert _importers(edges, "sweep.cli") == {"sweep.__main__"}


def test_the_report_is_read_by_the_command_line_alone(edges):
    assert _importers(edges, "sweep.report") == {"sweep.cli.report"}


def test_the_lab_wing_is_used_by_its_commands_predict_and_the_lab_components(edges):
    allowed = {"sweep.cli.data", "sweep.predict", "components.datasets.lab"}
    allowed |= {"components.features.lab"}
    assert _importers(edges, "sweep.lab") <= allowed


def test_the_foundations_import_nothing_above_them(edges):
    # what every layer reads: errors, the trial records and the results folder's map
    foundations = {"sweep.errors", "sweep.trials", "sweep.results"}
    for module in foundations:
        assert edges[module] <= foundations, (module, edges[module] - foundations)


@pytest.mark.parametrize("name", sorted(modules()))
def test_every_module_names_its_idea_in_its_first_docstring_line(name):
    assert first_docstring_line(modules()[name]) != "(no docstring)", name


def test_architecture_md_shows_every_module_with_its_idea():
    """ARCHITECTURE.md's tree is the modules' own first docstring lines: it stays true
    because a changed module fails here until the tree is printed again."""
    assert tree() in ARCHITECTURE.read_text(), (
        "ARCHITECTURE.md's module tree is out of date: paste the output of "
        "`python3 tests/import_graph.py --tree` into it"
    )


TASK_KINDS = {"classification", "regression", "multitask"}  # the engine's own words


def _code_strings(path) -> list[tuple[int, str]]:
    """The string constants of a module's code: its docstrings (examples) left out."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and ast.get_docstring(node) is not None
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_the_engine_names_no_registered_component():
    """Outside the lab's wing, no code string is a registered component's name: defaults
    come from the components' registration (a head's `default_for_task`, a data set's
    `default_features`), never from the engine."""
    from sweep.registry import REGISTRIES

    names = {name for registry in REGISTRIES.values() for name in registry.names()}
    named = [
        f"{module}:{line} {value!r}"
        for module, path in modules().items()
        if module.startswith("sweep") and not module.startswith("sweep.lab")
        for line, value in _code_strings(path)
        if value in names - TASK_KINDS
    ]
    assert named == []
