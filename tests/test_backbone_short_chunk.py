"""The short-chunk CNNs' own behaviour, and the residual block they are built of.

The contract every backbone keeps (padding, batches, tracks of 1 frame) is tested in
tests/test_components_conformance.py.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from components.backbones.blocks import ConvBlock, ResidualBlock
from sweep.model import count_parameters
from sweep.registry import backbones

NAMES = ["short_chunk_res", "short_chunk"]


def _batch(lengths: list[int], n_features: int = 12, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), max(lengths), n_features, generator=generator)
    return x, torch.tensor(lengths)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"channels": []}, r"channels must be a non-empty list of positive integers"),
        (
            {"channels": [8, -1]},
            r"channels must be a non-empty list of positive integers, but got channels=\[8, -1\]",
        ),
        (
            {"global_pool": "sum"},
            r"global_pool must be one of 'max', 'mean', 'meanmax', but got global_pool='sum'",
        ),
        ({"dropout": 1.0}, r"`0 <= dropout < 1` must hold, but got dropout=1.0"),
        ({"n_features": 0}, r"n_features must be a positive integer, but got n_features=0"),
    ],
)
def test_refuses_invalid_arguments(name, params, message):
    with pytest.raises(ValueError, match=message):
        backbones.build(name, **{"n_features": 12, **params})


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("global_pool", "factor"), [("max", 1), ("mean", 1), ("meanmax", 2)])
def test_out_features(name, global_pool, factor):
    net = backbones.build(name, n_features=12, channels=[4, 6], global_pool=global_pool)
    assert net.out_features == 6 * factor
    assert net.eval()(*_batch([9, 5])).shape == (2, 6 * factor)


def test_defaults_on_128_mel_bins():
    """4 blocks, 16 to 128 channels; the residual one adds a 1 x 1 shortcut per block."""
    res = backbones.build("short_chunk_res", n_features=128)
    plain = backbones.build("short_chunk", n_features=128)
    widths = [(1, 16), (16, 32), (32, 64), (64, 128)]
    convs = sum(9 * c_in * c_out for c_in, c_out in widths)  # no bias before batch norm
    norms = 2 * sum(c_out for _, c_out in widths)
    assert count_parameters(plain) == convs + norms == 97_392
    second = sum(9 * c_out * c_out + c_in * c_out for c_in, c_out in widths)
    assert count_parameters(res) == convs + second + 3 * norms == 304_960
    assert res.out_features == plain.out_features == 128
    assert all(isinstance(block, ResidualBlock) for block in res.blocks)
    assert all(isinstance(block, ConvBlock) for block in plain.blocks)


def test_residual_shortcut_is_the_identity_when_the_channels_stay():
    net = backbones.build("short_chunk_res", n_features=12, channels=[4, 4, 8])
    assert [block.project is None for block in net.blocks] == [False, True, False]


def _randomise_running_statistics(net: nn.Module) -> None:
    """Running statistics other than (0, 1), so that eval-mode normalisation matters."""
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)


def _plain_norm(norm: nn.BatchNorm2d) -> nn.BatchNorm2d:
    plain = nn.BatchNorm2d(norm.num_features)
    plain.load_state_dict(norm.state_dict())
    return plain.eval()


class _ReferenceResidual(nn.Module):
    """An unmasked residual block with a block's weights: what it computes on full tracks."""

    def __init__(self, block: ResidualBlock) -> None:
        super().__init__()
        self.block = block
        self.norms = nn.ModuleList(map(_plain_norm, [block.norm1, block.norm2]))
        self.project_norm = _plain_norm(block.project_norm) if block.project else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.block
        inner = self.norms[1](b.conv2(torch.relu(self.norms[0](b.conv1(x)))))
        shortcut = x if b.project is None else self.project_norm(b.project(x))
        return torch.relu(inner + shortcut)


def _reference_stack(net: nn.Module) -> nn.Sequential:
    """The unmasked network of `net`'s blocks, up to the global pooling."""
    reference = nn.Sequential()
    for block in net.blocks:
        reference.extend([_ReferenceResidual(block), nn.MaxPool2d(2, ceil_mode=True)])
    return reference


def test_on_unpadded_input_is_the_reference_stack():
    """With nothing padded, the masking changes nothing: residual blocks, 2 x 2 max pooling,
    then a max over frequency and time."""
    net = backbones.build("short_chunk_res", n_features=12, channels=[4, 4, 8]).eval()
    _randomise_running_statistics(net)
    x, lengths = _batch([16, 16])
    with torch.no_grad():
        expected = _reference_stack(net)(x.transpose(1, 2).unsqueeze(1)).amax(dim=(2, 3))
        torch.testing.assert_close(net(x, lengths), expected)


def test_meanmax_is_the_mean_and_the_max_over_each_track_s_steps():
    """Lengths that 2 poolings divide: each track alone goes through the unmasked stack."""
    net = backbones.build("short_chunk_res", n_features=12, channels=[4, 6], global_pool="meanmax")
    net.eval()
    _randomise_running_statistics(net)
    x, lengths = _batch([20, 8])
    with torch.no_grad():
        pooled = net(x, lengths)
        for i, n in enumerate(lengths.tolist()):
            image = _reference_stack(net)(x[i : i + 1, :n].transpose(1, 2).unsqueeze(1))
            steps = image.amax(dim=2)[0]  # (C, T / 4): max over frequency
            expected = torch.cat([steps.mean(dim=1), steps.amax(dim=1)])
            torch.testing.assert_close(pooled[i], expected)


@pytest.mark.parametrize("name", NAMES)
def test_learns_a_separable_toy_problem(name):
    """Class 1 has louder low bands: a few dozen steps separate the classes."""
    torch.manual_seed(0)
    net = backbones.build(name, n_features=12, channels=[4, 8])
    head = nn.Linear(net.out_features, 2)
    optimiser = torch.optim.Adam([*net.parameters(), *head.parameters()], lr=0.02)
    labels = torch.arange(16) % 2
    lengths = torch.randint(4, 33, (16,))
    x = torch.randn(16, 32, 12)
    x[labels == 1, :, :4] += 2.0
    accuracies = []
    for _ in range(40):  # until every track is right in eval mode
        with torch.no_grad():
            accuracies.append((head(net.eval()(x, lengths)).argmax(1) == labels).float().mean())
        if accuracies[-1] == 1:
            break
        optimiser.zero_grad()
        nn.functional.cross_entropy(head(net.train()(x, lengths)), labels).backward()
        optimiser.step()
    assert accuracies[0] < 1 and accuracies[-1] == 1


@pytest.mark.parametrize("name", NAMES)
def test_batch_statistics_ignore_padding(name):
    """In training mode too: every batch norm, shortcuts' included, counts valid steps only."""
    x, lengths = _batch([12, 5, 1])
    noisy = torch.cat([x, 50 * torch.randn(3, 6, 12)], dim=1)
    noisy[1, 5:12] = 7.0
    nets = []
    for _ in range(2):
        torch.manual_seed(0)
        nets.append(backbones.build(name, n_features=12, channels=[4, 4, 8]).train())
    torch.testing.assert_close(nets[1](noisy, lengths), nets[0](x, lengths))
    norms = [[m for m in net.modules() if isinstance(m, nn.BatchNorm2d)] for net in nets]
    for clean, padded in zip(*norms, strict=True):
        torch.testing.assert_close(padded.running_var, clean.running_var)
        torch.testing.assert_close(padded.running_mean, clean.running_mean)
