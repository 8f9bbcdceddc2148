"""The `temporal_cnn` backbone: a 1-D CNN over time with the feature bins as channels."""

from __future__ import annotations

import pytest
import torch
from conftest import train_toy
from torch import nn

from sweep.model import build_model, count_parameters
from sweep.registry import backbones

TINY = {"channels": (4, 8), "kernel_size": 3}


def _tracks(lengths: list[int], n_features: int = 3, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), max(lengths), n_features, generator=generator)
    lengths_t = torch.tensor(lengths)
    x[torch.arange(max(lengths)) >= lengths_t[:, None]] = float("nan")
    return x, lengths_t


@pytest.mark.parametrize(
    ("global_pool", "factor"),
    [("mean", 1), ("max", 1), ("meanmax", 2), ("meanstd", 2), ("meanstdmax", 3)],
)
def test_temporal_cnn_out_features(global_pool, factor):
    net = backbones.build("temporal_cnn", n_features=3, **TINY, global_pool=global_pool)
    assert net.out_features == 8 * factor


def test_temporal_cnn_default_size_is_documented():
    net = backbones.build("temporal_cnn", n_features=128)
    assert f"{count_parameters(net):,} parameters" in backbones.get("temporal_cnn").__doc__


def test_temporal_cnn_takes_one_kernel_per_block():
    net = backbones.build("temporal_cnn", n_features=3, channels=[4, 8], kernel_size=[7, 2])
    assert [block.conv.conv.kernel_size for block in net.blocks] == [(7,), (2,)]


def test_temporal_cnn_on_unpadded_input_is_the_reference_stack():
    """With nothing padded, the masking changes nothing: Conv-BN-ReLU-MaxPool, then the mean
    and the max over time."""
    net = backbones.build("temporal_cnn", n_features=3, **TINY).eval()
    with torch.no_grad():  # running statistics other than (0, 1), so that they matter
        for block in net.blocks:
            block.conv.norm.running_mean.uniform_(-1, 1)
            block.conv.norm.running_var.uniform_(0.5, 2)
    reference = nn.Sequential()
    for block in net.blocks:
        conv = nn.Conv1d(block.conv.conv.in_channels, block.conv.conv.out_channels, 3, padding=1)
        conv.weight, conv.bias = block.conv.conv.weight, None
        norm = nn.BatchNorm1d(conv.out_channels)
        norm.load_state_dict(block.conv.norm.state_dict())
        reference.extend([conv, norm, nn.ReLU(), nn.MaxPool1d(2)])
    reference.eval()
    x = torch.randn(2, 16, 3)
    out = reference(x.transpose(1, 2))
    expected = torch.cat([out.mean(dim=2), out.amax(dim=2)], dim=1)
    torch.testing.assert_close(net(x, torch.tensor([16, 16])), expected)


def test_temporal_cnn_batch_statistics_ignore_padding():
    """In training mode too: batch normalisation counts the valid steps only."""
    x, lengths = _tracks([12, 5, 1])
    clean = x.nan_to_num(0.0)
    nets = [backbones.build("temporal_cnn", n_features=3, **TINY).train() for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    torch.testing.assert_close(nets[0](x, lengths), nets[1](clean, lengths))
    for a, b in zip(nets[0].blocks, nets[1].blocks, strict=True):
        torch.testing.assert_close(a.conv.norm.running_var, b.conv.norm.running_var)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"channels": [4, 8], "kernel_size": [3]},
            r"`len\(kernel_size\) == len\(channels\)` must hold \(one kernel per block\), "
            r"but got channels=\[4, 8\], kernel_size=\[3\]",
        ),
        ({"kernel_size": 0}, r"kernel_size must be a positive integer, but got kernel_size=0"),
        (
            {"kernel_size": [3, 0, 3, 3]},
            r"kernel_size must be a positive integer or a list of them, "
            r"but got kernel_size=\[3, 0, 3, 3\]",
        ),
        ({"kernel_size": 2.5}, r"but got kernel_size=2.5"),
        ({"channels": []}, r"channels must be a non-empty list of positive integers"),
        ({"pool": "min"}, r"pool must be one of 'max', 'avg', but got pool='min'"),
        (
            {"global_pool": "std"},
            r"global_pool must be one of 'mean', 'max', 'meanmax', 'meanstd', 'meanstdmax', "
            r"but got global_pool='std'",
        ),
        ({"batch_norm": 0}, r"batch_norm must be true or false, but got 0"),
        ({"dropout": -0.1}, r"`0 <= dropout < 1` must hold, but got dropout=-0.1"),
    ],
)
def test_temporal_cnn_refuses_invalid_arguments(params, message):
    with pytest.raises(ValueError, match=message):
        backbones.build("temporal_cnn", **{"n_features": 3, **params})


def test_temporal_cnn_learns_the_direction_of_time():
    """Rising or falling ramps: the same frames, so the same mean, std and max per track;
    only the order of the frames tells the classes apart."""
    torch.manual_seed(0)
    lengths = torch.tensor([8, 12, 16, 10] * 4)
    labels = torch.arange(16) % 2
    x = torch.zeros(16, 16, 2)
    for i, n in enumerate(lengths.tolist()):
        ramp = torch.linspace(-1, 1, n)
        x[i, :n, 0] = ramp if labels[i] else ramp.flip(0)
    model = build_model("temporal_cnn", "classifier", 2, 2, TINY, {})
    model = train_toy(model, x, lengths, labels, steps=40)
    assert (model(x, lengths).argmax(1) == labels).all()
