from importlib.metadata import EntryPoint

import pytest

from sweep import registry
from sweep.errors import SweepError
from sweep.registry import Registry, RegistryError


def test_register_returns_the_factory_and_refuses_duplicates():
    things = Registry("things", "thing", "json")  # any importable package

    @things.register("a")
    def make_a(size: int = 3) -> int:
        """Makes an a."""
        return size

    assert make_a(2) == 2  # unchanged by the decorator
    assert things.build("a", size=5) == 5
    with pytest.raises(RegistryError, match=r"thing 'a' is already registered by .*make_a"):
        things.register("a")(lambda: 0)
    info = things.info("a")
    assert info.summary == "Makes an a." and info.signature == "(size: int = 3)"


def test_unknown_names_list_what_exists_and_suggest_the_closest():
    with pytest.raises(RegistryError) as err:
        registry.datasets.get("fma_genr")
    assert str(err.value) == (
        "Unknown dataset 'fma_genr'. Available: fma_genre, multitask. Did you mean 'fma_genre'?"
    )
    assert isinstance(err.value, SweepError)


def test_builtin_components_are_registered():
    assert {"chroma", "fused", "mel"} <= set(registry.feature_sets.names())
    assert "fma_genre" in registry.datasets and "multitask" in registry.datasets


def _fake_entry_points(monkeypatch, *eps):
    monkeypatch.setattr(
        registry, "entry_points", lambda group: [e for e in eps if e.group == group]
    )


def test_plugins_are_listed_and_imported_only_when_asked_for(monkeypatch, tmp_path):
    plugin = tmp_path / "my_plugin_features.py"
    plugin.write_text(
        "import numpy as np\n"
        "from sweep.dataset_api import FeatureSet\n"
        "from sweep.registry import feature_sets\n"
        "@feature_sets.register('low_mel')\n"
        "def low_mel():\n"
        "    '''The 32 lowest mel bands.'''\n"
        "    return FeatureSet('low_mel', np.arange(32), np.full(32, -80.0))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = EntryPoint("features.broken", "no_such_module_anywhere", registry.ENTRY_POINT_GROUP)
    good = EntryPoint("features.low_mel", "my_plugin_features", registry.ENTRY_POINT_GROUP)
    _fake_entry_points(monkeypatch, broken, good)
    assert {"broken", "low_mel"} <= set(registry.feature_sets.names())  # listed, not imported
    assert registry.feature_sets.build("low_mel").n_features == 32
    with pytest.raises(
        SweepError,
        match=r"plugin 'features.broken' .* failed to load: "
        r"ModuleNotFoundError",
    ):
        registry.feature_sets.get("broken")
    assert registry.feature_sets.build("mel").n_features == 128  # the rest still works


def test_user_code_registers_components(tmp_path):
    code = tmp_path / "mine.py"
    code.write_text(
        "import numpy as np\n"
        "from sweep.dataset_api import FeatureSet\n"
        "from sweep.registry import feature_sets\n"
        "@feature_sets.register('chroma_only_c')\n"
        "def chroma_only_c():\n"
        "    return FeatureSet('chroma_only_c', np.array([128]), np.zeros(1))\n"
    )
    registry.import_user_code(code)
    assert registry.feature_sets.build("chroma_only_c").n_features == 1
    bad = tmp_path / "bad.py"
    bad.write_text("import this_does_not_exist\n")
    with pytest.raises(SweepError, match=r"bad.py: failed to import: ModuleNotFoundError"):
        registry.import_user_code(bad)
    with pytest.raises(SweepError, match="--code file not found"):
        registry.import_user_code(tmp_path / "missing.py")
