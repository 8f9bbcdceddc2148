"""Where components are declared: sweep's pyproject.toml and third parties' metadata."""

import ast
import sys
import tomllib
from pathlib import Path

import pytest

from sweep import entry_points, registry
from sweep.errors import SweepError
from sweep.registry import Registry

REPO = Path(__file__).resolve().parents[1]


def _pyproject_components() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return project["entry-points"][entry_points.ENTRY_POINT_GROUP]


def _registered_in(path: Path) -> list[str]:
    """`<registry>.<name>` for every `@<registry>.register("name")` in a module's source."""
    keys = {
        name: value.key for name, value in vars(registry).items() if isinstance(value, Registry)
    }
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "register"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in keys
        ):
            found.append(f"{keys[node.func.value.id]}.{node.args[0].value}")
    return found


def test_every_builtin_component_is_declared_in_pyproject():
    """A new built-in component cannot be forgotten: its entry point is checked here."""
    registered = {}
    for path in sorted((REPO / "components").rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        for name in _registered_in(path):
            registered[name] = module
    assert len(registered) >= 10, "the components under components/ were not found"
    assert _pyproject_components() == registered  # nothing missing, nothing left over


def test_sweep_runs_from_a_checkout_on_its_own_pyproject():
    """The checkout's pyproject.toml, not the installed metadata (stale in an editable
    install), says what sweep declares; every one of them loads and registers its name."""
    declared = entry_points.declared_components()
    for name, module in _pyproject_components().items():
        assert declared[name].entry_point.value == module
        assert declared[name].distribution == "sweep's pyproject.toml"
        key, _, component = name.partition(".")
        assert registry.REGISTRIES[key].get(component).__module__ == module


def _write_distribution(folder: Path, name: str, declared: dict[str, str]) -> None:
    """An installed distribution as importlib.metadata finds it in a sys.path folder."""
    info = folder / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = [f"[{entry_points.ENTRY_POINT_GROUP}]"]
    lines += [f"{key} = {value}" for key, value in declared.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


THIRD_PARTY_FEATURES = '''\
import numpy as np
from sweep.dataset_api import FeatureSet
from sweep.registry import feature_sets


@feature_sets.register("top_chroma")
def top_chroma():
    """The chroma rows alone, from a third party."""
    return FeatureSet("top_chroma", np.arange(128, 140), np.zeros(12))
'''


def test_a_third_party_distribution_is_found_through_its_metadata(monkeypatch, tmp_path):
    (tmp_path / "third_party_features.py").write_text(THIRD_PARTY_FEATURES)
    _write_distribution(
        tmp_path,
        "third-party-features",
        {
            "features.top_chroma": "third_party_features",
            "features.broken_bands": "third_party_missing_module",
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert {"top_chroma", "broken_bands", "mel"} <= set(registry.feature_sets.names())
    assert "third_party_features" not in sys.modules  # listed, not imported
    assert registry.feature_sets.build("top_chroma").n_features == 12
    assert registry.feature_sets.info("top_chroma").module == "third_party_features"
    with pytest.raises(
        SweepError,
        match=r"plugin 'features.broken_bands' \(third_party_missing_module\) from "
        r"third-party-features failed to load: ModuleNotFoundError",
    ):
        registry.feature_sets.get("broken_bands")
    assert registry.feature_sets.build("chroma").n_features == 12  # the rest still works


def test_installed_metadata_of_sweep_is_read_outside_a_checkout(monkeypatch, tmp_path):
    _write_distribution(tmp_path, "sweep", {"backbones.stale_one": "a_module_long_gone"})
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "stale_one" not in registry.backbones.names()  # a checkout: its pyproject wins
    monkeypatch.setattr(entry_points, "_checkout_entry_points", lambda: None)
    entry_points._declared_on.cache_clear()  # the scan is cached on sys.path, not on this
    try:
        assert entry_points.declared_components()["backbones.stale_one"].distribution == "sweep"
    finally:
        monkeypatch.undo()
        entry_points._declared_on.cache_clear()
    assert "stale_one" not in registry.backbones.names()
