"""The import graph of sweep's own modules, and its cycles.

    python3 tests/import_graph.py            # prints every cycle; exit 1 if there is one
    python3 tests/import_graph.py --edges    # prints the graph, one `a -> b` a line
    python3 tests/import_graph.py --tree     # the module tree of ARCHITECTURE.md

Every import counts, also the ones inside functions: a lazy import hides a loop from
Python's import machinery, not from a reader. Read statically (ast), so nothing is imported.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("sweep", "components")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module an import names: `sweep.study.open_study` -> `sweep.study`."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package
                package = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            targets = [f"{base}.{alias.name}" for alias in node.names] or [base]
        for target in targets:
            resolved = _resolve(target, known)
            # `import a.b.c` imports the package a.b too, but a package importing its own
            # submodules is how packages work, not a loop: only the named module counts
            if resolved is not None and resolved != name:
                out.add(resolved)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def _is_parent_package(a: str, b: str) -> bool:
    return b.startswith(a + ".")


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle's strongly connected component (Tarjan), as a sorted list.

    A package's `__init__` importing its own submodules (to re-export them) is not counted
    as an edge back: `sweep.report` -> `sweep.report.tables` -> `sweep.report.figures` is
    a chain, not a loop, even though the package imports both."""
    edges = {
        a: {b for b in bs if not _is_parent_package(b, a) and not _is_parent_package(a, b)}
        for a, bs in edges.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges.get(v, ()):
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def first_docstring_line(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text()))
    return doc.splitlines()[0].strip() if doc else "(no docstring)"


def tree() -> str:
    """Every module of sweep and components, one line each: its path and the first line
    of its docstring (the idea it holds). ARCHITECTURE.md shows exactly this."""

    def order(path: Path) -> tuple:
        # in each package: its own __init__ first, then its modules, then its sub-packages
        parts = path.relative_to(REPO).parts
        name = "" if parts[-1] == "__init__.py" else parts[-1]
        return (*((1, p) for p in parts[:-1]), (0, name))

    rows = []
    for path in sorted(modules().values(), key=order):
        rel = path.relative_to(REPO)
        if rel.name == "__init__.py":
            label = "  " * (len(rel.parts) - 2) + rel.parent.name + "/"
        else:
            label = "  " * (len(rel.parts) - 1) + rel.name
        rows.append((label, first_docstring_line(path)))
    width = max(len(label) for label, _ in rows) + 2
    return "\n".join(f"{label:<{width}}{idea}" for label, idea in rows)


def main(argv: list[str]) -> int:
    if "--tree" in argv:
        print(tree())
        return 0
    edges = graph()
    if "--edges" in argv:
        for a in sorted(edges):
            for b in sorted(edges[a]):
                print(f"{a} -> {b}")
        return 0
    found = cycles(edges)
    for component in found:
        print("cycle: " + " <-> ".join(component))
    if not found:
        print(f"no import cycle among {len(edges)} modules")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
