"""A trial's outcome as a state with its reason (diverged, out of memory, pruned, refused), and
the budget's estimate said after the reference's first epoch."""

import re

import optuna
import pytest
import torch
from torch import nn

from sweep.checkpoints import build
from sweep.registry import backbones
from sweep.run import run_study
from sweep.storage import open_storage
from tests.conftest import tiny_spec

STATES = optuna.trial.TrialState


class _Diverges(nn.Module):
    """A backbone that goes wrong on purpose: NaN outputs."""

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_features, 4)
        self.out_features = 4

    def forward(self, x, lengths):
        return self.linear(x.mean(1)) * float("nan")


@pytest.fixture
def diverging_backbone():
    """Registered for one test only: collecting tests, and tests that list the registered
    backbones, never see it."""
    backbones.register("diverges")(_Diverges)
    yield "diverges"
    del backbones._factories["diverges"]


def test_a_diverging_trial_is_pruned_with_its_reason(tmp_path, tiny_root, diverging_backbone):
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        model={"backbone": "diverges", "backbone_params": {}},
        search={"n_trials": 2, "space": {"training.lr": {"low": 1e-3, "high": 1e-1}}},
    )
    outcome = run_study(spec, tmp_path / "results")
    trials = outcome.study.trials
    assert [t.state for t in trials] == [STATES.PRUNED, STATES.PRUNED]
    for t in trials:
        assert t.user_attrs["reason"].startswith("diverged: training loss became nan")
    assert outcome.test == {}  # nothing completed, nothing tested


def test_an_out_of_memory_trial_fails_and_the_study_goes_on(tmp_path, tiny_root, monkeypatch):
    # The trial numbered 1 runs out of memory in its first training step, whatever it drew:
    # the model's forward raises as CUDA would, for that trial's model only.
    import sweep.objective

    def build_then_exhaust_memory_in_trial_1(spec, data):
        model = build(spec, data)
        if len(built) == 1:  # the reference is the first, trial 1 the second

            def forward(x, lengths):
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 40 GiB")

            model.forward = forward
        built.append(model)
        return model

    built: list = []
    monkeypatch.setattr(sweep.objective, "build", build_then_exhaust_memory_in_trial_1)
    spec = tiny_spec(tmp_path, tiny_root, training={"max_epochs": 1})
    outcome = run_study(spec, tmp_path / "results")
    trials = outcome.study.trials
    assert len(built) == 3  # three attempts (n_trials), the failed one among them
    assert [t.state for t in trials] == [STATES.COMPLETE, STATES.FAIL, STATES.COMPLETE]
    assert trials[1].user_attrs["reason"] == (
        "out of memory: CUDA out of memory. Tried to allocate 40 GiB"
    )
    assert trials[1].user_attrs["epochs"] == 0
    # the study went on after it: trial 2 trained, and the best trial was tested
    assert trials[2].user_attrs["epochs"] == 1
    assert outcome.test["best"]["trial"] == outcome.study.best_trial.number != 1


def test_a_trial_interrupted_before_it_trains_is_failed_with_the_signal_as_its_reason(
    tmp_path, tiny_root, monkeypatch
):
    # Ctrl-C while trial 1 builds its model (before any epoch): the run stops, and the
    # trial says why it failed (it said nothing when the signal came outside the fit).
    import sweep.objective

    def build_then_interrupt_in_trial_1(spec, data):
        built.append(spec)
        if len(built) == 2:
            raise KeyboardInterrupt
        return build(spec, data)

    built: list = []
    monkeypatch.setattr(sweep.objective, "build", build_then_interrupt_in_trial_1)
    spec = tiny_spec(tmp_path, tiny_root, training={"max_epochs": 1})
    with pytest.raises(KeyboardInterrupt):
        run_study(spec, tmp_path / "results")
    storage = open_storage(None, tmp_path / "results" / "tiny")
    trials = optuna.load_study(study_name="tiny", storage=storage).trials
    assert [t.state for t in trials] == [STATES.COMPLETE, STATES.FAIL]
    assert trials[1].user_attrs["reason"] == "interrupted (SIGINT)"


def test_the_pruner_prunes(tmp_path, tiny_root):
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        training={"max_epochs": 6, "patience": None},
        search={
            "n_trials": 8,
            "pruner": {
                "name": "percentile",
                "percentile": 50,
                "n_startup_trials": 1,
                "n_warmup_steps": 0,
            },
            "sampler": {"name": "random", "seed": 1},
        },
    )
    trials = run_study(spec, tmp_path / "results").study.trials
    pruned = [t for t in trials if t.state == STATES.PRUNED]
    assert pruned, [t.state for t in trials]
    assert all(t.user_attrs["reason"] == "pruned by the pruner" for t in pruned)
    assert all(len(t.intermediate_values) < 6 for t in pruned)


def test_a_configuration_the_component_refuses_is_a_failed_trial(tmp_path, tiny_root):
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        model={"backbone": "cnn", "backbone_params": {"channels": [4], "kernel_sizes": [3]}},
        search={
            "n_trials": 4,
            "sampler": {"name": "random", "seed": 0},
            "space": {"model.backbone_params.kernel_sizes": {"choices": [[3], [3, 3]]}},
        },
    )
    trials = run_study(spec, tmp_path / "results").study.trials
    bad = [t for t in trials if t.params["model.backbone_params.kernel_sizes"] == "[3, 3]"]
    assert bad and all(t.state == STATES.FAIL for t in bad)
    assert bad[0].user_attrs["reason"].startswith("invalid configuration: ")
    assert trials[0].state == STATES.COMPLETE  # the reference, and the study went on


class _Notes:
    """A progress display that keeps the notes it is told (and ignores the rest)."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def start(self, study, budget, cpu_budget=None, deadline=None) -> None: ...

    def epoch(self, number, record, value, fold=None, max_epochs=None) -> None: ...

    def trial_finished(self, study, trial) -> None: ...

    def note(self, text: str) -> None:
        self.notes.append(text)


def test_a_budget_the_reference_alone_exceeds_is_said_after_its_first_epoch(tmp_path, tiny_root):
    # 100,000 epochs of any first epoch exceed a budget of 0.01 CPU minutes, whatever the
    # machine's speed; the reference is stopped by its patience, long before
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        training={"max_epochs": 100_000, "patience": 1, "threads": 1},
        search={"n_trials": 1, "budget": 0.01},
    )
    progress = _Notes()
    run_study(spec, tmp_path / "results", progress=progress)
    assert len(progress.notes) == 1
    assert re.fullmatch(
        r"the reference trial may need up to [\d.]+ CPU minutes \(its first epoch took \d+ "
        r"CPU s; 100000 epochs\), more than the budget of 0.01: it runs to its end, and "
        r"little is left to search \(train on crops: data.crop_frames, or fewer folds or "
        r"epochs\)",
        progress.notes[0],
    )


def test_a_budget_the_reference_fits_in_says_nothing(tmp_path, tiny_root):
    spec = tiny_spec(tmp_path, tiny_root, search={"n_trials": 1, "budget": 10_000})
    progress = _Notes()
    run_study(spec, tmp_path / "results", progress=progress)
    assert progress.notes == []


def test_the_reference_is_never_pruned_though_it_reports(tmp_path, tiny_root):
    """A pruner that prunes everything below a perfect trial leaves the reference alone
    (the comparison every study owes), and prunes any other trial at its first epoch. The
    reference records the epoch at which it would have been pruned (for the sampler)."""
    from sweep import space
    from sweep import trials as records
    from sweep.objective import Objective

    spec = tiny_spec(tmp_path, tiny_root, training={"max_epochs": 3, "patience": None})
    study = optuna.create_study(
        direction="maximize",
        pruner=optuna.pruners.PercentilePruner(99.9, n_startup_trials=1, n_warmup_steps=0),
    )
    values = {1: 1.0, 2: 1.0, 3: 1.0}
    study.add_trial(
        optuna.trial.create_trial(state=STATES.COMPLETE, value=1.0, intermediate_values=values)
    )
    reference = space.enqueue_form(spec, space.reference_params(spec))
    study.enqueue_trial(reference, user_attrs={records.REFERENCE: True})
    study.enqueue_trial(reference)  # the same configuration, untagged
    objective = Objective(spec, tmp_path / "results")
    study.optimize(objective, n_trials=2)
    tagged, untagged = study.trials[1], study.trials[2]
    assert tagged.state == STATES.COMPLETE and len(tagged.intermediate_values) == 3
    assert tagged.user_attrs[records.WOULD_PRUNE_AT] == 1
    assert untagged.state == STATES.PRUNED and len(untagged.intermediate_values) == 1
    assert records.WOULD_PRUNE_AT not in untagged.user_attrs


@pytest.mark.parametrize("normalization", ["standardize", "none"])
def test_a_built_model_is_told_the_standardisation_of_its_inputs(
    tmp_path, tiny_root, normalization
):
    """`build` gives a backbone that asks for it (pooled_mlp's key) the statistics its data's
    inputs were standardised with; unstandardised inputs are already in the data's units."""
    from sweep.data import prepare

    spec = tiny_spec(
        tmp_path,
        tiny_root,
        data={"normalization": normalization},
        model={"backbone": "pooled_mlp", "backbone_params": {"key_chroma_rows": [0, 12]}},
    )
    data = prepare(spec.resolved_data)
    backbone = build(spec, data).backbone
    if normalization == "none":
        assert data.mean is None
        mean, std = torch.zeros(12), torch.ones(12)
    else:
        mean, std = torch.as_tensor(data.mean), torch.as_tensor(data.std)
        assert not torch.equal(mean, torch.zeros(12))
    torch.testing.assert_close(backbone.chroma_mean, mean)
    torch.testing.assert_close(backbone.chroma_std, std)
