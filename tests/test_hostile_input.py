"""Hostile input, tested: arbitrary specs never give a traceback; hostile data gives one line.

Property tests (hypothesis) throw arbitrary text, bytes, YAML, mutated specs and `--set`
overrides at the loader every command runs (`sweep.cli.app.load_checked_spec`): the answer
is a Spec or a SweepError with a one-line message, never another exception; a spec that
loads also gets through what `sweep run` does before reading data. The strategies live in
tests/hostile_strategies.py, shared with benchmarks/hostile_input.py (thousands of
examples). The examples run are counted and reported at the end of the module.

Data cases go through the real loader (`sweep.data.prepare`, `sweep data summary`, `sweep
run`). Cases tested elsewhere, not repeated here: NaN/inf in one array (test_layout.py), a
truncated array and the CLI's one-line error (test_cli.py), a split too small to carve
(test_data.py), a label file with a BOM and CRLF at the reader's level (test_layout.py), low
> high among other schema errors (test_spec.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings

from sweep.data import prepare
from sweep.errors import DataError, SpecError
from sweep.lab import layout
from sweep.spec import DataSpec
from sweep.specfile import SpecProblems
from tests import hostile_strategies as hs
from tests.conftest import HANG_GUARD_S, tiny_spec, write_tiny_layout

EXAMPLES: Counter[str] = Counter()  # property -> examples run
OUTCOMES: Counter[str] = Counter()  # "ok" / "error", all properties together
FAILED: Counter[str] = Counter()  # property -> examples that raised

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SPEC = Path(tempfile.mkdtemp(prefix="sweep-hostile-")) / "spec.yaml"  # one file, rewritten


@pytest.fixture(scope="module", autouse=True)
def report_examples(request):
    yield
    if not EXAMPLES:
        return
    line = (
        f"hostile input: {sum(EXAMPLES.values())} hypothesis examples, "
        f"{sum(FAILED.values())} tracebacks or bad messages "
        f"({', '.join(f'{k} {v}' for k, v in sorted(EXAMPLES.items()))}; "
        f"{OUTCOMES['ok']} specs loaded, {OUTCOMES['error']} one-line errors)"
    )
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # shown with or without -s
        print(f"\n{line}")


def _property(name: str, examples: int, first=None) -> Counter[str]:
    """Property `name` of tests/hostile_strategies.py on `examples` hypothesis examples (and
    `first`, where given, always); returns its outcomes ("ok": a spec loaded, and was
    exercised where the property says so; "error": a one-line error). A traceback or a bad
    message fails the test."""
    seen: Counter[str] = Counter()

    @settings(SETTINGS, max_examples=examples)
    @given(hs.PROPERTIES[name][0])
    def example_passes(drawn):
        EXAMPLES[name] += 1
        try:
            outcome = hs.run_example(name, drawn, SPEC)
        except BaseException:
            FAILED[name] += 1
            raise
        OUTCOMES[outcome] += 1
        seen[outcome] += 1

    if first is not None:
        example_passes = example(first)(example_passes)
    example_passes()
    return seen


# ----------------------------------------------------------------------------- properties
# Each must have seen the outcomes it is about. The properties made from the valid spec
# (mutated, edge values, --set edge) see both: one that only ever saw errors (a strategy no
# longer producing a valid spec, a loader refusing everything) would pass without testing
# that a spec that loads gets through what `sweep run` does with it. The others (arbitrary
# YAML, text, bytes, overrides) must at least have seen one-line errors.


def test_a_mutated_spec_loads_and_runs_or_fails_in_one_line():
    # About 3% of mutated specs load: the spec unmutated is run too, so that a run of 300
    # that drew no valid one does not fail the test by chance.
    seen = _property("mutated", 300, first=hs.dump(hs.VALID))
    assert seen["ok"] > 0 and seen["error"] > 0, seen


def test_a_spec_with_edge_values_loads_and_runs_or_fails_in_one_line():
    seen = _property("edge values", 300)
    assert seen["ok"] > 0 and seen["error"] > 0, seen


def test_any_yaml_document_loads_or_fails_in_one_line():
    seen = _property("yaml", 200)
    assert seen["error"] > 0, seen


def test_yaml_ish_text_fails_in_one_line():
    seen = _property("yaml-ish text", 200)
    assert seen["error"] > 0, seen


def test_random_bytes_fail_in_one_line():
    seen = _property("bytes", 150)
    assert seen["error"] > 0, seen


def test_any_set_override_fails_in_one_line():
    seen = _property("--set any", 200)
    assert seen["error"] > 0, seen


def test_a_set_of_an_edge_value_loads_and_runs_or_fails_in_one_line():
    seen = _property("--set edge", 300)
    assert seen["ok"] > 0 and seen["error"] > 0, seen


def test_every_property_is_tested_here():
    assert set(hs.PROPERTIES) == {
        "mutated",
        "edge values",
        "yaml",
        "yaml-ish text",
        "bytes",
        "--set any",
        "--set edge",
    }


# ----------------------------------------------------------------------------- bugs found


def _problem(tmp_path, raw=None, sets=(), text=None) -> str:
    path = hs.write(tmp_path / "s.yaml", text if text is not None else hs.dump(raw))
    with pytest.raises(SpecError) as err:
        hs.load(path, sets)
    message = str(err.value)
    assert "\n" not in message, message
    return message.removeprefix(str(path))


def _with(path: str, value, more: dict | None = None) -> dict:
    """The valid spec with `value` at `path` ("training/lr"), and `more` {path: value}."""
    raw = json.loads(json.dumps(hs.VALID))
    for where, new in {path: value, **(more or {})}.items():
        *parents, last = where.split("/")
        hs.get(raw, tuple(parents))[last] = new
    return raw


@pytest.mark.parametrize(
    "text, message",
    [
        ("study: a\x1db\n", ":1:9 invalid YAML: character U+001D is not allowed"),
        ("study: x\ndata: \x07\n", ":2:7 invalid YAML: character U+0007 is not allowed"),
        (hs.dump({**hs.VALID, "x\ry": 1}), ":59:1 x\\ry: unknown field (allowed: study, "),
        (hs.dump({**hs.VALID, "a\nb": 1}), ":59:3 a\\nb: unknown field (allowed: study, "),
        (hs.dump(_with("study", "a\u2028b")), ":1:8 study: String should match pattern"),
    ],
    ids=["U+001D", "U+0007", "CR in a key", "LF in a key", "U+2028 in a value"],
)
def test_control_characters_and_line_breaks_stay_on_one_line(tmp_path, text, message):
    # Found: a control character (ReaderError) and a key holding a line break gave
    # multi-line messages.
    assert message in _problem(tmp_path, text=text)


@pytest.mark.parametrize(
    "sets, message",
    [
        (["training.lr=1\n2"], "--set training.lr=1\\n2 training.lr: Input should be a valid"),
        (["a\nb=1"], "--set a\\nb=1 a\\nb: unknown field"),
        (["training.lr=[1"], "--set training.lr=[1: the value is not valid YAML (expected ',' "),
        (["study.x=1"], "--set study.x=1: study is not a mapping"),
    ],
)
def test_hostile_overrides_are_one_line(tmp_path, sets, message):
    assert message in _problem(tmp_path, hs.VALID, sets)


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("training/lr", float("inf"), "training.lr: Input should be a finite number, got inf"),
        ("search/space/training.lr/high", float("inf"), "Input should be a finite number"),
        ("search/space/training.lr/low", float("nan"), "Input should be a finite number"),
        ("search/sampler/seed", -1, "search.sampler.seed: Input should be greater than or equal"),
        ("training/seed", 2**32, "training.seed: Input should be less than or equal to 4294967295"),
        ("data/split_seed", -5, "data.split_seed: Input should be greater than or equal to 0"),
        (
            "model/backbone_params/hidden_size",
            2**40,
            "model.backbone_params: Storage size calculation overflowed",
        ),
    ],
)
def test_values_that_crashed_a_run_are_refused_when_loading(tmp_path, path, value, message):
    # Found: each of these loaded, then failed with a traceback in the sampler, numpy, scikit-
    # learn, Optuna's sampling or the model's construction.
    assert message in _problem(tmp_path, _with(path, value))


@pytest.mark.parametrize(
    "path, param, message",
    [
        (
            "training.optimizer/choices/sgd/training.weight_decay",
            {"low": -1.0, "high": 0.1},
            "every value of the space must be a valid training.weight_decay, but -1.0 is not: "
            "Input should be greater than or equal to 0",
        ),
        (
            "training.batch_size",
            {"low": 1, "high": 8, "type": "float"},
            "every value of the space must be a valid training.batch_size, but 3.59 is not: "
            "Input should be a valid integer, got a number with a fractional part",
        ),
        (
            "training.patience",
            {"choices": [2, 0]},
            "every value of the space must be a valid training.patience, but 0 is not: ",
        ),
    ],
)
def test_a_space_holding_values_its_field_refuses_is_an_error(tmp_path, path, param, message):
    # Found: such a space validated, then a trial that drew the value failed with a
    # pydantic ValidationError when it resolved its configuration.
    assert message in _problem(tmp_path, _with(f"search/space/{path}", param))


@pytest.mark.parametrize("size", [30_000, 10**6])
def test_a_huge_model_is_checked_without_building_it(tmp_path, size, monkeypatch):
    # Found: validating built the reference model for real: `hidden_size: 30000` allocated
    # 29 GB (and stalled), `hidden_size: 1000000` failed allocating 32 TB with a traceback.
    # Checked by where the components are built (PyTorch's meta device: shapes, no memory),
    # not by how long it takes; a build anywhere else fails here before it allocates.
    import torch

    from sweep.registry import backbones, heads

    devices = []
    for registry in (backbones, heads):
        monkeypatch.setattr(registry, "build", _on_meta_only(registry.build, devices))
    raw = _with(
        "model/backbone_params/hidden_size",
        size,
        {"search/space/model.backbone_params.hidden_size/high": size},
    )
    path = hs.write(tmp_path / "s.yaml", hs.dump(raw))
    spec = hs.load(path)
    assert spec.model.backbone_params["hidden_size"] == size
    assert devices == [("lstm", torch.device("meta")), ("classifier", torch.device("meta"))]


def _on_meta_only(build, devices: list):
    """`build`, recording (name, device) of each call, refusing any device but meta."""
    import torch

    def build_on_meta(name, /, **params):
        device = torch.get_default_device()
        devices.append((name, device))
        if device.type != "meta":
            raise AssertionError(f"{name} built on {device}, not on the meta device")
        return build(name, **params)

    return build_on_meta


# ----------------------------------------------------------------------------- the CLI


def sweep(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "sweep", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        cwd=cwd,
    )


def test_hostile_specs_through_the_cli_are_one_line_each_exit_2(tmp_path):
    specs = {
        "control.yaml": "study: a\x1db\n",
        "key.yaml": hs.dump({**hs.VALID, "x\ry": 1}),
        "bytes.yaml": b"\xff\xfe\x00study",
        "epochs.yaml": hs.dump(_with("training/max_epochs", 0)),
        "space.yaml": hs.dump(_with("search/space/training.lr/low", 1.0)),
        "seed.yaml": hs.dump(_with("search/sampler/seed", -1)),
        "list.yaml": "- a\n- b\n",
        "empty.yaml": "",
    }
    paths = [hs.write(tmp_path / name, text) for name, text in specs.items()]
    out = sweep("validate", *paths)
    assert out.returncode == 2 and "Traceback" not in out.stderr + out.stdout, out.stderr
    lines = out.stderr.splitlines()
    assert all(line.startswith("error: ") for line in lines), out.stderr
    named = [line.removeprefix("error: ").split(":", 1)[0] for line in lines]
    assert named == [str(p) for p in paths], out.stderr
    assert "training.max_epochs: Input should be greater than 0, got 0" in lines[3]
    assert (
        "search.space.training.lr: `low <= high` must hold, but got low=1.0, high=0.1" in (lines[4])
    )


def test_sweep_run_refuses_max_epochs_0_and_touches_nothing(tmp_path, tiny_root):
    spec = tmp_path / "tiny.yaml"
    tiny_spec(tmp_path, tiny_root)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    out = sweep("run", spec, "--set", "training.max_epochs=0", "--results", tmp_path / "results")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == (
        "error: --set training.max_epochs=0 training.max_epochs: Input should be greater than "
        "0, got 0"
    )
    assert not (tmp_path / "results").exists()
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


# ----------------------------------------------------------------------------- data


def _spec(root, **kw) -> DataSpec:
    return DataSpec(**{"dataset": "fma_genre", "root": root, **kw})


def _train(root, kind="genre") -> Path:
    return layout.dataset_dir(root, kind, True) / "train"


def _first_id(root, kind="genre") -> str:
    delimiter = "\t" if kind == "genre" else ","
    folder = layout.dataset_dir(root, kind, True)
    return layout.read_label_file(folder / "train_labels.txt", delimiter).rows[0].track_id


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dataset", ["fma_genre", "multitask"])
def test_a_nan_or_inf_array_is_a_one_line_error_or_skipped(tiny_root, bad, dataset):
    kind = "genre" if dataset == "fma_genre" else "multitask"
    victim = layout.npy_path(_train(tiny_root, kind), _first_id(tiny_root, kind))
    arr = np.load(victim)
    arr[3, 2:4] = bad
    np.save(victim, arr)
    with pytest.raises(DataError) as err:
        prepare(_spec(tiny_root, dataset=dataset))
    assert str(err.value) == (
        f"{victim.parent.parent / 'train_labels.txt'}:2: {victim}: 2 NaN/inf values "
        f"(data.skip_bad skips such tracks)"
    )
    data = prepare(_spec(tiny_root, dataset=dataset, skip_bad=True))
    assert list(data.report.skipped) == [_first_id(tiny_root, kind)]
    assert np.isfinite(data.train.tracks.frames).all()


def test_a_nan_array_in_the_official_test_set_through_the_cli(tiny_root):
    folder = layout.dataset_dir(tiny_root, "genre", True)
    tid = layout.read_label_file(folder / "test_labels.txt", "\t").rows[0].track_id
    victim = layout.npy_path(folder / "test", tid)
    np.save(victim, np.full((140, 3), np.nan, dtype=np.float32))
    out = sweep("data", "summary", tiny_root, "--dataset", "fma_genre", "--beat")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == (
        f"error: {folder / 'test_labels.txt'}:2: {victim}: 420 NaN/inf values "
        f"(data.skip_bad skips such tracks)"
    )


@pytest.mark.parametrize(
    "case, setup, message",
    [
        (
            "header only",
            lambda root: (
                layout.dataset_dir(root, "multitask", True) / "train_labels.txt"
            ).write_text("Id,valence,energy,danceability\n"),
            "multitask_dataset_beat/train_labels.txt: no usable labelled track in ",
        ),
        (
            "every genre dropped by the merge",
            lambda root: [
                (layout.dataset_dir(root, "genre", True) / f"{name}_labels.txt").write_text(
                    "Id\tGenre\n" + "".join(f"{100000 + 37 * i}\tSoundtrack\n" for i in ids)
                )
                for name, ids in (("train", range(24)), ("test", range(24, 30)))
            ],
            "fma_genre_spectrograms_beat/train_labels.txt: no usable labelled track in ",
        ),
        (
            "empty official test set",
            lambda root: (layout.dataset_dir(root, "genre", True) / "test_labels.txt").write_text(
                "Id\tGenre\n"
            ),
            "fma_genre_spectrograms_beat/test_labels.txt: no track in the test labels, so "
            "nothing to test the study on",
        ),
        (
            "validation share rounds to no track",
            None,
            "cannot carve a 0.01 share from 20 tracks: one side would be empty",
        ),
        ("empty recorded validation", "split_file", ": the validation split is empty"),
    ],
)
def test_an_empty_split_is_a_one_line_error(tiny_root, tmp_path, case, setup, message):
    dataset = "multitask" if case == "header only" else "fma_genre"
    kw: dict = {"val_fraction": 0.01} if setup is None else {}
    if setup == "split_file":
        record = prepare(_spec(tiny_root)).split_record()
        record["validation"] = []
        kw["split_file"] = tmp_path / "split.json"
        kw["split_file"].write_text(json.dumps(record))
    elif setup is not None:
        setup(tiny_root)
    with pytest.raises(DataError) as err:
        prepare(_spec(tiny_root, dataset=dataset, **kw)).test()
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


@pytest.mark.parametrize(
    "genres, found",
    [(["Rock"], "'Rock'"), (["Rock", "Psych-Rock", "Post-Rock"], "'Rock'")],
)
def test_one_class_only_is_a_one_line_error(tiny_root, genres, found):
    # Found: one class loaded, then every trial failed building a classifier of 1 output.
    folder = layout.dataset_dir(tiny_root, "genre", True)
    for name in ("train", "test"):
        labels = layout.read_label_file(folder / f"{name}_labels.txt", "\t")
        rows = [f"{r.track_id}\t{genres[i % len(genres)]}" for i, r in enumerate(labels.rows)]
        (folder / f"{name}_labels.txt").write_text("Id\tGenre\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as err:
        prepare(_spec(tiny_root))
    assert str(err.value) == (
        f"{folder / 'train_labels.txt'}: classification needs at least 2 classes, but the "
        f"usable training tracks have only {found}"
    )
    if len(genres) > 1:  # the merge made them one class; without it they are three
        data = prepare(_spec(tiny_root, options={"merge_classes": False}))
        assert data.class_names == ("Post-Rock", "Psych-Rock", "Rock")


@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("crlf", [False, True])
def test_label_files_with_a_bom_or_windows_line_endings_load_the_same(tmp_path, bom, crlf):
    plain = write_tiny_layout(tmp_path / "plain")
    edited = write_tiny_layout(tmp_path / "edited")
    for path in edited.rglob("*_labels.txt"):
        text = path.read_text()
        text = text.replace("\n", "\r\n") if crlf else text
        path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    for dataset in ("fma_genre", "multitask"):
        a = prepare(_spec(plain, dataset=dataset))
        b = prepare(_spec(edited, dataset=dataset))
        assert a.split_ids == b.split_ids and a.split_ids["train"]
        assert (a.class_names, a.target_names) == (b.class_names, b.target_names)
        assert np.array_equal(a.train.targets, b.train.targets)
        assert np.array_equal(a.test().targets, b.test().targets)


def test_a_spec_with_a_bom_and_windows_line_endings_loads(tmp_path):
    text = "\ufeff" + hs.dump(hs.VALID).replace("\n", "\r\n")
    spec = hs.load(hs.write(tmp_path / "s.yaml", text))
    assert spec.study == "hostile" and spec.training.lr == 1e-2


def test_max_epochs_0_is_a_one_line_error_in_the_file_and_in_a_set(tmp_path):
    path = hs.write(tmp_path / "s.yaml", hs.dump(_with("training/max_epochs", 0)))
    with pytest.raises(SpecProblems) as err:
        hs.load(path)
    assert str(err.value) == (
        f"{path}:26:15 training.max_epochs: Input should be greater than 0, got 0"
    )
    assert _problem(tmp_path, hs.VALID, ["training.max_epochs=0"]) == (
        "--set training.max_epochs=0 training.max_epochs: Input should be greater than 0, got 0"
    )


@pytest.mark.parametrize(
    "param, message",
    [
        (
            {"low": 0.5, "high": 0.1},
            "`low <= high` must hold, but got low=0.5, high=0.1",
        ),
        ({"low": 16, "high": 4}, "`low <= high` must hold, but got low=16, high=4"),
        ({"low": 16, "high": 4, "type": "float"}, "`low <= high` must hold, but got low=16.0"),
        ({"low": 0.1, "high": -0.1, "log": True}, "`low <= high` must hold"),
    ],
)
def test_a_search_space_with_low_above_high_is_a_one_line_error(tmp_path, param, message):
    top = _problem(tmp_path, _with("search/space/training.lr", param))
    assert f" search.space.training.lr: {message}" in top
    # Found: in a conditional branch the first message was the union's other member, "choices:
    # Input should be a valid list", and the real problem came "(and 1 more)".
    branch = "search/space/training.optimizer/choices/sgd/training.weight_decay"
    problem = _problem(tmp_path, _with(branch, param))
    assert f" {branch.replace('/', '.')}: {message}" in problem and "more" not in problem


def test_a_set_that_puts_low_above_high_is_located_at_the_set(tmp_path):
    assert _problem(tmp_path, hs.VALID, ["search.space.training.lr.low=0.5"]) == (
        "--set search.space.training.lr.low=0.5 search.space.training.lr: `low <= high` must "
        "hold, but got low=0.5, high=0.1"
    )
