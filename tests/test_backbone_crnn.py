"""The CRNN's own behaviour.

The contract every backbone keeps (padding, batches, tracks of 1 frame) is tested in
tests/test_components_conformance.py.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pad_packed_sequence

from sweep.model import count_parameters
from sweep.registry import backbones

TINY = {"channels": [4, 4, 8, 8], "hidden_size": 8}


def _batch(lengths: list[int], n_features: int = 12, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), max(lengths), n_features, generator=generator)
    return x, torch.tensor(lengths)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"channels": []}, r"channels must be a non-empty list of positive integers"),
        (
            {"time_pool_every": 0},
            r"time_pool_every must be a positive integer, but got time_pool_every=0",
        ),
        ({"hidden_size": 0}, r"hidden_size must be a positive integer, but got hidden_size=0"),
        ({"num_layers": 1.5}, r"num_layers must be a positive integer, but got num_layers=1.5"),
        ({"bidirectional": "yes"}, r"bidirectional must be true or false, but got 'yes'"),
        ({"pooling": "max"}, r"pooling must be one of 'last', 'mean', but got pooling='max'"),
        ({"dropout": -0.1}, r"`0 <= dropout < 1` must hold, but got dropout=-0.1"),
        ({"n_features": 0}, r"n_features must be a positive integer, but got n_features=0"),
    ],
)
def test_refuses_invalid_arguments(params, message):
    with pytest.raises(ValueError, match=message):
        backbones.build("crnn", **{"n_features": 12, **params})


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_out_features(bidirectional, pooling):
    net = backbones.build(
        "crnn", n_features=12, hidden_size=6, bidirectional=bidirectional, pooling=pooling
    )
    assert net.out_features == 6 * (2 if bidirectional else 1)
    assert net.eval()(*_batch([9, 5])).shape == (2, net.out_features)


def test_defaults_on_128_mel_bins():
    """4 conv blocks, 16 to 64 channels; 2 GRU layers of 64 units reading 64 channels."""
    net = backbones.build("crnn", n_features=128)
    widths = [(1, 16), (16, 32), (32, 64), (64, 64)]
    convs = sum(9 * c_in * c_out + 2 * c_out for c_in, c_out in widths)  # with batch norm
    gru = 2 * 3 * (64 * 64 + 64 * 64 + 2 * 64)  # input 64 in both layers, as the hidden size
    assert count_parameters(net) == convs + gru == 110_320
    assert net.out_features == 64


@pytest.mark.parametrize(
    ("every", "pooled", "steps"),
    [
        (2, [False, True, False, True], [32, 17]),  # 70 // 2 // 2
        (1, [True] * 4, [8, 4]),
        (5, [False] * 4, [128, 70]),
    ],
)
def test_time_is_pooled_every_k_blocks(every, pooled, steps):
    """The GRU reads each track's valid steps: halved (floor) by each block pooling time."""
    net = backbones.build("crnn", n_features=12, time_pool_every=every, **TINY)
    assert [block.time_pool for block in net.blocks] == pooled
    seen = []
    net.gru.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    net.eval()(*_batch([128, 70]))
    assert pad_packed_sequence(seen[0], batch_first=True)[1].tolist() == steps


def _steps_alone(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The GRU's outputs (T', D) on one unpadded track, without packing."""
    image, lengths = x.transpose(1, 2).unsqueeze(1), torch.tensor([x.shape[1]])
    for block in net.blocks:
        image, lengths = block(image, lengths)
    steps = image.amax(dim=2).transpose(1, 2)[:, : int(lengths)]
    return net.gru(steps)[0][0]


@pytest.mark.parametrize("bidirectional", [True, False])
def test_last_pooling_is_each_track_s_last_valid_step(bidirectional):
    """The forward direction's last valid step, with the backward direction's first step."""
    net = backbones.build("crnn", n_features=12, bidirectional=bidirectional, **TINY).eval()
    x, lengths = _batch([40, 9])
    with torch.no_grad():
        pooled = net(x, lengths)
        for i, n in enumerate(lengths.tolist()):
            steps = _steps_alone(net, x[i : i + 1, :n])
            expected = steps[-1, :8]
            if bidirectional:
                expected = torch.cat([expected, steps[0, 8:]])
            torch.testing.assert_close(pooled[i], expected)


def test_mean_pooling_averages_the_valid_steps():
    net = backbones.build("crnn", n_features=12, pooling="mean", **TINY).eval()
    x, lengths = _batch([40, 9])
    with torch.no_grad():
        pooled = net(x, lengths)
        for i, n in enumerate(lengths.tolist()):
            torch.testing.assert_close(pooled[i], _steps_alone(net, x[i : i + 1, :n]).mean(0))


def test_learns_which_half_of_a_track_is_loud():
    """Class 1 is loud in its first half, class 0 in its second: the same frames in another
    order, which a pooling of the steps could not tell apart, the GRU can."""
    torch.manual_seed(0)
    net = backbones.build("crnn", n_features=12, channels=[4, 8], hidden_size=8)
    head = nn.Linear(net.out_features, 2)
    optimiser = torch.optim.Adam([*net.parameters(), *head.parameters()], lr=0.03)
    labels = torch.arange(16) % 2
    lengths = torch.full((16,), 32)
    x = 0.3 * torch.randn(16, 32, 12)
    x[labels == 1, :16] += 2.0
    x[labels == 0, 16:] += 2.0
    accuracies = []
    for _ in range(60):  # until every track is right in eval mode
        with torch.no_grad():
            accuracies.append((head(net.eval()(x, lengths)).argmax(1) == labels).float().mean())
        if accuracies[-1] == 1:
            break
        optimiser.zero_grad()
        nn.functional.cross_entropy(head(net.train()(x, lengths)), labels).backward()
        optimiser.step()
    assert accuracies[0] < 1 and accuracies[-1] == 1


def test_batch_statistics_ignore_padding():
    """In training mode too: batch norm counts valid steps only, the GRU reads them only."""
    x, lengths = _batch([12, 5, 1])
    noisy = torch.cat([x, 50 * torch.randn(3, 6, 12)], dim=1)
    noisy[1, 5:12] = 7.0
    nets = []
    for _ in range(2):
        torch.manual_seed(0)
        nets.append(backbones.build("crnn", n_features=12, **TINY).train())
    torch.testing.assert_close(nets[1](noisy, lengths), nets[0](x, lengths))
    for clean, padded in zip(nets[0].blocks, nets[1].blocks, strict=True):
        torch.testing.assert_close(padded.norm.running_var, clean.norm.running_var)
