"""Every registered backbone and head follows the contract of `sweep.model`.

The conformance tests are parametrised over `backbones.names()` and `heads.names()`, so a
new component is tested the moment it is registered; the built-in ones are also tested
with their options. Tests of one component's own behaviour come after them.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from components.backbones.blocks import MaskedBatchNorm2d
from sweep.registry import backbones, heads

# Small sizes keep the built-in components fast; other components run with their defaults.
TINY_BACKBONES = {
    "lstm": {"hidden_size": 8},
    # 4 blocks, as the reference: tracks shorter than 2**4 frames go through them.
    "cnn": {"channels": (4, 4, 8, 8), "kernel_sizes": (5, 5, 3, 3)},
    "pooled_mlp": {"hidden_sizes": (8,)},
    # 4 blocks, as the default: tracks shorter than 2**4 frames go through them.
    "temporal_cnn": {"channels": (4, 4, 8, 8), "kernel_size": 3},
    "musicnn": {
        "timbral_filters": 2,
        "temporal_filters": 2,
        "temporal_widths": (4, 8),
        "midend_channels": 4,
    },
    # short_chunk: 4 blocks, as the defaults; repeated widths give identity shortcuts.
    "short_chunk_res": {"channels": (4, 4, 8, 8)},
    "short_chunk": {"channels": (4, 4, 8, 8)},
    # crnn: 4 blocks, time pooled in 2 of them, as the defaults.
    "crnn": {"channels": (4, 4, 8, 8), "hidden_size": 8},
}
BACKBONE_OPTIONS = [
    *(
        ("lstm", {"pooling": pooling, "bidirectional": bidirectional})
        for pooling in ("last", "mean", "attention")
        for bidirectional in (True, False)
    ),
    ("lstm", {"num_layers": 1, "dropout": 0.3}),
    ("lstm", {"num_layers": 3, "dropout": 0.3, "pooling": "attention"}),
    *(
        ("cnn", {"pool": pool, "global_pool": global_pool})
        for pool in ("max", "avg")
        for global_pool in ("mean", "max", "meanmax")
    ),
    ("cnn", {"batch_norm": False, "dropout": 0.3}),
    ("cnn", {"channels": [4, 8], "kernel_sizes": [2, 4]}),  # lists, as JSON gives; even kernels
    *(("pooled_mlp", {"stats": stats}) for stats in (["mean"], ["std"], ["max", "mean", "std"])),
    ("pooled_mlp", {"hidden_sizes": [], "dropout": 0.3}),  # batch norm: something to train
    ("pooled_mlp", {"batch_norm": False, "dropout": 0.3}),
    ("pooled_mlp", {"hidden_sizes": [8, 4], "dropout": 0.3}),
    ("pooled_mlp", {"key_chroma_rows": [0, 12]}),  # the track's key from the first 12
    ("pooled_mlp", {"mfcc_mel_rows": [0, 12], "n_mfcc": 5}),  # MFCCs of the first 12
    *(
        ("temporal_cnn", {"pool": pool, "global_pool": global_pool})
        for pool in ("max", "avg")
        for global_pool in ("mean", "max", "meanstdmax")
    ),
    ("temporal_cnn", {"batch_norm": False, "dropout": 0.3, "global_pool": "meanstd"}),
    ("temporal_cnn", {"channels": [4, 8], "kernel_size": [2, 4]}),  # even kernels
    ("musicnn", {"timbral_heights": [0.01, 1.0], "timbral_widths": [2, 3], "dropout": 0.3}),
    ("musicnn", {"temporal_widths": [1], "midend_layers": 1}),
    # short_chunk
    *(("short_chunk_res", {"global_pool": pool}) for pool in ("mean", "meanmax")),
    ("short_chunk_res", {"channels": [4, 8, 8, 8, 8, 8, 8], "dropout": 0.3}),  # 7, as the paper
    ("short_chunk", {"global_pool": "meanmax", "dropout": 0.3}),
    # crnn
    *(
        ("crnn", {"pooling": pooling, "bidirectional": bidirectional})
        for pooling in ("last", "mean")
        for bidirectional in (True, False)
    ),
    ("crnn", {"time_pool_every": 1, "num_layers": 1}),  # time halved 4 times, as the paper
    ("crnn", {"channels": [4, 8], "time_pool_every": 3, "num_layers": 3, "dropout": 0.3}),
]
TINY_HEADS = {"classifier": {}, "regressor": {}, "multitask": {}}
HEAD_OPTIONS = [
    ("classifier", {"hidden_size": 8, "dropout": 0.2}),
    ("regressor", {"hidden_size": 8, "dropout": 0.2}),
    ("multitask", {"hidden_size": 8, "loss_weights": [1.0, 0.0, 2.0]}),
]
N_OUTPUTS = 3  # classes or targets
N_FEATURES = 12

# torch notes that "same" padding with an even kernel copies the input; that is expected.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def _cases(names: list[str], tiny: dict, options: list[tuple[str, dict]]) -> list:
    cases = [pytest.param(name, tiny.get(name, {}), id=name) for name in names]
    for name, option in options:
        words = "-".join(f"{k}={v}" for k, v in option.items()).replace(" ", "")
        cases.append(pytest.param(name, {**tiny[name], **option}, id=f"{name}-{words}"))
    return cases


BACKBONE_CASES = _cases(backbones.names(), TINY_BACKBONES, BACKBONE_OPTIONS)
HEAD_CASES = _cases(heads.names(), TINY_HEADS, HEAD_OPTIONS)


def _backbone(name: str, params: dict, n_features: int = N_FEATURES, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return backbones.build(name, n_features=n_features, **params)


def _batch(lengths: list[int], n_features: int = N_FEATURES, seed: int = 1):
    """Standardised-looking frames, padded at the end with the dB floor (-80)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), max(lengths), n_features, generator=generator)
    lengths_t = torch.tensor(lengths, dtype=torch.int64)
    x[torch.arange(max(lengths)) >= lengths_t[:, None]] = -80.0
    return x, lengths_t


def _assert_finite_grads(module: nn.Module) -> None:
    for name, p in module.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f"{name} got no gradient"
            assert torch.isfinite(p.grad).all(), f"{name} has a non-finite gradient"


# Backbones ------------------------------------------------------------------------------


@pytest.mark.parametrize("n_features", [12, 128, 140])
@pytest.mark.parametrize(("name", "params"), BACKBONE_CASES)
def test_backbone_output_shape(name, params, n_features):
    net = _backbone(name, params, n_features).eval()
    x, lengths = _batch([20, 7, 4], n_features)
    out = net(x, lengths)
    assert isinstance(net.out_features, int)
    assert out.shape == (3, net.out_features) and out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(("name", "params"), BACKBONE_CASES)
def test_backbone_backward_gives_finite_grads(name, params):
    net = _backbone(name, params).train()
    x, lengths = _batch([20, 3, 1, 4])
    out = net(x, lengths)
    # Random weights: a plain sum can cancel through normalisation.
    (out * torch.randn_like(out)).sum().backward()
    _assert_finite_grads(net)


@pytest.mark.parametrize(("name", "params"), BACKBONE_CASES)
def test_backbone_batches_tracks_of_any_length_independently(name, params):
    """Each row of a batch of lengths [T, 3, 1, 4] is what the track gives alone, unpadded."""
    net = _backbone(name, params).eval()
    x, lengths = _batch([17, 3, 1, 4])
    together = net(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        alone = net(x[i : i + 1, :n], lengths[i : i + 1])
        torch.testing.assert_close(together[i : i + 1], alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("length", [1, 4, 9])
@pytest.mark.parametrize(("name", "params"), BACKBONE_CASES)
def test_backbone_trains_on_a_batch_of_one(name, params, length):
    net = _backbone(name, params).train()
    x, lengths = _batch([length])
    out = net(x, lengths)
    out.sum().backward()
    assert out.shape == (1, net.out_features) and torch.isfinite(out).all()
    _assert_finite_grads(net)


@pytest.mark.parametrize(("name", "params"), BACKBONE_CASES)
def test_backbone_ignores_padding(name, params):
    """Other padding values, and more padding frames, leave the output as it was."""
    net = _backbone(name, params).eval()
    x, lengths = _batch([12, 5, 1, 4])
    expected = net(x, lengths)
    noisy = torch.cat([x, torch.zeros(4, 9, N_FEATURES)], dim=1)
    padded = torch.arange(noisy.shape[1]) >= lengths[:, None]
    noisy[padded] = 100 * torch.randn(int(padded.sum()), N_FEATURES)
    torch.testing.assert_close(net(noisy, lengths), expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(("name", "params"), BACKBONE_CASES)
def test_backbone_is_deterministic_under_a_seed(name, params):
    x, lengths = _batch([10, 6])
    outputs = []
    for _ in range(2):
        net = _backbone(name, params, seed=3).train()  # the seed sets the initial weights
        torch.manual_seed(4)  # and this one the dropout masks
        outputs.append(net(x, lengths))
    assert torch.equal(*outputs)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        (
            "lstm",
            {"pooling": "max"},
            r"pooling must be one of 'last', 'mean', 'attention', but got pooling='max'",
        ),
        (
            "lstm",
            {"hidden_size": 0},
            r"hidden_size must be a positive integer, but got hidden_size=0",
        ),
        ("lstm", {"num_layers": 1.5}, r"num_layers must be a positive integer"),
        ("lstm", {"dropout": 1.0}, r"`0 <= dropout < 1` must hold, but got dropout=1.0"),
        ("lstm", {"bidirectional": "yes"}, r"bidirectional must be true or false"),
        ("lstm", {"n_features": 0}, r"n_features must be a positive integer"),
        (
            "cnn",
            {"channels": (4, 8), "kernel_sizes": (3,)},
            r"`len\(channels\) == len\(kernel_sizes\)` must hold \(one kernel per block\), "
            r"but got channels=\[4, 8\], kernel_sizes=\[3\]",
        ),
        ("cnn", {"channels": ()}, r"channels must be a non-empty list of positive integers"),
        (
            "cnn",
            {"channels": (4, 0), "kernel_sizes": (3, 3)},
            r"channels must be a non-empty list of positive integers, but got channels=\(4, 0\)",
        ),
        (
            "cnn",
            {"kernel_sizes": 3},
            r"kernel_sizes must be a non-empty list of positive integers, but got kernel_sizes=3",
        ),
        ("cnn", {"pool": "min"}, r"pool must be one of 'max', 'avg', but got pool='min'"),
        ("cnn", {"global_pool": "sum"}, r"global_pool must be one of 'mean', 'max', 'meanmax'"),
        ("cnn", {"dropout": -0.1}, r"`0 <= dropout < 1` must hold, but got dropout=-0.1"),
        ("cnn", {"batch_norm": 1}, r"batch_norm must be true or false, but got 1"),
    ],
)
def test_backbone_refuses_invalid_arguments(name, params, message):
    params = {"n_features": N_FEATURES, **params}
    with pytest.raises(ValueError, match=message):
        backbones.build(name, **params)


@pytest.mark.parametrize("name", list(TINY_BACKBONES))
def test_backbone_refuses_a_batch_that_does_not_fit(name):
    net = _backbone(name, TINY_BACKBONES[name])
    x, lengths = _batch([5, 3])
    with pytest.raises(ValueError, match=r"x must be \(B, T, 12\), but got shape \(2, 5, 11\)"):
        net(x[:, :, :11], lengths)
    with pytest.raises(
        ValueError,
        match=r"`1 <= length <= T=5` must hold, but got lengths from 0 to 3",
    ):
        net(x, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"lengths must be \(2,\)"):
        net(x, torch.tensor([5]))


# Heads ----------------------------------------------------------------------------------


def _head(name: str, params: dict, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return heads.build(name, in_features=6, n_outputs=N_OUTPUTS, **params)


def _targets(head: nn.Module, batch: int) -> torch.Tensor:
    if head.task == "classification":
        return torch.arange(batch) % N_OUTPUTS
    return torch.rand(batch, N_OUTPUTS)


@pytest.mark.parametrize(("name", "params"), HEAD_CASES)
def test_head_outputs_loss_and_predictions(name, params):
    head = _head(name, params).train()
    assert type(head).task in ("classification", "regression")
    embedding = torch.randn(5, 6)
    outputs = head(embedding)
    loss = head.loss(outputs, _targets(head, 5))
    assert loss.shape == () and torch.isfinite(loss)
    loss.backward()
    _assert_finite_grads(head)
    predicted = head.predict(outputs)
    assert predicted.shape == (5, N_OUTPUTS)
    if head.task == "classification":  # probabilities
        assert (predicted >= 0).all()
        torch.testing.assert_close(predicted.sum(dim=1), torch.ones(5))


@pytest.mark.parametrize(("name", "params"), HEAD_CASES)
def test_head_trains_on_a_batch_of_one(name, params):
    head = _head(name, params).train()
    outputs = head(torch.randn(1, 6))
    head.loss(outputs, _targets(head, 1)).backward()
    _assert_finite_grads(head)


@pytest.mark.parametrize(("name", "params"), HEAD_CASES)
def test_head_is_deterministic_under_a_seed(name, params):
    embedding = torch.randn(4, 6)
    outputs = []
    for _ in range(2):
        head = _head(name, params, seed=5).train()
        torch.manual_seed(6)
        outputs.append(head(embedding))
    assert torch.equal(*outputs)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        (
            "classifier",
            {"n_outputs": 1},
            r"a classifier needs `n_outputs >= 2` classes, but got n_outputs=1",
        ),
        (
            "classifier",
            {"hidden_size": -1},
            r"hidden_size must be 0 \(no hidden layer\) or a positive integer, "
            r"but got hidden_size=-1",
        ),
        ("regressor", {"dropout": 1.5}, r"`0 <= dropout < 1` must hold, but got dropout=1.5"),
        ("regressor", {"in_features": 0}, r"in_features must be a positive integer"),
        (
            "multitask",
            {"loss_weights": [1.0, 2.0]},
            r"loss_weights must be a list of one weight per target \(3\), "
            r"but got loss_weights=\[1.0, 2.0\]",
        ),
        ("multitask", {"loss_weights": [1.0, -1.0, 1.0]}, r"every loss weight must be >= 0"),
        (
            "multitask",
            {"loss_weights": [0, 0, 0]},
            r"`sum\(loss_weights\) > 0` must hold, but got loss_weights=\[0, 0, 0\]",
        ),
    ],
)
def test_head_refuses_invalid_arguments(name, params, message):
    params = {"in_features": 6, "n_outputs": N_OUTPUTS, **params}
    with pytest.raises(ValueError, match=message):
        heads.build(name, **params)


# Component-specific behaviour --------------------------------------------------------------


@pytest.mark.parametrize("bidirectional", [True, False])
def test_lstm_last_pooling_is_the_reference(bidirectional):
    """Last valid step of the forward direction, first step of the backward direction."""
    net = _backbone("lstm", {"hidden_size": 8, "bidirectional": bidirectional}).eval()
    x, lengths = _batch([9, 4])
    pooled = net(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        steps, _ = net.lstm(x[i : i + 1, :n])  # one unpadded track: no packing needed
        expected = steps[0, n - 1, :8]
        if bidirectional:
            expected = torch.cat([expected, steps[0, 0, 8:]])
        torch.testing.assert_close(pooled[i], expected)


def test_lstm_mean_pooling_averages_the_valid_steps():
    net = _backbone("lstm", {"hidden_size": 8, "pooling": "mean"}).eval()
    x, lengths = _batch([9, 4])
    pooled = net(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        steps, _ = net.lstm(x[i : i + 1, :n])
        torch.testing.assert_close(pooled[i], steps[0].mean(dim=0))


def test_cnn_on_unpadded_input_is_the_reference_stack():
    """With nothing padded, the masking changes nothing: Conv-BN-ReLU-MaxPool, then a mean."""
    net = _backbone("cnn", {"channels": (4, 8), "kernel_sizes": (5, 3)}).eval()
    with torch.no_grad():  # running statistics other than (0, 1), so that they matter
        for block in net.blocks:
            block.norm.running_mean.uniform_(-1, 1)
            block.norm.running_var.uniform_(0.5, 2)
    reference = nn.Sequential()
    for block in net.blocks:
        norm = nn.BatchNorm2d(block.conv.out_channels)
        norm.load_state_dict(block.norm.state_dict())
        reference.extend([block.conv, norm, nn.ReLU(), nn.MaxPool2d(2)])
    reference.eval()
    x, lengths = _batch([16, 16])
    expected = reference(x.transpose(1, 2).unsqueeze(1)).mean(dim=(2, 3))
    torch.testing.assert_close(net(x, lengths), expected)


def test_cnn_batch_statistics_ignore_padding():
    """In training mode too: batch normalisation counts the valid frames only."""
    x, lengths = _batch([12, 5, 1])
    noisy = torch.cat([x, 50 * torch.randn(3, 6, N_FEATURES)], dim=1)
    noisy[1, 5:12] = 7.0
    clean_net = _backbone("cnn", TINY_BACKBONES["cnn"]).train()
    noisy_net = _backbone("cnn", TINY_BACKBONES["cnn"]).train()
    torch.testing.assert_close(noisy_net(noisy, lengths), clean_net(x, lengths))
    for clean, noisy_block in zip(clean_net.blocks, noisy_net.blocks, strict=True):
        torch.testing.assert_close(noisy_block.norm.running_var, clean.norm.running_var)


def test_masked_batch_norm_is_batch_norm_when_every_frame_is_valid():
    torch.manual_seed(0)
    masked, plain = MaskedBatchNorm2d(3), nn.BatchNorm2d(3)
    image = torch.randn(2, 3, 5, 7) * 3 + 1
    for _ in range(2):  # twice: the running statistics are updated alike
        torch.testing.assert_close(masked(image, torch.ones(2, 1, 1, 7)), plain(image))
    torch.testing.assert_close(masked.running_mean, plain.running_mean)
    torch.testing.assert_close(masked.running_var, plain.running_var)


def test_masked_batch_norm_with_one_value_per_channel_uses_running_statistics():
    norm = MaskedBatchNorm2d(2).train()
    image = torch.tensor([[[[3.0, 9.0]], [[-1.0, 5.0]]]])  # (1, 2, 1, 2), second step padded
    out = norm(image, torch.tensor([[[[1.0, 0.0]]]]))
    torch.testing.assert_close(out, image / (1 + norm.eps) ** 0.5)  # running (0, 1)
    assert int(norm.num_batches_tracked) == 0


def test_multitask_loss_is_the_weighted_sum_of_per_target_mse():
    head = heads.build("multitask", in_features=6, n_outputs=3, loss_weights=[1.0, 0.0, 3.0])
    outputs, targets = torch.zeros(2, 3), torch.tensor([[1.0, 5.0, 2.0], [1.0, 5.0, 0.0]])
    # MSE per target: 1, 25, 2; weights normalised to 1/4, 0, 3/4.
    torch.testing.assert_close(head.loss(outputs, targets), torch.tensor(0.25 + 1.5))
    equal = heads.build("multitask", in_features=6, n_outputs=3)
    regressor = heads.build("regressor", in_features=6, n_outputs=3)
    torch.testing.assert_close(equal.loss(outputs, targets), regressor.loss(outputs, targets))
    torch.testing.assert_close(regressor.loss(outputs, targets), torch.tensor(28.0 / 3))


def test_regression_loss_refuses_targets_of_another_shape():
    head = heads.build("regressor", in_features=6, n_outputs=1)
    with pytest.raises(
        ValueError,
        match=r"targets must have the outputs' shape \(4, 1\), but got \(4,\)",
    ):
        head.loss(torch.zeros(4, 1), torch.zeros(4))
