import pytest
import torch

from sweep.model import SpectrogramModel, build_model, count_parameters
from sweep.registry import RegistryError


def _batch(n_tracks: int, n_features: int, seed: int = 0):
    """Tracks of 5 to 20 frames; the first two features carry a per-track offset."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(5, 21, (n_tracks,), generator=generator)
    x = torch.randn(n_tracks, int(lengths.max()), n_features, generator=generator)
    offsets = torch.randn(n_tracks, 2, generator=generator)
    x[:, :, :2] += offsets[:, None, :]
    x[torch.arange(x.shape[1]) >= lengths[:, None]] = 0.0  # standardised padding
    return x, lengths, offsets


def test_build_model_composes_the_registered_parts():
    model = build_model("lstm", "classifier", 12, 4, {"hidden_size": 8}, {"hidden_size": 5})
    assert isinstance(model, SpectrogramModel) and model.task == "classification"
    assert model.backbone.out_features == 16  # bidirectional by default
    assert model.head.output.in_features == 5
    x, lengths, _ = _batch(3, 12)
    outputs = model(x, lengths)
    assert outputs.shape == (3, 4)
    assert model.loss(outputs, torch.tensor([0, 3, 1])).shape == ()
    probabilities = model.eval().predict(x, lengths)
    assert not probabilities.requires_grad
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(3))


def test_build_model_refuses_parameters_the_component_does_not_take():
    with pytest.raises(
        ValueError,
        match=r"backbone 'lstm': got an unexpected keyword argument "
        r"'hiden_size' \(it takes: hidden_size, num_layers, bidirectional, "
        r"dropout, pooling\) Did you mean 'hidden_size'\?$",
    ):
        build_model("lstm", "classifier", 12, 4, {"hiden_size": 8}, {})
    with pytest.raises(
        ValueError,
        match=r"head 'regressor': n_outputs is set by build_model "
        r"\(from the data or the backbone\), not by parameters, but got "
        r"n_outputs=2",
    ):
        build_model("cnn", "regressor", 12, 3, {}, {"n_outputs": 2})
    with pytest.raises(RegistryError, match=r"Unknown backbone 'lstn'.*Did you mean 'lstm'\?"):
        build_model("lstn", "classifier", 12, 4, {}, {})


def test_count_parameters_counts_trainable_values_only():
    model = build_model("lstm", "regressor", 3, 2, {"hidden_size": 4, "num_layers": 1}, {})
    # Per direction 4 gates x hidden x (inputs + hidden + 2 biases); head 8 x 2 + 2.
    assert count_parameters(model) == 2 * 4 * 4 * (3 + 4 + 2) + 8 * 2 + 2
    model.backbone.requires_grad_(False)
    assert count_parameters(model) == 8 * 2 + 2


@pytest.mark.parametrize(
    ("backbone", "backbone_params", "head"),
    [
        ("lstm", {"hidden_size": 8}, "classifier"),
        ("cnn", {"channels": (4, 8), "kernel_sizes": (3, 3)}, "classifier"),
        ("lstm", {"hidden_size": 8, "pooling": "mean"}, "regressor"),
        ("cnn", {"channels": (4, 8), "kernel_sizes": (3, 3)}, "multitask"),
    ],
)
def test_a_few_adam_steps_reduce_the_loss(backbone, backbone_params, head):
    torch.manual_seed(0)
    x, lengths, offsets = _batch(16, 12)
    if head == "classifier":  # the class: which of the two offsets is the larger
        n_outputs, targets = 2, (offsets[:, 0] > offsets[:, 1]).long()
    else:
        n_outputs, targets = 2, offsets
    model = build_model(backbone, head, 12, n_outputs, backbone_params, {}).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(25):
        optimizer.zero_grad()
        loss = model.loss(model(x, lengths), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_the_reference_lstm():
    """Bidirectional, 2 layers, hidden 128, last-step pooling, on the 140 fused features."""
    model = build_model("lstm", "classifier", 140, 10, {}, {})
    per_direction = [4 * 128 * (140 + 128 + 2), 4 * 128 * (256 + 128 + 2)]  # layer 1, layer 2
    assert count_parameters(model.backbone) == 2 * sum(per_direction) == 671_744
    assert count_parameters(model.head) == 256 * 10 + 10
    out = model.eval()(torch.randn(2, 60, 140), torch.tensor([60, 33]))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_the_reference_cnn():
    """4 blocks, kernels 5, 5, 3, 3, channels 32 to 256, batch norm, on the 128 mel bands."""
    model = build_model("cnn", "classifier", 128, 10, {}, {})
    convs = 1 * 32 * 25 + 32 * 64 * 25 + 64 * 128 * 9 + 128 * 256 * 9  # no bias before BN
    norms = 2 * (32 + 64 + 128 + 256)
    assert count_parameters(model.backbone) == convs + norms == 421_600
    out = model.eval()(torch.randn(2, 60, 128), torch.tensor([60, 17]))
    assert out.shape == (2, 10) and torch.isfinite(out).all()
