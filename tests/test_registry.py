"""The registry: names, signatures, registration keywords, lazy loading and user code."""

import inspect
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from sweep import entry_points, registry
from sweep.errors import SweepError
from sweep.registry import NO_DEFAULT, Registry, RegistryError

REPO = Path(__file__).resolve().parents[1]


def test_register_returns_the_factory_and_refuses_duplicates():
    things = Registry("things", "thing")

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
        entry_points, "entry_points", lambda group: [e for e in eps if e.group == group]
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
    broken = EntryPoint(
        "features.broken", "no_such_module_anywhere", entry_points.ENTRY_POINT_GROUP
    )
    good = EntryPoint("features.low_mel", "my_plugin_features", entry_points.ENTRY_POINT_GROUP)
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


# Signatures ---------------------------------------------------------------------------------


@pytest.fixture
def things():
    """A registry of its own, the engine passing `n_features` as it does to backbones."""
    things = Registry("things", "thing", engine_args=("n_features",))

    @things.register("strict")
    def strict(n_features: int, size: int = 3, *, mode: str) -> int:
        return size

    @things.register("by_position")
    def by_position(size=1, /, **extra):
        return size

    return things


def test_parameters_say_name_kind_default_annotation_and_the_engines(things):
    n_features, size, mode = things.parameters("strict")
    assert (n_features.name, n_features.engine, n_features.default) == (
        "n_features",
        True,
        NO_DEFAULT,
    )
    assert (size.name, size.default, size.annotation, size.engine) == ("size", 3, int, False)
    assert mode.kind is inspect.Parameter.KEYWORD_ONLY and mode.default is NO_DEFAULT
    assert things.settable("strict") == ["size", "mode"]
    assert things.defaults("strict") == {"size": 3}
    assert things.signature("strict") == "(n_features: int, size: int = 3, *, mode: str)"


def test_check_call_says_what_is_unknown_missing_or_set_by_the_engine(things):
    assert things.check_call("strict", {"mode": "a", "size": 4}).fits
    check = things.check_call("strict", {"sise": 4})
    assert check.unknown == ("sise",) and check.missing == ("mode",)
    assert check.error == "missing a required argument: 'mode'"  # Python's words, first misfit
    assert check.suggestions == {"sise": "size"} and check.hint == " Did you mean 'size'?"
    check = things.check_call("strict", {"mode": "a", "sise": 4})
    assert check.error == "got an unexpected keyword argument 'sise'" and not check.fits
    check = things.check_call("strict", {"mode": "a", "n_features": 2})
    assert check.engine_given == ("n_features",) and check.error is None and not check.fits
    assert things.check_call("strict", {"mode": "a", "zzz": 1}).hint == ""


def test_check_call_refuses_a_positional_only_parameter_by_name(things):
    check = things.check_call("by_position", {"size": 2, "other": 1})
    assert check.unknown == () and check.positional_only == ("size",)  # **extra takes other
    assert check.error == "'size' parameter is positional only, but was passed as a keyword"
    assert things.check_call("by_position", {"other": 1}).fits


def test_check_call_of_an_unknown_component_is_a_registry_error(things):
    with pytest.raises(RegistryError, match=r"Unknown thing 'strct'.*Did you mean 'strict'\?"):
        things.check_call("strct", {})


def test_did_you_mean_names_the_closest_or_nothing():
    assert registry.did_you_mean("hiden_size", ["hidden_size", "dropout"]) == (
        " Did you mean 'hidden_size'?"
    )
    assert registry.did_you_mean("xyz", ["hidden_size"]) == ""


# Registration keywords ----------------------------------------------------------------------


def test_registration_keywords_are_the_registrys_own():
    tasks = Registry("tasks", "task head", metadata=("default_for_task",))
    tasks.register("a", default_for_task="classification")(lambda: 0)
    tasks.register("b")(lambda: 1)
    assert tasks.metadata("a") == {"default_for_task": "classification"}
    assert tasks.metadata("b") == {}
    assert tasks.find("default_for_task", "classification") == ["a"]
    assert tasks.find("default_for_task", "regression") == []
    with pytest.raises(
        RegistryError,
        match=r"task head 'c': a task head registers with default_for_task besides its name, "
        r"but got default_for_tsk",
    ):
        tasks.register("c", default_for_tsk="classification")


def test_builtins_register_the_defaults_a_spec_leaves_out():
    for kind, head in (
        ("classification", "classifier"),
        ("regression", "regressor"),
        ("multitask", "multitask"),
    ):
        assert registry.heads.find("default_for_task", kind) == [head]
    for dataset in ("fma_genre", "multitask"):
        assert registry.datasets.metadata(dataset) == {"default_features": "fused"}


# Entry points -------------------------------------------------------------------------------


def test_a_declared_name_belongs_to_the_module_that_declares_it(monkeypatch):
    declared = EntryPoint("backbones.not_yet", "module_not_imported_yet", "sweep.components")
    _fake_entry_points(monkeypatch, declared)
    with pytest.raises(
        RegistryError,
        match=r"backbone 'not_yet' is already declared by an unknown distribution "
        r"\(entry point 'backbones.not_yet' = 'module_not_imported_yet'\)",
    ):
        registry.backbones.register("not_yet")(lambda n_features: None)


def test_a_module_that_does_not_register_its_name_is_an_error(monkeypatch):
    _fake_entry_points(monkeypatch, EntryPoint("backbones.absent", "json", "sweep.components"))
    with pytest.raises(
        RegistryError, match=r"plugin 'backbones.absent' \(json\) .* registers no backbone"
    ):
        registry.backbones.get("absent")


def test_looking_for_a_default_skips_a_broken_plugin(monkeypatch):
    broken = EntryPoint("heads.broken_head", "no_such_head_module", "sweep.components")
    _fake_entry_points(monkeypatch, broken)
    assert registry.heads.find("default_for_task", "classification") == ["classifier"]
    assert "ModuleNotFoundError" in registry.heads.failed()["broken_head"]
    with pytest.raises(SweepError, match=r"plugin 'heads.broken_head' .* failed to load"):
        registry.heads.get("broken_head")  # the error is kept for when it is asked for
