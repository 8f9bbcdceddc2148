"""Hostile spec input for property tests: arbitrary text, YAML, and mutations of a valid spec.

Shared by tests/test_hostile_input.py (a few hundred examples per property) and
benchmarks/hostile_input.py (thousands). The property they all serve: the loader every
command runs on a spec (`sweep.cli.app.load_checked_spec`: read, `--set`, schema, semantic
checks) either returns a Spec or raises a SweepError whose message is one non-empty line;
any other exception is a traceback the user would see.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from sweep.errors import SweepError

# A valid spec touching every section, small enough that checking it is quick.
VALID: dict[str, Any] = {
    "study": "hostile",
    "description": "a spec to mutate",
    "data": {
        "dataset": "fma_genre",
        "root": "data",
        "features": "chroma",
        "beat": True,
        "options": {"merge_classes": True},
        "val_fraction": 0.2,
        "split_seed": 0,
        "max_length": 64,
    },
    "task": {"kind": "classification"},
    "model": {
        "backbone": "lstm",
        "backbone_params": {"hidden_size": 8, "num_layers": 1, "pooling": "mean"},
        "head": "classifier",
        "head_params": {"hidden_size": 0, "dropout": 0.1},
    },
    "training": {"max_epochs": 3, "batch_size": 4, "lr": 1.0e-2, "patience": 2, "seed": 0},
    "search": {
        "sampler": {"name": "tpe", "seed": 0},
        "pruner": {"name": "median"},
        "n_trials": 3,
        "metric": "accuracy",
        "space": {
            "model.backbone_params.hidden_size": {"low": 4, "high": 16},
            "training.lr": {"low": 1.0e-3, "high": 1.0e-1, "log": True},
            "model.backbone_params.pooling": {"choices": ["last", "mean"]},
            "training.optimizer": {  # a branch the reference (adam) does not take
                "choices": {
                    "adam": {},
                    "sgd": {"training.weight_decay": {"low": 0.0, "high": 0.1}},
                }
            },
        },
    },
    "reference": [],
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["", "~", "null", "1e-3", "nan", ".inf", "-1", "0", "lstm", "cnn", "data"]),
)
keys = st.one_of(st.text(max_size=12), st.integers(), st.booleans(), st.none())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=10,
)
# A component's own parameters keep their integers small: validating builds the reference
# model (on the meta device, so a huge hidden_size costs nothing), but an LSTM of 2**40
# layers is 2**40 loop iterations however it is built. Any size is the component's business.
component_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-4, 64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
component_values = st.one_of(
    component_scalars,
    st.lists(st.integers(-4, 64), max_size=5),
    st.dictionaries(st.text(max_size=8), component_scalars, max_size=3),
)


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a nested dict/list, the root excluded."""
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    else:
        return []
    out = []
    for key, child in items:
        out.append((*prefix, key))
        out.extend(paths(child, (*prefix, key)))
    return out


def get(raw: Any, path: tuple) -> Any:
    for key in path:
        raw = raw[key]
    return raw


def _in_component(path: tuple) -> bool:
    return len(path) >= 2 and path[0] == "model" and str(path[1]).endswith("_params")


def _any_value(path: tuple) -> st.SearchStrategy:
    return component_values if _in_component(path) else values


KNOWN_KEYS = sorted(
    {str(p[-1]) for p in paths(VALID) if isinstance(p[-1], str)}
    | {"type", "step", "choices", "low", "high", "log", "targets", "per_target", "init_from"}
)


@st.composite
def mutated_specs(draw, max_mutations: int = 3) -> dict:
    """The valid spec with up to three leaves or subtrees replaced by values of any type,
    keys deleted, renamed or added."""
    raw = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, max_mutations))):
        where = paths(raw)
        action = draw(
            st.sampled_from(["replace", "delete", "add", "rename"]) if where else st.just("add")
        )
        if action == "add":
            folders = [()] + [p for p in where if isinstance(get(raw, p), dict)]
            folder = draw(st.sampled_from(folders))
            key = draw(st.one_of(keys, st.sampled_from(KNOWN_KEYS)))
            get(raw, folder)[key] = draw(_any_value((*folder, key)))
            continue
        path = draw(st.sampled_from(where))
        parent = get(raw, path[:-1])
        if action == "replace":
            parent[path[-1]] = draw(_any_value(path))
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):  # rename
            new = draw(st.one_of(keys, st.sampled_from(KNOWN_KEYS)))
            if new not in parent:
                parent[new] = parent.pop(path[-1])
    return raw


def like(value: Any, path: tuple = ()) -> st.SearchStrategy:
    """Values of the same kind as `value`, edge cases included: mutations that get past the
    schema and on to the semantic checks."""
    if _in_component(path):
        if path[-1] == "hidden_size":  # far too large to allocate, or to count in int64
            return st.one_of(component_scalars, st.sampled_from([10**6, 2**40, 2**63]))
        return component_scalars
    if isinstance(value, bool):
        return st.one_of(st.booleans(), scalars)
    if isinstance(value, int):
        return st.one_of(
            st.sampled_from([0, -1, 1, 2**31, 2**32 - 1, 2**32, 2**63, -(2**63), 2**70]),
            st.integers(-(2**40), 2**40),
            st.floats(allow_nan=True, allow_infinity=True),
        )
    if isinstance(value, float):
        return st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from([0.0, -0.0, 1.0, 5e-324, 1e308, float("nan"), float("inf")]),
            st.integers(-10, 10),
        )
    if isinstance(value, str):
        return st.one_of(st.text(max_size=12), st.sampled_from(["", " ", "lstm", "cnn", "mel"]))
    return values


LEAVES = [p for p in paths(VALID) if not isinstance(get(VALID, p), dict | list)]


@st.composite
def tweaked_specs(draw, max_tweaks: int = 2) -> dict:
    """The valid spec with one or two leaves set to a value of the same kind."""
    raw = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, max_tweaks))):
        path = draw(st.sampled_from(LEAVES))
        get(raw, path[:-1])[path[-1]] = draw(like(get(VALID, path), path))
    return raw


def dump(raw: Any) -> str:
    """YAML text for any nested value (keys of any scalar type, floats of any value)."""
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)


def yaml_scalar(value: Any) -> str:
    """A value as YAML flow text, for the right-hand side of `--set`."""
    return (
        yaml.safe_dump(value, default_flow_style=True, width=10**6).removesuffix("\n...\n").strip()
    )


yaml_documents = st.one_of(
    values.map(dump),
    st.dictionaries(st.sampled_from(list(VALID)), values, max_size=6).map(dump),
)
# Text made of YAML's own punctuation and the spec's words, so the parser gets far and
# fails in odd places (tags, anchors, control characters, a BOM, several documents).
yaml_ish = st.lists(
    st.one_of(
        st.sampled_from(
            [
                ":",
                ": ",
                "- ",
                "[",
                "]",
                "{",
                "}",
                ",",
                "\n",
                "\n  ",
                "  ",
                "#",
                "&a ",
                "*a",
                "!!str ",
                "!!python/object:os.system ",
                "!foo ",
                "|",
                ">",
                "'",
                '"',
                "---\n",
                "...\n",
                "? ",
                "%YAML 1.1\n",
                "\t",
                "\ufeff",
                "\r\n",
                "<<: ",
                "study",
                "data",
                "model",
                "search",
                "space",
                "low",
                "high",
                "1e400",
                ".nan",
                "-.inf",
                "0x1F",
                "2001-12-14",
                "~",
                "yes",
                "\x00",
                "\x1d",
                "\x85",
                "\u2028",
                "\ud800",
            ]
        ),
        st.text(max_size=6),
    ),
    max_size=30,
).map("".join)
random_bytes = st.binary(max_size=200)

override_paths = st.one_of(
    st.text(max_size=30),
    st.lists(
        st.one_of(
            st.sampled_from([*KNOWN_KEYS, "", " ", "0", "model.backbone"]), st.text(max_size=6)
        ),
        min_size=1,
        max_size=4,
    ).map(".".join),
)
override_values = st.one_of(st.text(max_size=30), values.map(yaml_scalar))
overrides = st.builds(
    lambda path, sep, value: f"{path}{sep}{value}",
    override_paths,
    st.sampled_from(["=", "=", "", "=="]),
    override_values,
)
# `--set` of a field that exists, to a value of its own kind: gets through to the checks.
leaf_overrides = st.sampled_from(LEAVES).flatmap(
    lambda path: like(get(VALID, path), path).map(
        lambda v: ".".join(map(str, path)) + "=" + yaml_scalar(v)
    )
)


def write(path: Path, text: str | bytes) -> Path:
    """Write a spec as bytes (lone surrogates included, as a broken editor might)."""
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    return path


def load(path: Path, sets: list[str] | tuple[str, ...] = ()) -> Any:
    """What `sweep validate`, `show`, `run` and `check` run on a spec file."""
    from sweep.cli.app import load_checked_spec

    return load_checked_spec(path, list(sets), None)


def check(path: Path, sets: list[str] | tuple[str, ...] = ()) -> str:
    """Load the spec: "ok" for a Spec, "error" for a one-line SweepError. A SweepError with
    an empty or multi-line message fails an assertion; any other exception goes through."""
    try:
        load(path, sets)
    except SweepError as e:
        # `sweep validate` prints every problem of a spec, one per line
        for message in [str(e), *map(str, getattr(e, "problems", ()))]:
            assert message.strip(), f"an empty message from {type(e).__name__}"
            assert "\n" not in message and "\r" not in message, f"multi-line: {message!r}"
        return "error"
    return "ok"


def exercise(spec: Any) -> None:
    """What `sweep run` does with a loaded spec before it reads data: build the sampler and
    the pruner, seed everything, and resolve the reference and two sampled trials into
    specs. A spec that loads must get through this without a traceback."""
    import numpy as np
    import optuna
    import torch

    from sweep import pruning, space, splits, study

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = study.make_sampler(spec.search.sampler, spec)
    pruning.make_pruner(spec)
    trials = optuna.create_study(sampler=sampler, direction=spec.direction)
    space.apply(spec, space.reference_params(spec))
    for _ in range(2):
        trial = trials.ask()
        space.apply(spec, space.suggest(trial, spec.search.space))
        trials.tell(trial, 0.0)
    torch.manual_seed(spec.training.seed)
    np.random.default_rng(spec.training.seed)
    # 50 tracks may be too few for the fraction: a one-line error, not a bug
    with contextlib.suppress(SweepError):
        splits.carve(50, spec.data.val_fraction, spec.data.split_seed, np.arange(50) % 3)


# name -> (strategy, what the example is, whether a spec that loads is exercised too).
# "spec": the text or bytes of the spec file; "set": `--set` overrides of the valid spec.
PROPERTIES: dict[str, tuple[st.SearchStrategy, str, bool]] = {
    "mutated": (mutated_specs().map(dump), "spec", True),
    "edge values": (tweaked_specs().map(dump), "spec", True),
    "yaml": (yaml_documents, "spec", False),
    "yaml-ish text": (yaml_ish, "spec", False),
    "bytes": (random_bytes, "spec", False),
    "--set any": (st.lists(overrides, min_size=1, max_size=3), "set", False),
    "--set edge": (st.lists(leaf_overrides, min_size=1, max_size=3), "set", True),
}


def run_example(name: str, example: Any, path: Path) -> str:
    """One example of a property, through the loader (and `exercise` where it loads):
    "ok" or "error"; a traceback or a bad message raises."""
    _, kind, exercised = PROPERTIES[name]
    sets = example if kind == "set" else ()
    write(path, dump(VALID) if kind == "set" else example)
    outcome = check(path, sets)
    if outcome == "ok" and exercised:
        exercise(load(path, sets))
    return outcome
