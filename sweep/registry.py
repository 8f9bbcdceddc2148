"""Named factories for every swappable part: data sets, feature sets, backbones, heads.

One small `Registry` class and one instance per kind. A component registers itself with a
decorator that returns it unchanged:

    from sweep.registry import backbones

    @backbones.register("tiny_gru")
    def tiny_gru(n_features: int, hidden: int = 32): ...

Looking up an unknown name raises a `RegistryError` that lists what exists and suggests the
closest name. Components come from three places: the built-in `components` package
(imported on first use), a user's file passed with `--code` (see `import_user_code`), and
third-party packages through the `sweep.components` entry-point group. Entry points are
named `<registry>.<component>` and point to the module that registers the component, e.g.
`"backbones.tiny_gru" = "my_package.tiny_gru"`; a plugin is imported only when its name is
asked for, so one broken plugin cannot break everything else.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, TypeVar

from sweep.errors import SweepError

F = TypeVar("F", bound=Callable[..., Any])

ENTRY_POINT_GROUP = "sweep.components"


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


class Registry:
    """Names -> factories for one kind of component."""

    def __init__(self, key: str, kind: str, builtin: str) -> None:
        self.key = key  # plural, as in entry-point names and `sweep components KEY`
        self.kind = kind  # singular, as in messages
        self.builtin = builtin  # the package of built-in components, imported on first use
        self._factories: dict[str, Callable[..., Any]] = {}
        self._builtin_loaded = False

    def _load_builtin(self) -> None:
        # Per registry, so that reading data never imports torch for the backbones.
        if not self._builtin_loaded:
            self._builtin_loaded = True
            importlib.import_module(self.builtin)

    def register(self, name: str) -> Callable[[F], F]:
        """Decorator: register a factory under `name`; a name may be registered once."""

        def decorate(factory: F) -> F:
            if name in self._factories:
                other = self._factories[name]
                raise RegistryError(
                    f"{self.kind} {name!r} is already registered by "
                    f"{other.__module__}.{other.__qualname__}"
                )
            self._factories[name] = factory
            return factory

        return decorate

    def get(self, name: str) -> Callable[..., Any]:
        """The factory registered as `name`; an unknown name lists the ones that exist."""
        self._load_builtin()
        if name not in self._factories and name in self._plugins():
            _load_plugin(self._plugins()[name])
        if name in self._factories:
            return self._factories[name]
        names = self.names()
        message = f"Unknown {self.kind} {name!r}. Available: {', '.join(names) or '(none)'}."
        close = difflib.get_close_matches(name, names, n=1)
        if close:
            message += f" Did you mean {close[0]!r}?"
        raise RegistryError(message)

    def build(self, name: str, /, **params: Any) -> Any:
        return self.get(name)(**params)

    def names(self) -> list[str]:
        """Every registered name, plugins not yet imported included."""
        self._load_builtin()
        return sorted(set(self._factories) | set(self._plugins()))

    def _plugins(self) -> dict[str, EntryPoint]:
        prefix = self.key + "."
        return {
            ep.name.removeprefix(prefix): ep
            for ep in entry_points(group=ENTRY_POINT_GROUP)
            if ep.name.startswith(prefix)
        }

    def info(self, name: str) -> ComponentInfo:
        factory = self.get(name)
        doc = inspect.getdoc(factory) or ""
        return ComponentInfo(
            kind=self.kind,
            name=name,
            module=factory.__module__,
            summary=doc.splitlines()[0] if doc else "",
            signature=_signature(factory),
        )

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {sorted(self._factories)})"


def _signature(factory: Callable[..., Any]) -> str:
    """The factory's parameters with their annotations resolved (the return type is noise)."""
    try:
        signature = inspect.signature(factory, eval_str=True)
    except (NameError, TypeError, SyntaxError):  # a forward reference that cannot resolve
        signature = inspect.signature(factory)
    return str(signature.replace(return_annotation=inspect.Signature.empty))


datasets = Registry("datasets", "dataset", "components.datasets")
feature_sets = Registry("features", "feature set", "components.features")
backbones = Registry("backbones", "backbone", "components.backbones")
heads = Registry("heads", "head", "components.heads")

REGISTRIES: dict[str, Registry] = {r.key: r for r in (datasets, feature_sets, backbones, heads)}


def load_components() -> None:
    """Import every built-in component (before a user's file may register more)."""
    for registry in REGISTRIES.values():
        registry._load_builtin()


def _load_plugin(ep: EntryPoint) -> None:
    """Import one entry-point plugin; a failure names the distribution that ships it."""
    try:
        ep.load()
    except Exception as e:  # a third-party import can fail in any way
        dist = ep.dist.name if ep.dist else "an unknown distribution"
        raise SweepError(
            f"plugin {ep.name!r} ({ep.value}) from {dist} failed to load: {type(e).__name__}: {e}"
        ) from e


def import_user_code(path: Path) -> None:
    """Import a user's Python file of components (the CLI's `--code FILE.py`)."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"{path}: --code file not found")
    load_components()
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
