"""Named factories for every swappable part: data sets, feature sets, backbones, heads.

One small `Registry` class and one instance per kind. A component registers itself with a
decorator that returns it unchanged:

    from sweep.registry import backbones

    @backbones.register("tiny_gru")
    def tiny_gru(n_features: int, hidden: int = 32): ...

Looking up an unknown name raises a `RegistryError` that lists what exists and suggests the
closest name. Components come from two places: the `sweep.components` entry-point group and
a user's file passed with `--code` (see `import_user_code`). Entry points are named
`<registry>.<component>` and point to the module that registers the component, e.g.
`"backbones.tiny_gru" = "my_package.tiny_gru"` (see `sweep.entry_points`); sweep's own
components are declared in its pyproject.toml exactly as a third party's are. A module is
imported only when one of its names is asked for, so one broken plugin cannot break
everything else.

A component may register with the keywords its registry declares besides its name: a head
the task kind it is the default for (`default_for_task`), a data set its default feature
set (`default_features`). That is how a spec's defaults come from the components, and the
engine names none of them.

The registry is also the one place that reads a component's signature: its parameters and
defaults (`parameters`, `defaults`), which of them the engine passes itself (each registry's
`engine_args`, e.g. a backbone's `n_features`), and whether a spec's parameters fit
(`check_call`).
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sweep.entry_points import Declared, declared_components
from sweep.errors import SweepError

F = TypeVar("F", bound=Callable[..., Any])

NO_DEFAULT = inspect.Parameter.empty  # the default of a parameter that has none


class RegistryError(SweepError, KeyError):
    """An unknown or duplicate component name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class ComponentInfo:
    kind: str
    name: str
    module: str
    summary: str
    signature: str


@dataclass(frozen=True)
class ComponentParameter:
    """One parameter of a component's factory.

    Attributes:
        name: The keyword a spec sets it with.
        kind: How Python passes it (`inspect.Parameter.KEYWORD_ONLY`, ...).
        default: Its default value; `NO_DEFAULT` when it has none.
        annotation: Its type, resolved where it can be; `NO_DEFAULT` when unannotated.
        engine: Passed by the engine (one of the registry's `engine_args`), never by a spec.
    """

    name: str
    kind: inspect._ParameterKind
    default: Any
    annotation: Any
    engine: bool


@dataclass(frozen=True)
class CallCheck:
    """How a spec's parameters fit a component's signature (empty fields: they fit).

    Attributes:
        engine_given: Parameters the engine passes itself that the spec sets too, in the
            spec's order.
        unknown: Parameters the component does not take.
        missing: Parameters without a default that neither the spec nor the engine sets.
        positional_only: Parameters set by name that the component takes by position only.
        error: The first misfit other than `engine_given`, in Python's own words
            ("got an unexpected keyword argument 'hiden_size'"); None when there is none.
        suggestions: For each unknown parameter with a close one, the closest name.
    """

    engine_given: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    positional_only: tuple[str, ...] = ()
    error: str | None = None
    suggestions: Mapping[str, str] = field(default_factory=dict)

    @property
    def fits(self) -> bool:
        return not self.engine_given and self.error is None

    @property
    def hint(self) -> str:
        """ " Did you mean 'x'?" for the first unknown parameter with a close name, else ""."""
        for name in self.unknown:
            if name in self.suggestions:
                return f" Did you mean {self.suggestions[name]!r}?"
        return ""


class Registry:
    """Names -> factories for one kind of component, and what each factory takes.

    Args:
        key: Plural, as in entry-point names and `sweep components KEY`.
        kind: Singular, as in messages.
        engine_args: The parameters the engine passes every component of this kind itself,
            inferred from the data (a spec never sets them).
        metadata: The keywords a component may register with besides its name, e.g. a
            head's `default_for_task`.
    """

    def __init__(
        self,
        key: str,
        kind: str,
        engine_args: tuple[str, ...] = (),
        metadata: tuple[str, ...] = (),
    ) -> None:
        self.key = key
        self.kind = kind
        self.engine_args = engine_args
        self.metadata_keys = metadata
        self._factories: dict[str, Callable[..., Any]] = {}
        self._metadata: dict[str, dict[str, Any]] = {}
        # Declared components whose module failed to load: asked for again, the error is
        # raised again without importing the module again.
        self._failed: dict[Declared, SweepError] = {}

    def register(self, name: str, **metadata: Any) -> Callable[[F], F]:
        """Decorator: register a factory under `name`; a name may be registered once.

        A name another module declares as an entry point is that module's: only it may
        register the name (while it is imported), so a `--code` file cannot silently
        replace a built-in component that was not imported yet.
        """
        unknown = sorted(set(metadata) - set(self.metadata_keys))
        if unknown:
            raise RegistryError(
                f"{self.kind} {name!r}: a {self.kind} registers with "
                f"{', '.join(self.metadata_keys) or 'no keywords'} besides its name, "
                f"but got {', '.join(unknown)}"
            )

        def decorate(factory: F) -> F:
            if name in self._factories:
                other = self._factories[name]
                raise RegistryError(
                    f"{self.kind} {name!r} is already registered by "
                    f"{other.__module__}.{other.__qualname__}"
                )
            declared = self._declared().get(name)
            if declared is not None and declared.entry_point.module not in sys.modules:
                ep = declared.entry_point
                raise RegistryError(
                    f"{self.kind} {name!r} is already declared by {declared.distribution} "
                    f"(entry point {ep.name!r} = {ep.value!r})"
                )
            self._factories[name] = factory
            self._metadata[name] = dict(metadata)
            return factory

        return decorate

    def get(self, name: str) -> Callable[..., Any]:
        """The factory registered as `name`; an unknown name lists the ones that exist."""
        if name not in self._factories:
            self._load(name)
        if name in self._factories:
            return self._factories[name]
        names = self.names()
        message = f"Unknown {self.kind} {name!r}. Available: {', '.join(names) or '(none)'}."
        raise RegistryError(message + did_you_mean(name, names))

    def build(self, name: str, /, **params: Any) -> Any:
        return self.get(name)(**params)

    def names(self) -> list[str]:
        """Every registered name, declared ones not yet imported included."""
        return sorted(set(self._factories) | set(self._declared()))

    def metadata(self, name: str) -> dict[str, Any]:
        """What the component registered with besides its name (see `metadata` above)."""
        self.get(name)
        return dict(self._metadata.get(name, {}))

    def find(self, key: str, value: Any) -> list[str]:
        """The names registered with `key=value`, e.g. the head that is a task's default.

        Every declared component of this kind is imported to look. One that fails to load
        is skipped here (its error is raised when its name is asked for), so that a broken
        plugin does not break the components that do not need it.
        """
        for name, declared in self._declared().items():
            if name not in self._factories and declared not in self._failed:
                with contextlib.suppress(SweepError):  # kept, raised when it is asked for
                    self._load(name)
        return sorted(
            name
            for name, factory in self._factories.items()
            if self._metadata.get(name, {}).get(key) == value
        )

    def failed(self) -> dict[str, str]:
        """The declared names whose module failed to load so far, with the error."""
        return {
            name: str(self._failed[declared])
            for name, declared in sorted(self._declared().items())
            if declared in self._failed
        }

    def info(self, name: str) -> ComponentInfo:
        factory = self.get(name)
        doc = inspect.getdoc(factory) or ""
        return ComponentInfo(
            kind=self.kind,
            name=name,
            module=factory.__module__,
            summary=doc.splitlines()[0] if doc else "",
            signature=str(_signature(factory)),
        )

    # Signatures ----------------------------------------------------------------------------

    def parameters(self, name: str) -> tuple[ComponentParameter, ...]:
        """The component's parameters in order, the engine's included (marked `engine`)."""
        return tuple(
            ComponentParameter(
                name=p.name,
                kind=p.kind,
                default=p.default,
                annotation=p.annotation,
                engine=p.name in self.engine_args,
            )
            for p in _signature(self.get(name)).parameters.values()
        )

    def settable(self, name: str) -> list[str]:
        """The parameters a spec may set: every one but the engine's."""
        return [p.name for p in self.parameters(name) if not p.engine]

    def defaults(self, name: str) -> dict[str, Any]:
        """The parameters that have a default, with it."""
        return {p.name: p.default for p in self.parameters(name) if p.default is not NO_DEFAULT}

    def signature(self, name: str) -> str:
        """The factory's parameters as Python writes them, e.g. "(n_features: int, ...)"."""
        return str(_signature(self.get(name)))

    def check_call(self, name: str, params: Mapping[str, Any]) -> CallCheck:
        """How `params` (a spec's) fit the component, called as the engine calls it: by
        keyword, with the registry's `engine_args` added."""
        signature = _signature(self.get(name))
        taken = signature.parameters
        var_keyword = any(p.kind is p.VAR_KEYWORD for p in taken.values())
        settable = [n for n in taken if n not in self.engine_args]
        unknown = () if var_keyword else tuple(n for n in params if n not in taken)
        try:
            signature.bind(**{**dict.fromkeys(self.engine_args), **params})
            error = None
        except TypeError as e:
            error = str(e)
        return CallCheck(
            engine_given=tuple(n for n in params if n in self.engine_args),
            unknown=unknown,
            missing=tuple(
                n
                for n, p in taken.items()
                if p.default is NO_DEFAULT
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                and n not in self.engine_args
                and n not in params
            ),
            # refused by name even with **kwargs, as `Signature.bind` (unlike a call) does
            positional_only=tuple(
                n for n in params if n in taken and taken[n].kind is taken[n].POSITIONAL_ONLY
            ),
            error=error,
            suggestions={
                n: close[0] for n in unknown if (close := difflib.get_close_matches(n, settable, 1))
            },
        )

    # Entry points --------------------------------------------------------------------------

    def _declared(self) -> dict[str, Declared]:
        prefix = self.key + "."
        return {
            name.removeprefix(prefix): declared
            for name, declared in declared_components().items()
            if name.startswith(prefix)
        }

    def _load(self, name: str) -> None:
        """Import the module that declares `name`, if one does; a failure names its
        distribution."""
        declared = self._declared().get(name)
        if declared is None:
            return
        if declared in self._failed:
            raise self._failed[declared]
        ep = declared.entry_point
        try:
            ep.load()
        except Exception as e:  # a third-party import can fail in any way
            self._failed[declared] = SweepError(
                f"plugin {ep.name!r} ({ep.value}) from {declared.distribution} failed to "
                f"load: {type(e).__name__}: {e}"
            )
            raise self._failed[declared] from e
        if name not in self._factories:
            raise RegistryError(
                f"plugin {ep.name!r} ({ep.value}) from {declared.distribution} registers no "
                f"{self.kind} {name!r}"
            )

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {sorted(self._factories)})"


def did_you_mean(name: str, names: list[str]) -> str:
    """ " Did you mean 'x'?" for the closest of `names`, or "" when none is close."""
    close = difflib.get_close_matches(name, names, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _signature(factory: Callable[..., Any]) -> inspect.Signature:
    """The factory's parameters with their annotations resolved (the return type is noise)."""
    try:
        signature = inspect.signature(factory, eval_str=True)
    except (NameError, TypeError, SyntaxError):  # a forward reference that cannot resolve
        signature = inspect.signature(factory)
    return signature.replace(return_annotation=inspect.Signature.empty)


datasets = Registry(
    "datasets", "dataset", engine_args=("root", "beat"), metadata=("default_features",)
)
feature_sets = Registry("features", "feature set")
backbones = Registry("backbones", "backbone", engine_args=("n_features",))
heads = Registry(
    "heads", "head", engine_args=("in_features", "n_outputs"), metadata=("default_for_task",)
)

REGISTRIES: dict[str, Registry] = {r.key: r for r in (datasets, feature_sets, backbones, heads)}


def import_user_code(path: Path) -> None:
    """Import a user's Python file of components (the CLI's `--code FILE.py`)."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"{path}: --code file not found")
    module_name = f"sweep_user_code_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SweepError(f"{path}: not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SweepError:
        raise
    except Exception as e:
        raise SweepError(f"{path}: failed to import: {type(e).__name__}: {e}") from e
