"""Specs: schema errors located in the file, --set overrides, semantic checks, defaults."""

import textwrap
from pathlib import Path

import pytest

from sweep.cli.app import load_checked_spec
from sweep.errors import SpecError
from sweep.registry import backbones
from sweep.specfile import SpecProblems, load_spec, load_spec_with_source
from sweep.validate import check_spec

GOOD = """\
study: t
data:
  dataset: fma_genre
  root: data
task:
  kind: classification
model:
  backbone: lstm
  backbone_params: {hidden_size: 64, num_layers: 2}
training:
  lr: 1.0e-3
search:
  space:
    training.lr: {low: 1.0e-4, high: 1.0e-2, log: true}
    model.backbone_params.hidden_size: {low: 16, high: 128}
"""


def write(tmp_path, text, name="x.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(path, overrides=()):
    with pytest.raises(SpecProblems) as err:
        spec, source = load_spec_with_source(path, list(overrides))
        check_spec(spec, source)
    return [str(p) for p in err.value.problems]


def test_a_good_spec_loads_with_defaults(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.training.batch_size == 8 and spec.training.max_epochs == 40
    assert spec.metric == "accuracy" and spec.direction == "maximize"
    assert spec.head == "classifier"
    assert spec.search.space["model.backbone_params.hidden_size"].type == "int"
    assert spec.search.space["training.lr"].type == "float"


def test_schema_errors_give_file_line_column_path_rule_and_value(tmp_path):
    path = write(
        tmp_path,
        GOOD.replace("low: 1.0e-4, high: 1.0e-2", "low: 3.0, high: 1.0").replace(
            "lr: 1.0e-3", "lr: -1\n  max_epoch: 3"
        ),
    )
    assert problems(path) == [
        f"{path}:11:7 training.lr: Input should be greater than 0, got -1",
        f"{path}:12:3 training.max_epoch: unknown field (allowed: max_epochs, batch_size, "
        "optimizer, lr, weight_decay, patience, min_delta, keep, grad_clip, freeze_epochs, "
        "lr_schedule, warmup_epochs, plateau_factor, plateau_patience, ema_epochs, time_mask, "
        "time_masks, "
        "freq_mask, freq_masks, mixup, length_buckets, seed, device, threads)",
        f"{path}:15:18 search.space.training.lr: `low <= high` must hold, but got low=3.0, "
        "high=1.0",
    ]


def test_the_first_problem_is_the_one_line_message(tmp_path):
    path = write(tmp_path, GOOD.replace("kind: classification", "kind: clasification"))
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert str(err.value) == (
        f"{path}:6:9 task.kind: Input should be 'classification', 'regression' or "
        "'multitask', got 'clasification'"
    )


def test_missing_fields_and_bad_yaml(tmp_path):
    path = write(tmp_path, "study: t\ndata: {dataset: fma_genre}\n")
    found = problems(path)
    assert f"{path}:2:7 data.root: field required" in found
    assert f"{path}:1:1 task: field required" in found
    bad = write(tmp_path, "study: t\ndata: [unclosed\n", "bad.yaml")
    with pytest.raises(SpecError, match=rf"^{bad}:3:1 invalid YAML: "):
        load_spec(bad)
    with pytest.raises(SpecError, match="a spec must be a mapping of fields"):
        load_spec(write(tmp_path, "- just\n- a list\n", "list.yaml"))
    with pytest.raises(SpecError, match="spec file not found"):
        load_spec(tmp_path / "nope.yaml")


def test_overrides_are_validated_and_located(tmp_path):
    path = write(tmp_path, GOOD)
    spec = load_spec(
        path,
        [
            "training.lr=3e-3",
            "search.space.training.lr.high=0.5",
            "model.backbone_params.pooling=mean",
        ],
    )
    assert spec.training.lr == 3e-3
    assert spec.search.space["training.lr"].high == 0.5
    assert spec.model.backbone_params["pooling"] == "mean"
    assert problems(path, ["training.batch_size=abc"]) == [
        "--set training.batch_size=abc training.batch_size: Input should be a valid integer, "
        "unable to parse string as an integer, got 'abc'"
    ]
    with pytest.raises(SpecError, match="expected PATH=VALUE"):
        load_spec(path, ["training.lr"])


def test_a_value_no_member_of_a_union_accepts_is_one_problem(tmp_path):
    path = write(tmp_path, GOOD)
    assert problems(path, ["search.pruner.min_resource=0"]) == [
        "--set search.pruner.min_resource=0 search.pruner.min_resource: Input should be "
        "greater than 0 or 'auto', got 0"
    ]
    assert problems(path, ["search.selection.folds=x"]) == [
        "--set search.selection.folds=x search.selection.folds: Input should be a valid "
        "integer, unable to parse string as an integer or 'auto', got 'x'"
    ]


def test_registry_names_are_checked_with_a_suggestion(tmp_path):
    path = write(tmp_path, GOOD.replace("backbone: lstm", "backbone: lstn"))
    assert problems(path) == [
        f"{path}:8:13 model.backbone: Unknown backbone 'lstn'. Available: "
        f"{', '.join(backbones.names())}. Did you mean 'lstm'?"
    ]


def test_every_search_path_names_a_real_parameter(tmp_path):
    path = write(
        tmp_path,
        GOOD + "    model.backbone_params.hiden_size: {low: 1, high: 2}\n"
        "    training.lrate: {low: 0.1, high: 0.2}\n"
        "    data.split_seed: {low: 0, high: 3}\n"
        "    training.keep: {choices: [best, last]}\n",
    )
    found = problems(path)
    assert found[0].startswith(
        f"{path}:16:39 search.space.model.backbone_params.hiden_size: "
        "backbone 'lstm' has no parameter 'hiden_size' (it has: "
    )
    assert found[0].endswith(", pooling) Did you mean 'hidden_size'?")
    assert found[1].startswith(
        f"{path}:17:21 search.space.training.lrate: searchable training fields are"
    )
    assert found[2].startswith(
        f"{path}:18:22 search.space.data.split_seed: searchable data "
        "fields are features, beat, normalization"
    )
    assert found[3] == (
        f"{path}:19:20 search.space.training.keep: training.keep is not searched (trials kept "
        "at their best epoch would outrank those kept at their last): set "
        "search.selection.keep for every trial but the reference, or training.keep for every "
        "trial"
    )


def test_patience_is_not_searched_where_trials_are_kept_at_their_last_epoch(tmp_path):
    text = GOOD + "    training.patience: {choices: [5, 20]}\n"
    check_spec(*load_spec_with_source(write(tmp_path, text)))  # searched where trials keep
    # their best epoch
    path = write(tmp_path, text.replace("search:\n", "search:\n  selection: {keep: last}\n"))
    found = problems(path)
    assert len(found) == 1 and found[0].endswith(
        "search.space.training.patience: training.patience is not searched where trials keep "
        "their last epoch (they train to max_epochs, cut only by the pruner)"
    )


def test_keeping_the_last_epoch_needs_no_early_stopping(tmp_path):
    """Early stopping stops `patience` epochs after the best: a last epoch kept then is by
    construction no better, so `training.keep: last` asks for `patience: null`."""
    path = write(tmp_path, GOOD.replace("lr: 1.0e-3", "lr: 1.0e-3\n  keep: last"))
    assert problems(path) == [
        f"{path}:12:9 training.keep: keeping the last epoch needs training.patience: null "
        "(early stopping stops 5 epochs after the best, so the last epoch is by construction "
        "no better); search.selection.keep: last sets both for every trial but the reference"
    ]
    check_spec(
        *load_spec_with_source(
            write(
                tmp_path, GOOD.replace("lr: 1.0e-3", "lr: 1.0e-3\n  keep: last\n  patience: null")
            )
        )
    )


def test_the_reference_configuration_must_lie_inside_the_space(tmp_path):
    path = write(tmp_path, GOOD.replace("{low: 16, high: 128}", "{low: 16, high: 32}"))
    assert problems(path) == [
        f"{path}:15:40 search.space.model.backbone_params.hidden_size: the reference "
        "configuration must lie inside the space ([16, 32]), got 64"
    ]
    # a parameter the spec leaves at the component's default is checked at that default
    path = write(
        tmp_path, GOOD + "    model.backbone_params.dropout: {low: 0.1, high: 0.5}\n", "d.yaml"
    )
    assert problems(path) == [
        f"{path}:16:36 search.space.model.backbone_params.dropout: the reference configuration "
        "must lie inside the space ([0.1, 0.5]), got 0.0"
    ]


def test_conditional_branches_check_paths_against_their_backbone(tmp_path):
    text = GOOD + textwrap.indent(
        textwrap.dedent("""\
        model.backbone:
          choices:
            lstm: {model.backbone_params.num_layers: {low: 1, high: 3}}
            cnn: {model.backbone_params.global_pool: {choices: [mean, max]},
                  model.backbone_params.num_layers: {low: 1, high: 3}}
        """),
        "    ",
    )
    text = text.replace("    model.backbone_params.hidden_size: {low: 16, high: 128}\n", "")
    found = problems(write(tmp_path, text))
    assert len(found) == 1
    assert (
        "search.space.model.backbone.choices.cnn.model.backbone_params.num_layers: "
        "backbone 'cnn' has no parameter 'num_layers'" in found[0]
    )


def test_grid_needs_a_finite_space_and_references_must_exist(tmp_path):
    path = write(tmp_path, GOOD + "  sampler: {name: grid}\nreference: [lstm_genre_al_beat]\n")
    found = problems(path)
    assert any("the grid sampler needs a step for every float" in p for p in found)
    assert found[-1] == (
        f"{path}:17:13 reference.0: unknown reference row "
        "'lstm_genre_al_beat'. Did you mean 'lstm_genre_all_beat'?"
    )


def test_metric_must_fit_the_task(tmp_path):
    path = write(tmp_path, GOOD + "  metric: spearman\n")
    assert problems(path) == [
        f"{path}:16:11 search.metric: for classification the metric must "
        "be one of accuracy, macro_f1, loss, got 'spearman'"
    ]


SHIPPED_SPECS = sorted((Path(__file__).resolve().parents[1] / "specs").glob("*.yaml"))


def test_the_shipped_specs_are_found():
    assert len(SHIPPED_SPECS) >= 15 and {"demo.yaml", "transfer_valence.yaml"} <= {
        p.name for p in SHIPPED_SPECS
    }


@pytest.mark.parametrize("path", SHIPPED_SPECS, ids=[p.name for p in SHIPPED_SPECS])
def test_shipped_specs_validate(path):
    # what `sweep validate` runs on each (its data folder need not exist: nothing is read)
    load_checked_spec(path, [], None)


def test_values_a_component_refuses_are_found_before_training(tmp_path):
    path = write(tmp_path, GOOD.replace("num_layers: 2}", "num_layers: 2, pooling: lastt}"))
    assert problems(path) == [
        f"{path}:9:20 model.backbone_params: pooling must be one of 'last', 'mean', "
        "'attention', but got pooling='lastt'"
    ]


@pytest.fixture
def registered():
    """Components registered for one test, unregistered after it (other tests list names)."""
    from sweep.registry import datasets, heads

    added = []

    def register(registry, name, factory, **metadata):
        registry.register(name, **metadata)(factory)
        added.append((registry, name))

    yield register
    for registry, name in added:
        del registry._factories[name]
        del registry._metadata[name]
    assert "fma_genre" in datasets and "classifier" in heads


def test_the_defaults_a_spec_leaves_out_are_the_components_own(tmp_path, registered):
    from sweep.registry import datasets

    spec = load_spec(write(tmp_path, GOOD))
    assert spec.data.features == "fused" and spec.model.head is None
    assert spec.model_dump()["data"]["features"] == "fused"  # the resolved spec says so
    for kind, head in [("regression", "regressor"), ("multitask", "multitask")]:
        assert spec.task.model_copy(update={"kind": kind}).default_head == head
    registered(datasets, "chroma_data", lambda root, beat: None, default_features="chroma")
    spec = load_spec(write(tmp_path, GOOD.replace("fma_genre", "chroma_data")))
    assert spec.data.features == "chroma"
    given = load_spec(write(tmp_path, GOOD.replace("root: data", "root: data\n  features: mel")))
    assert given.data.features == "mel"


def test_a_data_set_without_a_default_feature_set_needs_one_in_the_spec(tmp_path, registered):
    from sweep.registry import datasets

    registered(datasets, "plain_data", lambda root, beat: None)
    path = write(tmp_path, GOOD.replace("fma_genre", "plain_data"))
    assert problems(path) == [
        f"{path}:3:3 data.features: dataset 'plain_data' registers no default feature set "
        "(default_features): name one in data.features"
    ]


def test_two_default_heads_for_one_task_are_refused(tmp_path, registered):
    from sweep.registry import heads

    factory = lambda in_features, n_outputs: None  # noqa: E731
    registered(heads, "other_classifier", factory, default_for_task="classification")
    spec = load_spec(write(tmp_path, GOOD))
    with pytest.raises(
        SpecError,
        match=r"model.head: 'classifier' and 'other_classifier' are registered as the default "
        r"for classification \(default_for_task\); name the head in model.head",
    ):
        _ = spec.head
    named = spec.model_copy(update={"model": spec.model.model_copy(update={"head": "classifier"})})
    assert named.head == "classifier"  # naming the head is the way out


def test_an_unknown_field_made_by_a_set_is_blamed_on_that_set(tmp_path):
    path = write(tmp_path, GOOD)
    with pytest.raises(SpecProblems) as caught:
        load_spec(path, ["trainig.lr=3e-4"])
    assert [str(p) for p in caught.value.problems] == [
        "--set trainig.lr=3e-4 trainig: unknown field (allowed: study, description, data, "
        "task, model, training, search, reference)"
    ]


def test_a_misspelled_component_parameter_is_blamed_on_its_own_line(tmp_path):
    text = GOOD.replace("num_layers: 2", "num_layer: 2")
    path = write(tmp_path, text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "num_layer:" in row)
    column = text.splitlines()[line - 1].index("num_layer") + 1
    [problem] = problems(path)
    assert problem.startswith(
        f"{path}:{line}:{column} model.backbone_params: got an unexpected keyword argument "
        "'num_layer' (backbone 'lstm' takes: "
    )
    assert problem.endswith("). Did you mean 'num_layers'?")
