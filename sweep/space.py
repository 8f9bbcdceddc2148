"""The search space: from a spec and an Optuna trial to one concrete configuration.

A space maps dotted paths of the spec (`training.lr`, `model.backbone_params.hidden_size`)
to distributions. A trial's parameters are named by those paths; applying them to the spec
gives the trial's resolved spec, a plain, complete description of what it trained.

Categorical choices may be lists (e.g. CNN channels); Optuna only stores scalars, so lists
travel through Optuna as JSON text and are decoded here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import optuna

from sweep.registry import NO_DEFAULT, backbones, datasets, heads
from sweep.spec import CategoricalParam, Choice, FloatParam, IntParam, Param, Spec


def encode(value: Choice) -> str | int | float | bool | None:
    return json.dumps(value) if isinstance(value, list) else value


def decode(param: CategoricalParam, stored: Any) -> Choice:
    for value in param.values:
        if encode(value) == stored:
            return value
    raise ValueError(f"{stored!r} is not one of the choices {param.values}")


def optuna_names(space: dict[str, Param]) -> dict[int, str]:
    """The name each parameter of the space has in Optuna, by the parameter's id.

    A parameter is named by its path, except where two branches give the same path
    different distributions (`channels` of one backbone family and of another): Optuna
    holds one distribution per name in a study, so such a parameter inside a branch is
    named `<path>@<choice>`, the choice that opened its branch. Top-level parameters are
    always their path."""
    definitions: dict[str, set[str]] = {}
    nested: list[tuple[str, str, Param]] = []  # (path, choice, param) inside a branch

    def walk(sub: dict[str, Param], choice: str | None) -> None:
        for path, param in sub.items():
            definitions.setdefault(path, set()).add(param.model_dump_json())
            if choice is not None:
                nested.append((path, choice, param))
            if isinstance(param, CategoricalParam) and isinstance(param.choices, dict):
                for value, branch in param.choices.items():
                    walk(branch, str(value))

    walk(space, None)
    return {
        id(param): f"{path}@{choice}"
        for path, choice, param in nested
        if len(definitions[path]) > 1
    }


def suggest(
    trial: optuna.Trial, space: dict[str, Param], names: dict[int, str] | None = None
) -> dict[str, Any]:
    """Sample every parameter of the space, following the branches the choices open.
    Returns the values by path (see `optuna_names` for the names Optuna stores)."""
    names = optuna_names(space) if names is None else names
    params: dict[str, Any] = {}
    for path, param in space.items():
        name = names.get(id(param), path)
        if isinstance(param, FloatParam):
            params[path] = trial.suggest_float(
                name, param.low, param.high, log=param.log, step=param.step
            )
        elif isinstance(param, IntParam):
            params[path] = trial.suggest_int(
                name, param.low, param.high, log=param.log, step=param.step
            )
        else:
            stored = trial.suggest_categorical(name, [encode(v) for v in param.values])
            params[path] = decode(param, stored)
            params.update(suggest(trial, param.branch(params[path]), names))
    return params


def active_params(space: dict[str, Param], values: dict[str, Any]) -> Iterator[tuple[str, Param]]:
    """The (path, param) pairs in force for a configuration, branches followed."""
    for path, param in space.items():
        yield path, param
        if isinstance(param, CategoricalParam) and path in values:
            yield from active_params(param.branch(values[path]), values)


def sampled_in_enqueued(spec: Spec) -> list[tuple[int, list[str]]]:
    """Per `search.enqueue` entry (its index) that leaves paths of its branches out, those
    paths: the sampler draws them, so that entry is not one fixed configuration."""
    left = []
    for i, values in enumerate(spec.search.enqueue):
        missing = [
            path for path, _ in active_params(spec.search.space, values) if path not in values
        ]
        if missing:
            left.append((i, missing))
    return left


def get_path(spec: Spec, path: str) -> Any:
    """The value a dotted path has in a spec, a component's default where the spec is silent."""
    if path == "model.head":
        return spec.head
    section, _, rest = path.partition(".")
    if section == "model" and rest.startswith(("backbone_params.", "head_params.")):
        kind, _, name = rest.partition(".")
        given = getattr(spec.model, kind)
        if name in given:
            return given[name]
        return component_defaults(spec, kind).get(name, NO_DEFAULT)
    if section == "data" and rest.startswith("options."):
        name = rest.removeprefix("options.")
        return spec.data.options.get(name, component_defaults(spec, "options").get(name))
    node: Any = spec
    for part in path.split("."):
        node = getattr(node, part)
    return node


def component_defaults(spec: Spec, kind: str) -> dict[str, Any]:
    """The default parameter values of the backbone, head or data set a spec names."""
    registry, name = {
        "backbone_params": (backbones, spec.model.backbone),
        "head_params": (heads, spec.head),
        "options": (datasets, spec.data.dataset),
    }[kind]
    return registry.defaults(name)


def reference_params(spec: Spec) -> dict[str, Any]:
    """The spec's own configuration as trial parameters: the reference trial."""
    values: dict[str, Any] = {}
    for path, _param in active_params(spec.search.space, values):
        value = get_path(spec, path)
        if isinstance(value, tuple):
            value = list(value)
        values[path] = value
    return values


def enqueue_form(spec: Spec, values: dict[str, Any]) -> dict[str, Any]:
    """Parameters as Optuna stores them: by their Optuna names (`optuna_names`), list
    choices as JSON text."""
    names = optuna_names(spec.search.space)
    params = dict(active_params(spec.search.space, values))
    return {
        names.get(id(params[path]), path): (
            encode(v) if isinstance(params[path], CategoricalParam) else v
        )
        for path, v in values.items()
    }


def apply(spec: Spec, values: dict[str, Any]) -> Spec:
    """The spec with a trial's values set at their paths (validated again).

    A trial that switches the backbone (or head) to another one drops the spec's fixed
    parameters of the first: they belong to it, and the new one starts from its defaults.
    """
    raw = spec.model_dump(mode="json")
    for switch, params in (("model.backbone", "backbone_params"), ("model.head", "head_params")):
        if switch in values and values[switch] != get_path(spec, switch):
            raw["model"][params] = {}
    for path, value in values.items():
        _set(raw, path, copy.deepcopy(value))
    return Spec.model_validate(raw)


def _set(raw: dict, path: str, value: Any) -> None:
    section, _, rest = path.partition(".")
    if section == "model" and rest.startswith(("backbone_params.", "head_params.")):
        kind, _, name = rest.partition(".")
        raw["model"][kind][name] = value
    elif section == "data" and rest.startswith("options."):
        raw["data"]["options"][rest.removeprefix("options.")] = value
    else:
        node = raw
        *parents, last = path.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
