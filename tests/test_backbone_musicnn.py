"""The `musicnn` backbone: timbral and temporal front-end branches, a residual mid-end."""

from __future__ import annotations

import pytest
import torch
from conftest import train_toy

from sweep.model import build_model, count_parameters
from sweep.registry import backbones

TINY = {
    "timbral_filters": 2,
    "temporal_filters": 3,
    "temporal_widths": (4, 8),
    "midend_channels": 4,
    "midend_layers": 2,
}


def _heights(net) -> list[tuple[int, int]]:
    return [tuple(branch.conv.kernel_size) for branch in net.timbral]


@pytest.mark.parametrize(
    ("n_features", "expected"),
    [
        (128, [(51, 1), (51, 5), (89, 1), (89, 5)]),
        (12, [(4, 1), (4, 5), (8, 1), (8, 5)]),  # chroma
        (2, [(1, 1), (1, 5), (1, 1), (1, 5)]),  # at least one bin
    ],
)
def test_musicnn_filter_heights_scale_with_the_features(n_features, expected):
    assert _heights(backbones.build("musicnn", n_features=n_features)) == expected


def test_musicnn_out_features_count_every_dense_connection():
    net = backbones.build("musicnn", n_features=12, **TINY, timbral_widths=[3])
    front = 2 * 2 * 1 + 3 * 2  # timbral: filters x heights x widths; temporal: filters x widths
    assert net.out_features == 2 * (front + 2 * 4)  # mean and max of front-end and mid-end


def test_musicnn_default_size_is_documented():
    net = backbones.build("musicnn", n_features=128)
    assert f"{count_parameters(net):,} parameters" in backbones.get("musicnn").__doc__


def test_timbral_branches_are_pitch_invariant():
    """A spectral shape moved up in frequency gives the same timbral features (max-pooled
    over frequency) and the same energy envelope: the same embedding."""
    net = backbones.build("musicnn", n_features=64, **TINY, timbral_heights=[0.25]).eval()
    shape = torch.randn(6, 12)  # 6 frames of a 12-bin pattern; the filters are 16 bins tall
    low, high = torch.zeros(1, 6, 64), torch.zeros(1, 6, 64)
    # Far enough from both edges that a filter sees every overlap with it in both places.
    low[0, :, 16:28], high[0, :, 36:48] = shape, shape
    valid = torch.ones(1, 1, 6, dtype=torch.bool)
    for branch in net.timbral:
        torch.testing.assert_close(
            branch(low.transpose(1, 2), valid), branch(high.transpose(1, 2), valid)
        )
    torch.testing.assert_close(net(low, torch.tensor([6])), net(high, torch.tensor([6])))


def test_musicnn_temporal_branch_reads_the_energy_envelope():
    """The temporal branches see the mean over frequency only: with the timbral branches'
    filters set to 0, spectra of the same mean per frame give the same embedding."""
    net = backbones.build("musicnn", n_features=8, **TINY).eval()
    with torch.no_grad():
        for branch in net.timbral:
            branch.conv.weight.zero_()
    x = torch.randn(2, 9, 8)
    shuffled = x[:, :, torch.randperm(8)]
    lengths = torch.tensor([9, 5])
    torch.testing.assert_close(net(x, lengths), net(shuffled, lengths))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"timbral_heights": [0.4, 0.0]},
            r"timbral_heights must be a non-empty list of fractions of n_features in \(0, 1\], "
            r"but got timbral_heights=\[0.4, 0.0\]",
        ),
        ({"timbral_heights": [1.5]}, r"but got timbral_heights=\[1.5\]"),
        ({"timbral_heights": []}, r"but got timbral_heights=\[\]"),
        ({"timbral_heights": 0.4}, r"but got timbral_heights=0.4"),
        ({"timbral_heights": [True]}, r"but got timbral_heights=\[True\]"),
        (
            {"timbral_widths": [1, 0]},
            r"timbral_widths must be a non-empty list of positive integers, "
            r"but got timbral_widths=\[1, 0\]",
        ),
        ({"temporal_widths": []}, r"temporal_widths must be a non-empty list"),
        ({"timbral_filters": 0}, r"timbral_filters must be a positive integer, but got"),
        ({"temporal_filters": 1.0}, r"temporal_filters must be a positive integer, but got"),
        ({"midend_channels": 0}, r"midend_channels must be a positive integer, but got"),
        ({"midend_layers": 0}, r"midend_layers must be a positive integer, but got"),
        ({"dropout": 1.0}, r"`0 <= dropout < 1` must hold, but got dropout=1.0"),
    ],
)
def test_musicnn_refuses_invalid_arguments(params, message):
    with pytest.raises(ValueError, match=message):
        backbones.build("musicnn", **{"n_features": 12, **params})


def test_musicnn_learns_a_separable_toy_problem():
    """The class is which half of the spectrum holds the energy: a timbre."""
    torch.manual_seed(0)
    lengths = torch.tensor([4, 9, 6, 12] * 4)
    labels = torch.arange(16) % 2
    x = 0.3 * torch.randn(16, 12, 12)
    x[labels == 1, :, 6:] += 1.0
    x[labels == 0, :, :6] += 1.0
    model = build_model("musicnn", "classifier", 12, 2, TINY, {})
    model = train_toy(model, x, lengths, labels, steps=30)
    assert (model(x, lengths).argmax(1) == labels).all()
