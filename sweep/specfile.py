"""Reading a spec file: YAML with positions, `--set` overrides, errors that point at the line.

    spec = load_spec("specs/genre_all_beat.yaml", overrides=["training.lr=3e-4"])
    text = dump_spec(spec)      # and back: the spec as YAML, every default filled in

Errors read `specs/x.yaml:14:7 search.space.training.lr.low: <rule>, got <value>`: the
file, line and column of the offending value (or of the `--set` that set it), the field's
path, and the rule with the value received.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sweep.errors import SpecError
from sweep.spec import Spec

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec: where, which field, and what."""

    where: str  # "specs/x.yaml:14:7" or "--set training.lr=abc"
    field: str  # "search.space.training.lr.low"
    message: str

    def __str__(self) -> str:
        return one_line(
            f"{self.where} {self.field}: {self.message}"
            if self.field
            else f"{self.where} {self.message}"
        )


def one_line(text: str) -> str:
    """`text` with line breaks and other unprintable characters escaped (a key "a\\nb" reads
    `a\\nb`), so that an error stays one line whatever the spec holds."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class SpecProblems(SpecError):
    """A spec with one or more problems; the message is the first, `problems` has them all."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        more = (
            f" (and {len(problems) - 1} more: sweep validate lists them)"
            if len(problems) > 1
            else ""
        )
        super().__init__(f"{problems[0]}{more}")


@dataclass
class SpecSource:
    """The raw spec as written, with where every key and value is."""

    path: Path
    raw: dict[str, Any]
    value_marks: dict[Path_, tuple[int, int]]
    key_marks: dict[Path_, tuple[int, int]]
    overridden: dict[Path_, str]  # path -> the --set that set it

    def where(self, path: Path_, key: bool = False) -> str:
        if path not in self.value_marks:  # not in the file: a --set may have made it
            made = [a for p, a in self.overridden.items() if p[: len(path)] == path]
            if made:
                return f"--set {made[-1]}"
        for i in range(len(path), -1, -1):  # the deepest part of the path that was written
            prefix = path[:i]
            if prefix in self.overridden:
                return f"--set {self.overridden[prefix]}"
            marks = self.key_marks if key and i == len(path) else self.value_marks
            if prefix in marks:
                line, col = marks[prefix]
                return f"{self.path}:{line}:{col}"
        return f"{self.path}:1:1"


def read_source(path: Path) -> SpecSource:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as e:
        raise SpecError(f"{path}: spec file not found") from e
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"{path}: cannot read the spec ({e})") from e
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise SpecError(f"{where} invalid YAML: {e.problem or e.context}") from e
    except yaml.reader.ReaderError as e:  # a control character: its str() is two lines
        line = text.count("\n", 0, e.position) + 1
        column = e.position - text.rfind("\n", 0, e.position)
        raise SpecError(
            f"{path}:{line}:{column} invalid YAML: character U+{e.character:04X} is not "
            f"allowed ({e.reason})"
        ) from e
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: invalid YAML: {str(e).splitlines()[0]}") from e
    if not isinstance(raw, dict):
        got = "an empty file" if raw is None else type(raw).__name__
        raise SpecError(
            f"{path}:1:1 a spec must be a mapping of fields (study, data, ...), got {got}"
        )
    value_marks: dict[Path_, tuple[int, int]] = {}
    key_marks: dict[Path_, tuple[int, int]] = {}
    _collect_marks(node, (), value_marks, key_marks)
    return SpecSource(path, raw, value_marks, key_marks, {})


def _collect_marks(node: yaml.Node, path: Path_, values: dict, keys: dict) -> None:
    values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, key_node.value)
            keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _collect_marks(value_node, child, values, keys)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _collect_marks(item, (*path, i), values, keys)


def apply_override(source: SpecSource, assignment: str) -> None:
    """Apply one `--set dotted.path=value` (the value is YAML: 3e-4, true, [1, 2], null).

    Keys may themselves hold dots (search space paths such as `training.lr`): at each level
    the longest existing key that matches the path is taken.
    """
    dotted, value = parse_assignment(assignment)
    where = f"--set {one_line(assignment)}"
    parts = dotted.split(".")
    node: Any = source.raw
    path: Path_ = ()
    while parts:
        if not isinstance(node, dict):
            raise SpecError(f"{where}: {one_line(_dotted(path))} is not a mapping")
        for n in range(len(parts), 0, -1):
            key = ".".join(parts[:n])
            if key in node or n == 1:
                break
        path = (*path, key)
        parts = parts[n:]
        if parts:
            node = node.setdefault(key, {})
        else:
            node[key] = value
    source.overridden[path] = assignment


def parse_assignment(
    assignment: str, option: str = "--set", expected: str = "PATH=VALUE, e.g. training.lr=3e-4"
) -> tuple[str, Any]:
    """`NAME=VALUE` as `--set` reads it: the name before the first `=` (stripped), and the
    value after it as YAML (3e-4, true, [1, 2], null).

    Raises:
        SpecError: no `=`, an empty name, or a value that is not YAML; the message starts
            with `option` and the assignment ("--set training.lr: expected PATH=VALUE, ...").
    """
    dotted, sep, text = assignment.partition("=")
    where = f"{option} {one_line(assignment)}"
    if not sep or not dotted.strip():
        raise SpecError(f"{where}: expected {expected}")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as e:
        reason = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SpecError(f"{where}: the value is not valid YAML ({one_line(reason)})") from e
    return dotted.strip(), value


def load_spec(
    path: Path, overrides: list[str] | tuple[str, ...] = (), data_root: Path | None = None
) -> Spec:
    """Read, override and validate a spec; raises SpecProblems pointing at the file."""
    return load_spec_with_source(path, overrides, data_root)[0]


def load_spec_with_source(
    path: Path, overrides: list[str] | tuple[str, ...] = (), data_root: Path | None = None
) -> tuple[Spec, SpecSource]:
    source = read_source(path)
    for assignment in overrides:
        apply_override(source, assignment)
    if data_root is not None:
        apply_override(source, f"data.root={data_root}")
    try:
        return Spec.model_validate(source.raw), source
    except ValidationError as e:
        errors = _deepest(source.raw, e.errors())
        raise SpecProblems(_one_per_field([_problem(source, err) for err in errors])) from None


def _one_per_field(problems: list[Problem]) -> list[Problem]:
    """A value that fits no member of a union (`PositiveInt | "auto"`) is one problem, not one
    per member: "Input should be greater than 0 or 'auto', got 0"."""
    merged: dict[tuple[str, str], Problem] = {}
    for problem in problems:
        key = (problem.where, problem.field)
        first = merged.get(key)
        if first is None:
            merged[key] = problem
            continue
        head, got, value = first.message.rpartition(", got ")
        if got and problem.message.endswith(got + value):
            other = problem.message.removesuffix(got + value).removeprefix("Input should be ")
            message = f"{head} or {other}{got}{value}"
        else:
            message = f"{first.message}; {problem.message}"
        merged[key] = Problem(first.where, first.field, message)
    return list(merged.values())


def _deepest(raw: Any, errors: list) -> list:
    """The errors without a union member's type mismatch ("Input should be a valid list")
    where another member of the union got further into the same value: a mapping of
    choices with low > high in a branch is that error, not "not a list"."""
    paths = [_walk(raw, err["loc"])[0] for err in errors]
    return [
        err
        for err, path in zip(errors, paths, strict=True)
        if not err["type"].endswith("_type")
        or not any(len(other) > len(path) and other[: len(path)] == path for other in paths)
    ]


def _problem(source: SpecSource, err: dict) -> Problem:
    """A Pydantic error as a Problem, located in the file."""
    path, node = _walk(source.raw, err["loc"])
    kind = err["type"]
    message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "extra_forbidden":
        known = _known_fields(err["loc"][:-1])
        hint = f" (allowed: {', '.join(known)})" if known else ""
        return Problem(source.where(path, key=True), _dotted(path), f"unknown field{hint}")
    if kind == "missing":
        return Problem(source.where(path), _dotted((*path, err["loc"][-1])), "field required")
    if kind not in ("value_error", "assertion_error") or "got" not in message:
        message = f"{message}, got {_short(err.get('input'))}"
    where = source.where(path)
    if kind in ("value_error", "assertion_error") and isinstance(node, dict):
        # a rule across fields (low <= high): a --set of one of them is where it broke
        below = [
            a for p, a in source.overridden.items() if len(p) > len(path) and p[: len(path)] == path
        ]
        where = f"--set {below[-1]}" if below else where
    return Problem(where, _dotted(path), message)


def _walk(raw: Any, loc: tuple) -> tuple[Path_, Any]:
    """The part of `loc` that exists in the raw spec (Pydantic adds union tags to it)."""
    path: list[str | int] = []
    node = raw
    for part in loc:
        if (
            isinstance(node, dict)
            and part in node
            or isinstance(node, list)
            and isinstance(part, int)
            and part < len(node)
        ):
            node = node[part]
        else:
            continue  # a union member's tag such as "float" or "int": not in the file
        path.append(part)
    return tuple(path), node


def _known_fields(loc: tuple) -> list[str]:
    """The fields of the model at `loc`, to list after an unknown-field error."""
    model: Any = Spec
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        model = annotation if isinstance(annotation, type) else None
    fields = getattr(model, "model_fields", None)
    return list(fields) if fields else []


def _dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def dump_spec(spec: Spec) -> str:
    """The spec as a spec file, every default filled in, in the fields' order: what
    `sweep show` prints and what a study folder keeps (`spec.yaml`, a trial's `config.yaml`)."""
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)
