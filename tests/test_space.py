"""The search space: sampling with branches, the reference trial, applying values."""

import optuna

from sweep import space
from sweep.spec import Spec

BASE = {
    "study": "s",
    "data": {"dataset": "fma_genre", "root": "d"},
    "task": {"kind": "classification"},
    "model": {"backbone": "lstm", "backbone_params": {"hidden_size": 64}},
    "search": {
        "space": {
            "training.lr": {"low": 1e-4, "high": 1e-2, "log": True},
            "model.backbone": {
                "choices": {
                    "lstm": {"model.backbone_params.hidden_size": {"low": 16, "high": 128}},
                    "cnn": {
                        "model.backbone_params.channels": {"choices": [[4, 8], [8, 16]]},
                        "model.backbone_params.kernel_sizes": {"choices": [[3, 3]]},
                    },
                }
            },
        }
    },
}


def test_suggest_follows_the_branch_of_each_choice():
    spec = Spec.model_validate(BASE)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(20):
        trial = study.ask()
        values = space.suggest(trial, spec.search.space)
        backbone = values["model.backbone"]
        seen.add(backbone)
        if backbone == "lstm":
            assert set(values) == {
                "training.lr",
                "model.backbone",
                "model.backbone_params.hidden_size",
            }
        else:
            assert values["model.backbone_params.channels"] in ([4, 8], [8, 16])  # lists back
            assert isinstance(trial.params["model.backbone_params.channels"], str)  # JSON
        study.tell(trial, 0.0)
    assert seen == {"lstm", "cnn"}


def test_the_reference_is_the_spec_itself_with_defaults():
    spec = Spec.model_validate(BASE)
    assert space.reference_params(spec) == {
        "training.lr": 1e-4,
        "model.backbone": "lstm",
        "model.backbone_params.hidden_size": 64,
    }
    assert space.get_path(spec, "model.backbone_params.num_layers") == 2  # lstm's default


def test_switching_backbone_drops_the_other_backbones_fixed_params():
    spec = Spec.model_validate(BASE)
    cnn = space.apply(
        spec,
        {"model.backbone": "cnn", "model.backbone_params.channels": [4, 8], "training.lr": 1e-3},
    )
    assert cnn.model.backbone == "cnn" and cnn.model.backbone_params == {"channels": [4, 8]}
    assert cnn.training.lr == 1e-3
    lstm = space.apply(spec, {"model.backbone": "lstm", "model.backbone_params.hidden_size": 32})
    assert lstm.model.backbone_params == {"hidden_size": 32}
    assert spec.model.backbone_params == {"hidden_size": 64}  # the spec itself is untouched


def test_enqueued_reference_round_trips_through_optuna():
    raw = {
        **BASE,
        "model": {
            "backbone": "cnn",
            "backbone_params": {"channels": [8, 16], "kernel_sizes": [3, 3]},
        },
    }
    spec = Spec.model_validate(raw)
    study = optuna.create_study()
    study.enqueue_trial(space.enqueue_form(spec, space.reference_params(spec)))
    values = space.suggest(study.ask(), spec.search.space)
    assert values["model.backbone_params.channels"] == [8, 16]
    assert space.apply(spec, values).model.backbone_params["channels"] == [8, 16]


def test_one_path_with_other_distributions_in_two_branches_gets_a_name_per_branch():
    """Optuna holds one distribution per parameter name in a study: `channels` of two
    backbone families with different choices are two parameters, named by their branch."""
    raw = {
        **BASE,
        "search": {
            "space": {
                "model.backbone": {
                    "choices": {
                        "lstm": {"model.backbone_params.hidden_size": {"low": 4, "high": 8}},
                        "cnn": {
                            "model.backbone_params.channels": {"choices": [[4], [8]]},
                            "model.backbone_params.kernel_sizes": {"choices": [[3]]},
                            "model.backbone_params.dropout": {"low": 0.0, "high": 0.5},
                        },
                        "temporal_cnn": {
                            "model.backbone_params.channels": {"choices": [[4, 4], [8]]},
                            "model.backbone_params.dropout": {"low": 0.0, "high": 0.5},
                        },
                    }
                }
            }
        },
    }
    spec = Spec.model_validate(raw)
    names = set(space.optuna_names(spec.search.space).values())
    assert names == {
        "model.backbone_params.channels@cnn",
        "model.backbone_params.channels@temporal_cnn",
    }  # dropout has one distribution in both: one name
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(space.enqueue_form(spec, {"model.backbone": "lstm"}))
    seen = set()
    for _ in range(12):
        trial = study.ask()
        values = space.suggest(trial, spec.search.space)
        resolved = space.apply(spec, values)  # paths, whatever the Optuna names
        seen.add(resolved.model.backbone)
        if resolved.model.backbone in ("cnn", "temporal_cnn"):
            assert f"model.backbone_params.channels@{resolved.model.backbone}" in trial.params
            assert (
                resolved.model.backbone_params["channels"]
                == values["model.backbone_params.channels"]
            )
        study.tell(trial, 0.0)
    assert seen == {"lstm", "cnn", "temporal_cnn"}
    assert study.trials[0].params["model.backbone"] == "lstm"  # the reference, enqueued
