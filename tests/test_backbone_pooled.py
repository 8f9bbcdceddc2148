"""The `pooled_mlp` backbone, its masked statistics and its masked 1-D batch norm."""

from __future__ import annotations

import pytest
import torch
from conftest import train_toy
from torch import nn

from components.backbones.pooled import (
    KK_MAJOR,
    KK_MINOR,
    MaskedBatchNorm1d,
    key_correlations,
    key_profiles,
    masked_stats,
    mfcc_basis,
)
from sweep.model import build_model, count_parameters, tell_input_standardisation
from sweep.registry import backbones


def _tracks(lengths: list[int], n_features: int = 3, pad: float = float("nan"), seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), max(lengths), n_features, generator=generator)
    lengths_t = torch.tensor(lengths)
    x[torch.arange(max(lengths)) >= lengths_t[:, None]] = pad
    return x, lengths_t


@pytest.mark.parametrize("pad", [float("nan"), float("inf"), -80.0])
def test_masked_stats_are_the_statistics_of_the_valid_frames(pad):
    x, lengths = _tracks([7, 2, 5], pad=pad)
    out = masked_stats(x, lengths, ["max", "mean", "std"])
    assert out.shape == (3, 9)
    for i, n in enumerate(lengths.tolist()):
        track = x[i, :n]
        expected = torch.cat([track.amax(0), track.mean(0), track.std(0, correction=0)])
        torch.testing.assert_close(out[i], expected)


def test_a_one_frame_track_has_std_zero_and_a_finite_gradient():
    x, lengths = _tracks([1, 4])
    x.requires_grad_(True)
    std = masked_stats(x, lengths, ["std"])
    assert torch.equal(std[0], torch.zeros(3))
    std.sum().backward()
    assert torch.isfinite(x.grad[:, :1]).all() and torch.equal(x.grad[0, 0], torch.zeros(3))


def test_masked_batch_norm_1d_is_batch_norm_when_every_step_is_valid():
    torch.manual_seed(0)
    for shape in [(4, 3), (2, 3, 7)]:
        masked, plain = MaskedBatchNorm1d(3), nn.BatchNorm1d(3)
        x = torch.randn(*shape) * 3 + 1
        for _ in range(2):  # twice: the running statistics are updated alike
            torch.testing.assert_close(masked(x), plain(x))
        torch.testing.assert_close(masked.running_mean, plain.running_mean)
        torch.testing.assert_close(masked.running_var, plain.running_var)


def test_masked_batch_norm_1d_counts_valid_steps_only():
    norm, plain = MaskedBatchNorm1d(2), nn.BatchNorm1d(2)
    x = torch.randn(2, 2, 5)
    valid = torch.tensor([[[1.0] * 5], [[1.0, 1.0, 0.0, 0.0, 0.0]]])
    out = norm(x, valid)
    steps = torch.cat([x[0], x[1, :, :2]], dim=1)[None]  # the 7 valid steps as one sequence
    torch.testing.assert_close(out[1, :, :2], plain(steps)[0, :, 5:])
    torch.testing.assert_close(norm.running_var, plain.running_var)


def test_masked_batch_norm_1d_of_one_vector_uses_running_statistics():
    norm = MaskedBatchNorm1d(2).train()
    x = torch.tensor([[3.0, -1.0]])
    torch.testing.assert_close(norm(x), x / (1 + norm.eps) ** 0.5)  # running (0, 1)
    assert int(norm.num_batches_tracked) == 0


@pytest.mark.parametrize(
    ("params", "out_features"),
    [
        ({}, 128),
        ({"hidden_sizes": []}, 20),  # mean, std of 10 features
        ({"hidden_sizes": [], "stats": ["mean", "std", "max"]}, 30),
        ({"hidden_sizes": [16, 4]}, 4),
    ],
)
def test_pooled_mlp_out_features(params, out_features):
    assert backbones.build("pooled_mlp", n_features=10, **params).out_features == out_features


def test_pooled_mlp_default_size_is_documented():
    net = backbones.build("pooled_mlp", n_features=128)
    assert f"{count_parameters(net):,} parameters" in backbones.get("pooled_mlp").__doc__


def test_linear_pooled_mlp_is_the_linear_baseline():
    """No batch norm, no hidden layer, a linear head: a linear model on mean and std."""
    model = build_model(
        "pooled_mlp", "classifier", 3, 2, {"hidden_sizes": [], "batch_norm": False}, {}
    )
    assert count_parameters(model.backbone) == 0
    x, lengths = _tracks([6, 3], pad=0.0)
    stats = torch.cat(
        [
            torch.cat([x[i, :n].mean(0), x[i, :n].std(0, correction=0)])
            for i, n in enumerate(lengths.tolist())
        ]
    ).view(2, 6)
    torch.testing.assert_close(model(x, lengths), model.head.output(stats))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"stats": ["mean", "median"]},
            r"stats must be a non-empty list of distinct choices from 'mean', 'std', 'max', "
            r"but got stats=\['mean', 'median'\]",
        ),
        ({"stats": []}, r"stats must be a non-empty list of distinct choices"),
        ({"stats": ["mean", "mean"]}, r"stats must be a non-empty list of distinct choices"),
        ({"stats": "mean"}, r"but got stats='mean'"),
        (
            {"hidden_sizes": [8, 0]},
            r"hidden_sizes must be a list of positive integers \(empty: no hidden layer\), "
            r"but got hidden_sizes=\[8, 0\]",
        ),
        ({"hidden_sizes": 8}, r"but got hidden_sizes=8"),
        ({"batch_norm": "yes"}, r"batch_norm must be true or false, but got 'yes'"),
        ({"dropout": 1.0}, r"`0 <= dropout < 1` must hold, but got dropout=1.0"),
        ({"n_features": 0}, r"n_features must be a positive integer, but got n_features=0"),
        (
            {"key_chroma_rows": [0, 10], "n_features": 14},
            r"key_chroma_rows must be \[start, stop\) of the 12 chroma rows among the 14 "
            r"features \(stop = start \+ 12 <= 14\), but got key_chroma_rows=\[0, 10\]",
        ),
        ({"key_chroma_rows": [4, 16], "n_features": 14}, r"but got key_chroma_rows=\[4, 16\]"),
        ({"key_chroma_rows": 128}, r"but got key_chroma_rows=128"),
        (
            {"mfcc_mel_rows": [2, 12], "n_features": 14, "n_mfcc": 12},
            r"mfcc_mel_rows must be \[start, stop\) of the mel bands among the 14 features, at "
            r"least n_mfcc=12 of them \(0 <= start, start \+ 12 <= stop <= 14\), but got "
            r"mfcc_mel_rows=\[2, 12\]",
        ),
        ({"mfcc_mel_rows": [0, 15], "n_features": 14}, r"but got mfcc_mel_rows=\[0, 15\]"),
        ({"mfcc_mel_rows": [-1, 13], "n_features": 14}, r"but got mfcc_mel_rows=\[-1, 13\]"),
        ({"mfcc_mel_rows": 128}, r"but got mfcc_mel_rows=128"),
        ({"n_mfcc": 0}, r"n_mfcc must be a positive integer, but got n_mfcc=0"),
    ],
)
def test_pooled_mlp_refuses_invalid_arguments(params, message):
    with pytest.raises(ValueError, match=message):
        backbones.build("pooled_mlp", **{"n_features": 3, **params})


def test_pooled_mlp_learns_a_separable_toy_problem():
    """The class is the sign of a per-track offset of feature 0: a mean tells it."""
    torch.manual_seed(0)
    x, lengths = _tracks([3, 9, 5, 12] * 4, pad=0.0, seed=1)
    labels = torch.arange(16) % 2
    x[:, :, 0] += torch.where(labels == 1, 1.5, -1.5)[:, None]
    model = build_model("pooled_mlp", "classifier", 3, 2, {"hidden_sizes": [8]}, {})
    model = train_toy(model, x, lengths, labels, steps=40)
    assert (model(x, lengths).argmax(1) == labels).all()


def test_the_key_adds_six_values_to_the_statistics():
    net = backbones.build("pooled_mlp", n_features=14, hidden_sizes=[], key_chroma_rows=[2, 14])
    assert net.out_features == 14 * 2 + 6


def test_key_correlations_find_a_keys_profile_in_any_key():
    """A chroma shaped like a key's profile correlates 1 with that key, whatever its tonic:
    transposing a track changes none of the six values."""
    profiles = key_profiles()
    major = torch.tensor([KK_MAJOR]) * 0.1 + 3.0  # units do not matter
    minor = torch.tensor([KK_MINOR])
    for tonic in range(12):
        of_major = key_correlations(torch.roll(major, tonic, dims=1), profiles)
        of_minor = key_correlations(torch.roll(minor, tonic, dims=1), profiles)
        torch.testing.assert_close(of_major, key_correlations(major, profiles))
        torch.testing.assert_close(of_minor, key_correlations(minor, profiles))
    assert of_major[0, 0] == pytest.approx(1.0) and of_major[0, 3] < 0.9  # best minor
    assert of_minor[0, 3] == pytest.approx(1.0) and of_minor[0, 0] < 0.9  # best major
    assert (of_major[0, :3].diff() <= 0).all() and (of_major[0, 3:].diff() <= 0).all()
    flat = torch.full((2, 12), 0.5, requires_grad=True)
    assert torch.equal(key_correlations(flat, profiles), torch.zeros(2, 6))
    key_correlations(flat, profiles).sum().backward()
    assert torch.isfinite(flat.grad).all()


def _blind_past_the_end_and_restored(told, fresh, x, lengths):
    """`told` ignores the frames past each track's end (NaN there changes nothing), and
    `fresh`, given `told`'s state dict, computes what it does: the standardisation it was
    told travels in a checkpoint."""
    padded = x.clone()
    for i, n in enumerate(lengths.tolist()):
        padded[i, n:] = float("nan")
    torch.testing.assert_close(told(padded, lengths), told(x, lengths))
    fresh.load_state_dict(told.state_dict())
    torch.testing.assert_close(fresh(x, lengths), told(x, lengths))


@pytest.mark.parametrize("stats", [["mean", "std"], ["max", "std"]])  # its means kept or not
def test_the_key_is_estimated_from_the_chroma_in_the_datas_own_units(stats):
    """Standardised inputs, once the backbone is told their statistics, give what the raw
    chroma gives; the statistics live in the state dict (a checkpoint carries them); frames
    past a track's end change nothing."""
    torch.manual_seed(0)
    raw, lengths = _tracks([9, 4, 6], n_features=14, pad=0.0)
    raw[:, :, 2:] = raw[:, :, 2:].abs() * torch.linspace(0.2, 2.0, 12)  # uneven chroma bins
    mean, std = raw.mean(dim=(0, 1)).numpy(), raw.std(dim=(0, 1)).numpy()
    standardised = (raw - torch.as_tensor(mean)) / torch.as_tensor(std)

    def backbone():
        net = backbones.build(
            "pooled_mlp", n_features=14, stats=stats, hidden_sizes=[], key_chroma_rows=[2, 14]
        )
        return net.eval()

    told = backbone()
    tell_input_standardisation(told, mean, std)
    untold = backbone()
    keys = slice(-6, None)  # after the 14 x 2 statistics; the norm is the identity at first
    expected = key_correlations(
        torch.stack([raw[i, :n, 2:].mean(0) for i, n in enumerate(lengths.tolist())]),
        key_profiles(),
    )
    torch.testing.assert_close(untold(raw, lengths)[:, keys], expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(told(standardised, lengths)[:, keys], expected, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(untold(standardised, lengths)[:, keys], expected, atol=1e-2)

    _blind_past_the_end_and_restored(told, backbone(), standardised, lengths)

    silent = raw.clone()
    silent[0, :, 2:] = 0.0  # no pitch at all: after standardising and undoing it, no key
    silent = (silent - torch.as_tensor(mean)) / torch.as_tensor(std)
    assert torch.equal(told(silent, lengths)[0, keys], torch.zeros(6))
    with pytest.raises(ValueError, match=r"must give 14 means and standard deviations"):
        tell_input_standardisation(told, mean[:12], std[:12])


def test_a_backbone_that_does_not_ask_is_not_told_its_inputs_standardisation():
    for net in (
        backbones.build("pooled_mlp", n_features=3),  # has the hook, no key to estimate
        build_model("lstm", "classifier", 3, 2, {"hidden_size": 4}, {}),  # has none
    ):
        before = {k: v.clone() for k, v in net.state_dict().items()}
        tell_input_standardisation(net, [1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
        assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    keyed = backbones.build("pooled_mlp", n_features=12, key_chroma_rows=[0, 12])
    tell_input_standardisation(keyed, None, None)  # normalization: none
    assert torch.equal(keyed.chroma_mean, torch.zeros(12))
    assert torch.equal(keyed.chroma_std, torch.ones(12))


def test_mfcc_basis_is_the_orthonormal_dct_librosa_takes():
    """`log_mel @ mfcc_basis` is scipy's dct(type=2, norm="ortho") cut to n_mfcc, which is
    what librosa.feature.mfcc computes from a log-mel spectrogram."""
    scipy_fft = pytest.importorskip("scipy.fft")
    log_mel = torch.randn(7, 16, dtype=torch.float64) * 20.0 - 40.0
    expected = scipy_fft.dct(log_mel.numpy(), type=2, norm="ortho", axis=1)[:, :5]
    got = log_mel.float() @ mfcc_basis(16, 5)
    torch.testing.assert_close(got, torch.as_tensor(expected).float(), atol=1e-3, rtol=1e-5)
    full = mfcc_basis(16, 16)
    torch.testing.assert_close(full.T @ full, torch.eye(16), atol=1e-5, rtol=0)  # orthonormal


def test_the_mfccs_add_their_mean_and_std_to_the_statistics():
    net = backbones.build(
        "pooled_mlp", n_features=14, hidden_sizes=[], mfcc_mel_rows=[0, 10], n_mfcc=4
    )
    assert net.out_features == 14 * 2 + 2 * 4
    both = backbones.build(
        "pooled_mlp",
        n_features=14,
        hidden_sizes=[],
        mfcc_mel_rows=[0, 10],
        n_mfcc=4,
        key_chroma_rows=[2, 14],
    )
    assert both.out_features == 14 * 2 + 6 + 2 * 4


def test_the_mfccs_are_computed_from_the_mel_bands_in_the_datas_own_units():
    """Standardised inputs, once the backbone is told their statistics, give the MFCC
    statistics of the raw dB frames; frames past a track's end change nothing; the
    statistics travel in the state dict."""
    torch.manual_seed(0)
    raw, lengths = _tracks([9, 1, 6], n_features=14, pad=0.0)
    raw[:, :, :10] = raw[:, :, :10] * 12.0 - 50.0  # dB-like mel bands in rows 0-9
    mean, std = raw.mean(dim=(0, 1)).numpy(), raw.std(dim=(0, 1)).numpy()
    standardised = (raw - torch.as_tensor(mean)) / torch.as_tensor(std)

    def backbone():
        return backbones.build(
            "pooled_mlp", n_features=14, hidden_sizes=[], mfcc_mel_rows=[0, 10], n_mfcc=4
        ).eval()

    told = backbone()
    tell_input_standardisation(told, mean, std)
    cepstra = slice(-8, None)  # after the 14 x 2 statistics; the norm is the identity at first
    expected = torch.stack(
        [
            torch.cat([c.mean(0), c.std(0, correction=0)])
            for c in (raw[i, :n, :10] @ mfcc_basis(10, 4) for i, n in enumerate(lengths.tolist()))
        ]
    )
    torch.testing.assert_close(
        told(standardised, lengths)[:, cepstra], expected, atol=1e-3, rtol=1e-4
    )
    assert torch.equal(told(standardised, lengths)[1, -4:], torch.zeros(4))  # one frame: std 0
    untold = backbone()
    assert not torch.allclose(untold(standardised, lengths)[:, cepstra], expected, atol=1e-1)

    _blind_past_the_end_and_restored(told, backbone(), standardised, lengths)
    with pytest.raises(ValueError, match=r"must give 14 means and standard deviations"):
        tell_input_standardisation(told, mean[:12], std[:12])
