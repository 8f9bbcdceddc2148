"""The checks a spec needs beyond its schema, none of which trains anything.

Registry names exist; component parameters fit the component's signature; every search
path names a parameter that exists (for the backbone of its branch); a data or training
field's space holds only values the field takes; the reference configuration lies inside
the space; the grid sampler gets a finite space; reference rows exist. Each problem is
located in the spec file, like a schema error.
"""

from __future__ import annotations

from typing import Any

from sweep.errors import SweepError
from sweep.references import reference_table
from sweep.registry import (
    NO_DEFAULT,
    Registry,
    backbones,
    datasets,
    did_you_mean,
    feature_sets,
    heads,
)
from sweep.space import active_params, apply, reference_params
from sweep.spec import METRICS, CategoricalParam, FloatParam, Param, Spec, TrainingSpec
from sweep.specfile import Problem, SpecProblems, SpecSource

# Fields a search may set. The split (fractions, seed, file) is not searchable: trials
# must be compared on the same validation tracks.
SEARCHABLE_DATA = (
    "features",
    "beat",
    "normalization",
    "max_length",
    "crop_frames",
    "eval_windows",
)
# Never searched: trials judged on their best epoch would outrank those judged on their
# last, by the lift of choosing an epoch on the validation tracks (search.selection.keep
# sets it for every trial but the reference).
STUDY_WIDE_TRAINING = ("keep",)
SEARCHABLE_TRAINING = tuple(
    f for f in TrainingSpec.model_fields if f not in ("device", "threads", *STUDY_WIDE_TRAINING)
)


def check_spec(spec: Spec, source: SpecSource) -> None:
    """Raise SpecProblems listing everything wrong with a schema-valid spec."""
    problems = list(_problems(spec, source))
    if problems:
        raise SpecProblems(problems)


def _problems(spec: Spec, source: SpecSource):
    def at(path: tuple, message: str, field: str | None = None, key: bool = False) -> Problem:
        return Problem(source.where(path, key=key), field or ".".join(map(str, path)), message)

    for registry, name, path in (
        (datasets, spec.data.dataset, ("data", "dataset")),
        (feature_sets, spec.data.features, ("data", "features")),
        (backbones, spec.model.backbone, ("model", "backbone")),
        (heads, spec.head, ("model", "head")),
    ):
        if name is None:  # data.features left out, for a data set that names no default
            yield at(
                path,
                f"dataset {spec.data.dataset!r} registers no default feature set "
                f"(default_features): name one in data.features",
            )
            return
        if (message := _unknown(registry, name)) is not None:
            yield at(path, message)
            return  # the checks below need the components

    allowed = METRICS["classification" if spec.task.kind == "classification" else "regression"]
    if spec.metric not in allowed:
        yield at(
            ("search", "metric"),
            f"for {spec.task.kind} the metric must be one of "
            f"{', '.join(allowed)}, got {spec.metric!r}",
        )

    if spec.training.keep == "last" and spec.training.patience is not None:
        yield at(
            ("training", "keep"),
            "keeping the last epoch needs training.patience: null (early stopping stops "
            f"{spec.training.patience} epochs after the best, so the last epoch is by "
            "construction no better); search.selection.keep: last sets both for every trial "
            "but the reference",
        )

    def misfit(base: tuple, name: str | None, message: str) -> Problem:
        # at the parameter's own key where the spec wrote it, else at the mapping
        if name is None:
            return at(base, message)
        return at((*base, name), message, field=".".join(base), key=True)

    yield from (
        misfit(("data", "options"), name, m)
        for name, m in _bind(datasets, spec.data.dataset, spec.resolved_data.options)
    )
    misfits = [
        misfit(("model", "backbone_params"), name, m)
        for name, m in _bind(backbones, spec.model.backbone, spec.model.backbone_params)
    ]
    misfits += [
        misfit(("model", "head_params"), name, m)
        for name, m in _bind(heads, spec.head, spec.model.head_params)
    ]
    yield from misfits
    if not misfits:  # only parameters that fit are worth building with
        yield from _build_problems(spec, at)

    if spec.model.init_from:
        for path, _ in active_params(spec.search.space, {}):
            if path.startswith("model.backbone"):
                yield at(
                    ("search", "space", path),
                    "a transferred backbone is the checkpoint's: "
                    "its parameters cannot be searched (model.init_from is set)",
                    field=f"search.space.{path}",
                )

    space_path = ("search", "space")
    space_problems = list(
        _check_space(spec, spec.search.space, spec.model.backbone, spec.head, space_path, at)
    )
    if space_problems:
        yield from space_problems
        return  # the reference cannot be placed in a space with paths that do not exist

    reference = reference_params(spec)
    for path, param in active_params(spec.search.space, reference):
        value = reference[path]
        if value is NO_DEFAULT:
            yield at(
                (*space_path, path),
                "the reference configuration sets no value here and the component has no default",
                field=f"search.space.{path}",
            )
        elif not param.contains(value):
            yield at(
                (*space_path, path),
                f"the reference configuration must lie inside the "
                f"space ({_describe(param)}), got {value!r}",
                field=f"search.space.{path}",
            )

    for i, values in enumerate(spec.search.enqueue):
        active = dict(active_params(spec.search.space, values))
        for path, value in values.items():
            where = ("search", "enqueue", i, path)
            if path not in active:
                yield at(
                    where,
                    f"not a path of the space or of the branches its choices open "
                    f"({', '.join(sorted(active)) or 'the space is empty'}), got {path!r}",
                    field=f"search.enqueue[{i}]",
                    key=True,
                )
            elif not active[path].contains(value):
                yield at(
                    where,
                    f"outside the space's {path} ({_describe(active[path])}), got {value!r}",
                    field=f"search.enqueue[{i}]",
                )

    if spec.search.sampler.name == "grid":
        for path, param in active_params(spec.search.space, {}):
            if isinstance(param, FloatParam) and param.step is None:
                yield at(
                    (*space_path, path),
                    "the grid sampler needs a step for every float, got none",
                    field=f"search.space.{path}",
                )
            if isinstance(param, CategoricalParam) and isinstance(param.choices, dict):
                yield at(
                    (*space_path, path),
                    "the grid sampler cannot follow conditional branches",
                    field=f"search.space.{path}",
                )

    table = reference_table()
    for i, name in enumerate(spec.reference):
        if name not in table:
            yield at(("reference", i), _unknown_name("reference row", name, list(table)))


def _check_space(spec, space: dict[str, Param], backbone: str, head: str, base: tuple, at):
    for path, param in space.items():
        where = (*base, path)
        field = ".".join(map(str, where))
        section, _, rest = path.partition(".")
        choices = param.values if isinstance(param, CategoricalParam) else None
        if path in ("model.backbone", "model.head"):
            registry = backbones if path == "model.backbone" else heads
            if choices is None:
                yield at(where, "must be a categorical choice of registered names", field)
                continue
            for choice in choices:
                if (message := _unknown(registry, str(choice))) is not None:
                    yield at(where, message, field)
        elif section == "model" and rest.startswith(("backbone_params.", "head_params.")):
            kind, _, name = rest.partition(".")
            registry, component = (
                (backbones, backbone) if kind == "backbone_params" else (heads, head)
            )
            settable = _settable(registry, component)
            if name not in settable:
                yield at(
                    where,
                    f"{registry.kind} {component!r} has no parameter {name!r} "
                    f"(it has: {', '.join(settable)}){did_you_mean(name, settable)}",
                    field,
                )
        elif section == "data" and rest.startswith("options."):
            name = rest.removeprefix("options.")
            settable = _settable(datasets, spec.data.dataset)
            if name not in settable:
                yield at(
                    where,
                    f"dataset {spec.data.dataset!r} has no option {name!r}"
                    + did_you_mean(name, settable),
                    field,
                )
        elif section == "data" and rest not in SEARCHABLE_DATA:
            yield at(
                where,
                f"searchable data fields are {', '.join(SEARCHABLE_DATA)} and "
                f"data.options.*, got {path!r}",
                field,
            )
        elif section == "training" and rest in STUDY_WIDE_TRAINING:
            yield at(
                where,
                f"{path} is not searched (trials kept at their best epoch would outrank those "
                "kept at their last): set search.selection.keep for every trial but the "
                "reference, or training.keep for every trial",
                field,
            )
        elif path == "training.patience" and "last" in (
            spec.search.selection.keep,
            spec.training.keep,
        ):
            yield at(
                where,
                "training.patience is not searched where trials keep their last epoch "
                "(they train to max_epochs, cut only by the pruner)",
                field,
            )
        elif section == "training" and rest not in SEARCHABLE_TRAINING:
            yield at(
                where,
                f"searchable training fields are {', '.join(SEARCHABLE_TRAINING)}, got {path!r}",
                field,
            )
        elif section in ("data", "training"):  # a searchable field
            yield from _field_values(spec, path, param, where, field, at)
        elif section not in ("data", "training", "model"):
            yield at(
                where, f"a search path starts with data., training. or model., got {path!r}", field
            )
        if isinstance(param, CategoricalParam) and isinstance(param.choices, dict):
            for choice, branch in param.choices.items():
                yield from _check_space(
                    spec,
                    branch,
                    choice if path == "model.backbone" else backbone,
                    choice if path == "model.head" else head,
                    (*where, "choices", choice),
                    at,
                )


def _field_values(spec: Spec, path: str, param: Param, where: tuple, field: str, at):
    """A data or training field must take every value its space holds: each choice, or both
    bounds and a value between them (a float space over an integer field fails there)."""
    from pydantic import ValidationError

    if isinstance(param, CategoricalParam):
        values = param.values
    else:
        values = [param.low, param.high]
        if isinstance(param, FloatParam) and param.step is None and param.low < param.high:
            values.append(param.low + 0.37 * (param.high - param.low))
    for value in values:
        try:
            apply(spec, {path: value})
        except ValidationError as e:
            yield at(
                where,
                f"every value of the space must be a valid {path}, but {value!r} is not: "
                f"{e.errors()[0]['msg']}",
                field,
            )
            return


def _build_problems(spec: Spec, at):
    """Build the reference model once, on the feature set's width: values a component
    refuses (a pooling name, a negative size) are found here, not in the first trial."""
    n_features = feature_sets.build(spec.data.features).n_features
    n_outputs = max(2, len(spec.task.targets or ()))
    try:
        net = _build(
            backbones, spec.model.backbone, n_features=n_features, **spec.model.backbone_params
        )
    except (ValueError, TypeError, RuntimeError, OverflowError) as e:
        yield at(("model", "backbone_params"), _first_line(e))
        return
    try:
        _build(
            heads,
            spec.head,
            in_features=net.out_features,
            n_outputs=n_outputs,
            **spec.model.head_params,
        )
    except (ValueError, TypeError, RuntimeError, OverflowError) as e:
        yield at(("model", "head_params"), _first_line(e))


def _build(registry: Registry, name: str, **kwargs):
    """A component built on PyTorch's meta device: shapes without memory, so that checking
    `hidden_size: 1000000` takes neither time nor memory (training it is another matter).
    A component that cannot be built there is built for real."""
    import torch

    try:
        with torch.device("meta"):
            return registry.build(name, **kwargs)
    except (ValueError, TypeError):
        raise  # the component's own checks, which do not depend on the device
    except Exception as on_meta:  # a size too large to count, or a component needing data
        try:
            return registry.build(name, **kwargs)
        except Exception:
            raise on_meta from None


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _unknown(registry: Registry, name: str) -> str | None:
    try:
        registry.get(name)
    except SweepError as e:
        return str(e)
    return None


def _unknown_name(kind: str, name: str, known: list[str]) -> str:
    return f"unknown {kind} {name!r}.{did_you_mean(name, known)}"


def _settable(registry: Registry, name: str) -> list[str]:
    """The parameters a spec may set; none for a component that does not exist (a problem
    reported on its own)."""
    try:
        return registry.settable(name)
    except SweepError:
        return []


def _bind(registry: Registry, name: str, params: dict[str, Any]):
    """(the parameter at fault or None, message) for parameters that do not fit the
    component's signature."""
    check = registry.check_call(name, params)
    for arg in check.engine_given:
        yield arg, f"{arg!r} is set by sweep from the data, not in the spec"
    if check.error is not None:
        yield (
            check.unknown[0] if check.unknown else None,
            f"{check.error} ({registry.kind} {name!r} takes: "
            f"{', '.join(registry.settable(name))}){'.' if check.hint else ''}{check.hint}",
        )


def _describe(param: Param) -> str:
    if isinstance(param, CategoricalParam):
        return f"choices {param.values}"
    return f"[{param.low}, {param.high}]" + (" log" if param.log else "")
