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
