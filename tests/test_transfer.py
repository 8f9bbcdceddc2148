"""Transfer learning: a backbone from another study, frozen for a while, refused if it differs."""

import pytest
import torch

from sweep.checkpoints import load_checkpoint
from sweep.data import prepare
from sweep.errors import SpecError
from sweep.run import run_study
from sweep.train import fit
from sweep.transfer import load_backbone, resolve_checkpoint
from tests.test_study import tiny_spec

CNN = {"backbone": "cnn", "backbone_params": {"channels": [4, 8], "kernel_sizes": [3, 3]}}


@pytest.fixture
def genre_study(tmp_path, tiny_root):
    spec = tiny_spec(
        tmp_path, tiny_root, name="genre.yaml", model=CNN, search={"n_trials": 1, "space": {}}
    )
    spec = spec.model_copy(update={"study": "genre_src"})
    run_study(spec, tmp_path / "results")
    return tmp_path / "results"


def transfer_spec(tmp_path, root, features="chroma", params=None, space=None, **training):
    model = {**CNN, "head": "regressor", "init_from": "genre_src"}
    if params:
        model["backbone_params"] = params
    if space is None:
        space = {"training.freeze_epochs": {"choices": [0, 1]}}
    return tiny_spec(
        tmp_path,
        root,
        name="transfer.yaml",
        model=model,
        data={"dataset": "multitask", "features": features},
        task={"kind": "regression", "targets": ["valence"]},
        training={"max_epochs": 2, **training},
        search={"n_trials": 2, "space": space},
    ).model_copy(update={"study": "transfer"})


def test_transfer_starts_from_the_genre_checkpoint_with_a_new_head(
    tmp_path, tiny_root, genre_study
):
    # Through the engine: the backbone stays frozen for every epoch, so the backbone each
    # trial saves is the one it started from, and that must be the source study's.
    spec = transfer_spec(
        tmp_path,
        tiny_root,
        space={"training.lr": {"low": 1e-3, "high": 1e-1, "log": True}},
        freeze_epochs=2,
        patience=None,
    )
    checkpoint = resolve_checkpoint("genre_src", genre_study)
    source, _ = load_checkpoint(checkpoint)
    outcome = run_study(spec, genre_study)
    assert outcome.study.user_attrs["init_from"] == str(checkpoint)
    trials = outcome.study.trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    assert set(outcome.test["best"]["per_target"]) == {"valence"}
    embedding = torch.zeros(2, source.backbone.out_features)
    assert source.head(embedding).shape == (2, 3)  # the genre study's three classes
    for trial in trials:
        target, _ = load_checkpoint(
            genre_study / "transfer" / "trials" / str(trial.number) / "checkpoint.pt"
        )
        # the backbone: the source's weights and BatchNorm statistics, exactly
        source_weights = source.backbone.state_dict()
        target_weights = target.backbone.state_dict()
        assert target_weights.keys() == source_weights.keys()
        for key, value in source_weights.items():
            assert torch.equal(target_weights[key], value), key
        # the head: a new one, built for the one target (valence), not the genre head
        assert target.head(embedding).shape == (2, 1)
        assert trial.user_attrs["epochs"] == 2


def test_a_frozen_backbone_does_not_move(tmp_path, tiny_root, genre_study):
    spec = transfer_spec(tmp_path, tiny_root, freeze_epochs=1, max_epochs=1, patience=None)
    data = prepare(spec.resolved_data)
    model, _ = load_checkpoint(resolve_checkpoint("genre_src", genre_study))
    from sweep.checkpoints import build

    fresh = build(spec, data)
    load_backbone(fresh, resolve_checkpoint("genre_src", genre_study), data)
    before = {k: v.clone() for k, v in fresh.backbone.state_dict().items()}
    head_before = {k: v.clone() for k, v in fresh.head.state_dict().items()}
    fit(fresh, data, spec.training, "spearman", "maximize")
    assert all(torch.equal(before[k], v) for k, v in fresh.backbone.state_dict().items())
    assert not all(torch.equal(head_before[k], v) for k, v in fresh.head.state_dict().items())


@pytest.mark.parametrize(
    "change, message",
    [
        ({"features": "mel"}, "has features 'chroma', but this spec has 'mel'"),
        (
            {"params": {"channels": [4, 16], "kernel_sizes": [3, 3]}},
            r"has backbone_params.channels \[4, 8\], but this spec has \[4, 16\]",
        ),
    ],
)
def test_a_mismatched_checkpoint_is_refused(tmp_path, tiny_root, genre_study, change, message):
    spec = transfer_spec(tmp_path, tiny_root, **change)
    with pytest.raises(SpecError, match=message):
        run_study(spec, genre_study)
    assert not (genre_study / "transfer").exists()  # refused before anything was written


def test_an_absent_source_study_is_refused(tmp_path, tiny_root):
    spec = transfer_spec(tmp_path, tiny_root)
    with pytest.raises(SpecError, match=r"model.init_from: no study 'genre_src' in .* \(run its "):
        run_study(spec, tmp_path / "results")


def test_a_transfer_spec_without_backbone_parameters_takes_the_checkpoints(
    tmp_path, tiny_root, genre_study
):
    spec = transfer_spec(tmp_path, tiny_root)
    spec = spec.model_copy(update={"model": spec.model.model_copy(update={"backbone_params": {}})})
    outcome = run_study(spec, genre_study)
    _, ckpt = load_checkpoint(genre_study / "transfer" / "trials" / "0" / "checkpoint.pt")
    assert ckpt["spec"]["model"]["backbone_params"]["channels"] == [4, 8]
    assert outcome.study.trials[0].state.name == "COMPLETE"


POOLED_KEY = {
    "backbone": "pooled_mlp",
    "backbone_params": {"hidden_sizes": [4], "key_chroma_rows": [0, 12]},
}


def test_a_transferred_backbone_reads_the_new_datas_standardisation(tmp_path, tiny_root):
    """A backbone that undoes its inputs' standardisation (pooled_mlp's key) keeps it in
    buffers, which the source's weights bring along: the transferred model must use the
    statistics its own inputs were standardised with, and its checkpoints must carry them,
    the trial's and its refit on train+validation (`final: refit`) alike."""
    source_spec = tiny_spec(
        tmp_path,
        tiny_root,
        name="genre.yaml",
        model=POOLED_KEY,
        search={"n_trials": 1, "space": {}},
    ).model_copy(update={"study": "genre_src"})
    run_study(source_spec, tmp_path / "results")
    source, source_ckpt = load_checkpoint(resolve_checkpoint("genre_src", tmp_path / "results"))
    torch.testing.assert_close(
        source.backbone.chroma_mean, torch.tensor(source_ckpt["mean"], dtype=torch.float32)
    )
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        name="transfer.yaml",
        model={
            "backbone": "pooled_mlp",
            "backbone_params": {},  # the checkpoint's
            "head": "regressor",
            "init_from": "genre_src",
        },
        data={"dataset": "multitask", "features": "chroma"},
        task={"kind": "regression", "targets": ["valence"]},
        search={"n_trials": 1, "space": {}, "selection": {"folds": 1, "final": "refit"}},
    ).model_copy(update={"study": "transfer"})
    outcome = run_study(spec, tmp_path / "results")
    trial = tmp_path / "results" / "transfer" / "trials" / str(outcome.study.trials[0].number)
    for checkpoint in (trial / "checkpoint.pt", trial / "refit.pt"):
        target, target_ckpt = load_checkpoint(checkpoint)
        mean = torch.tensor(target_ckpt["mean"], dtype=torch.float32)
        assert not torch.allclose(mean, source.backbone.chroma_mean)  # the data differ
        torch.testing.assert_close(target.backbone.chroma_mean, mean)
        torch.testing.assert_close(
            target.backbone.chroma_std, torch.tensor(target_ckpt["std"], dtype=torch.float32)
        )
