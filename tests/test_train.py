"""The training loop's options: masks, mixup, learning-rate schedules, length buckets, and
evaluation in batches sorted by length."""

import math

import numpy as np
import pytest
import torch

from sweep.augment import mask_batch, mixup
from sweep.checkpoints import build
from sweep.data import prepare
from sweep.spec import TrainingSpec
from sweep.train import (
    LRSchedule,
    WeightAverage,
    _raw_outputs,
    eval_batches,
    fit,
    predict,
    steps_per_epoch,
)
from tests.conftest import tiny_spec


def _batch(lengths, t=20, f=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(len(lengths), t, f)).astype(np.float32) + 10  # never the fill value
    for i, n in enumerate(lengths):
        x[i, n:] = -1.0  # padding
    return x, np.array(lengths, dtype=np.int64)


# ----------------------------------------------------------------------------- masks


@pytest.mark.parametrize("time_mask", [0.3, 5])  # a fraction of the length, or frames
def test_time_masks_stay_inside_the_true_length_and_are_bounded(time_mask):
    fill = np.zeros(6, dtype=np.float32)
    seen_widths = set()
    for seed in range(30):
        x, lengths = _batch([20, 7, 1, 13], seed=seed)
        before = x.copy()
        mask_batch(x, lengths, fill, np.random.default_rng(seed), time_mask=time_mask)
        changed = x != before
        assert np.array_equal(x[changed], np.zeros(changed.sum(), dtype=np.float32))
        for i, n in enumerate(lengths):
            assert not changed[i, n:].any()  # padding untouched
            frames = changed[i].any(axis=1)
            assert (changed[i][frames]).all()  # a time mask covers every feature of a frame
            widest = math.floor(n * time_mask) if time_mask < 1 else time_mask
            # two bands of at most `widest` frames each
            assert frames.sum() <= 2 * min(widest, n)
            seen_widths.add(int(frames.sum()))
    assert len(seen_widths) > 3  # random widths, not always the widest


def test_frequency_masks_cover_whole_bands_of_valid_frames_only():
    fill = np.full(6, 0.5, dtype=np.float32)
    x, lengths = _batch([20, 9])
    before = x.copy()
    mask_batch(x, lengths, fill, np.random.default_rng(3), freq_mask=3, freq_masks=1)
    changed = x != before
    assert (x[changed] == 0.5).all()
    for i, n in enumerate(lengths):
        assert not changed[i, n:].any()
        bins = changed[i, :n].any(axis=0)
        assert bins.sum() <= 3
        assert (changed[i, :n][:, bins]).all()  # every valid frame of a masked bin
        if bins.any():  # one band: consecutive bins
            where = np.flatnonzero(bins)
            assert where[-1] - where[0] + 1 == len(where)


def test_masks_are_reproducible_by_seed():
    fill = np.zeros(6, dtype=np.float32)

    def masked(seed):
        x, lengths = _batch([20, 11, 5])
        return mask_batch(x, lengths, fill, np.random.default_rng(seed), 0.5, 2, 3, 2)

    assert np.array_equal(masked(7), masked(7))
    assert not np.array_equal(masked(7), masked(8))


# ----------------------------------------------------------------------------- mixup


def test_mixup_of_classes_gives_convex_combinations_of_one_hot_targets():
    x, lengths = _batch([20, 7, 12, 3])
    y = np.array([0, 2, 1, 2])
    mixed, mixed_lengths, soft = mixup(x.copy(), lengths, y, 0.4, np.random.default_rng(1), 3)
    assert soft.shape == (4, 3) and soft.dtype == np.float32
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    assert (soft >= 0).all()
    # Each row is lam * x[i] + (1 - lam) * x[j] with one lam for the batch: recover it.
    lam = soft[np.arange(4), y].min()  # >= lam for every row (more where y[i] == y[j])
    for i in range(4):
        candidates = [
            j for j in range(4) if np.allclose(mixed[i], lam * x[i] + (1 - lam) * x[j], atol=1e-5)
        ]
        assert candidates, i
        j = candidates[0]
        expected = lam * np.eye(3)[y[i]] + (1 - lam) * np.eye(3)[y[j]]
        np.testing.assert_allclose(soft[i], expected, atol=1e-6)
        assert mixed_lengths[i] == max(lengths[i], lengths[j])


def test_mixup_of_values_mixes_the_values():
    x, lengths = _batch([5, 5, 5])
    y = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]], dtype=np.float32)
    mixed, _, values = mixup(x, lengths, y, 0.2, np.random.default_rng(0))
    same = np.random.default_rng(0)  # the draws mixup makes: the weight, then the pairing
    lam, pair = same.beta(0.2, 0.2), same.permutation(3)
    np.testing.assert_allclose(values, lam * y + (1 - lam) * y[pair], atol=1e-6)
    np.testing.assert_allclose(mixed, lam * x + (1 - lam) * x[pair], atol=1e-5)


def test_the_classifier_loss_takes_soft_targets():
    from sweep.registry import heads

    head = heads.build("classifier", in_features=4, n_outputs=3)
    logits = torch.randn(5, 3)
    y = torch.tensor([0, 2, 1, 1, 0])
    one_hot = torch.nn.functional.one_hot(y, 3).float()
    torch.testing.assert_close(head.loss(logits, one_hot), head.loss(logits, y))
    soft = 0.3 * one_hot + 0.7 * one_hot.roll(1, dims=0)
    expected = 0.3 * torch.nn.functional.cross_entropy(logits, y, reduction="none") + 0.7 * (
        torch.nn.functional.cross_entropy(logits, y.roll(1), reduction="none")
    )
    torch.testing.assert_close(head.loss(logits, soft), expected.mean())


# ----------------------------------------------------------------------------- schedules


def _schedule(**training):
    return LRSchedule(TrainingSpec(lr=1.0, **training), steps_per_epoch=10)


def test_cosine_decays_from_lr_to_zero_over_max_epochs():
    s = _schedule(lr_schedule="cosine", max_epochs=4)  # 40 steps
    assert s.lr(0) == 1.0
    assert s.lr(20) == pytest.approx(0.5)
    assert s.lr(10) == pytest.approx((1 + math.cos(math.pi / 4)) / 2)
    assert 0 < s.lr(39) < 0.01
    lrs = [s.lr(i) for i in range(40)]
    assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False))


def test_warmup_ramps_up_then_cosine_decays_over_the_rest():
    s = _schedule(lr_schedule="cosine", max_epochs=5, warmup_epochs=1)  # 10 + 40 steps
    assert [s.lr(i) for i in range(10)] == pytest.approx([(i + 1) / 10 for i in range(10)])
    assert s.lr(10) == 1.0 and s.lr(30) == pytest.approx(0.5)
    flat = _schedule(warmup_epochs=2)  # warm-up alone: then lr throughout
    assert flat.lr(4) == pytest.approx(0.25) and flat.lr(20) == flat.lr(49) == 1.0
    assert not flat.constant and _schedule().constant


def test_plateau_cuts_the_lr_after_patience_epochs_without_improvement():
    s = _schedule(lr_schedule="plateau", plateau_patience=2, plateau_factor=0.5, min_delta=0.01)
    for score in (0.5, 0.6, 0.605, 0.6):  # 0.605 is not better by more than min_delta
        s.epoch_end(score)
    assert s.lr(0) == 0.5
    for score in (0.7, 0.7, 0.7):
        s.epoch_end(score)
    assert s.lr(0) == 0.25
    constant = _schedule()
    constant.epoch_end(0.1)
    constant.epoch_end(0.1)
    constant.epoch_end(0.1)
    assert constant.lr(0) == 1.0


def test_steps_per_epoch_skips_a_last_batch_of_one():
    assert steps_per_epoch(16, 4) == 4
    assert steps_per_epoch(17, 4) == 4
    assert steps_per_epoch(18, 4) == 5
    assert steps_per_epoch(1, 4) == 1


# ----------------------------------------------------------------------------- fit


def _untrained(tmp_path, tiny_root, **training):
    """A spec of 10 epochs without early stopping, its data, and its model as built."""
    spec = tiny_spec(
        tmp_path,
        tiny_root,
        training={"max_epochs": 10, "batch_size": 4, "lr": 3e-2, "patience": None, **training},
        model={
            "backbone": "lstm",
            "backbone_params": {"hidden_size": 16, "num_layers": 1, "pooling": "mean"},
        },
    )
    data = prepare(spec.resolved_data)
    torch.manual_seed(spec.training.seed)
    return spec, data, build(spec, data)


def _fit(tmp_path, tiny_root, **training):
    spec, data, model = _untrained(tmp_path, tiny_root, **training)
    return fit(model, data, spec.training, spec.metric, spec.direction)


OPTIONS = {
    "cosine": {"lr_schedule": "cosine", "warmup_epochs": 1},
    "plateau": {"lr_schedule": "plateau", "plateau_patience": 2},
    "masks": {"time_mask": 0.2, "freq_mask": 2},
    "mixup": {"mixup": 0.4},
    "buckets": {"length_buckets": 2},
    "ema": {"ema_epochs": 2},
    "everything": {
        "lr_schedule": "cosine",
        "time_mask": 3,
        "freq_mask": 1,
        "mixup": 0.1,
        "length_buckets": 3,
        "optimizer": "adamw",
        "weight_decay": 1e-4,
    },
}


@pytest.mark.parametrize("name", OPTIONS)
def test_a_fit_with_each_option_runs_learns_and_repeats(tmp_path, tiny_root, name):
    result = _fit(tmp_path, tiny_root, **OPTIONS[name])
    losses = [r.train_loss for r in result.history]
    assert len(losses) == 10 and all(np.isfinite(losses))
    assert min(losses[-3:]) < 0.75 * losses[0], losses  # it fits the training tracks
    again = _fit(tmp_path, tiny_root, **OPTIONS[name])
    assert [r.train_loss for r in again.history] == losses
    assert [r.val for r in again.history] == [r.val for r in result.history]
    lrs = [r.lr for r in result.history]
    if name == "cosine":
        assert lrs[0] == pytest.approx(3e-2) and lrs == sorted(lrs, reverse=True)
        assert lrs[-1] < 3e-3
    if name == "plateau":
        assert lrs[-1] <= lrs[0] and set(lrs) <= {3e-2 * 0.5**k for k in range(11)}
    if name == "ema":  # the same training, the average validated (see the tests below)
        plain = _fit(tmp_path, tiny_root)
        assert losses == [r.train_loss for r in plain.history]
        assert [r.val for r in result.history] != [r.val for r in plain.history]


def test_a_refit_stopped_at_an_epoch_keeps_the_schedule_of_the_whole_run(tmp_path, tiny_root):
    """A refit trains for the search's best epoch with the learning rates the search had up
    to that epoch: the cosine is laid out over max_epochs, not squeezed into the refit."""
    cosine = {"lr_schedule": "cosine", "warmup_epochs": 1}
    whole = _fit(tmp_path, tiny_root, **cosine)  # 10 epochs, validated
    spec, data, model = _untrained(tmp_path, tiny_root, **cosine)
    refit = fit(model, data, spec.training, spec.metric, spec.direction, validate=False, epochs=4)
    assert [r.epoch for r in refit.history] == [1, 2, 3, 4] and refit.best_epoch == 4
    assert [r.lr for r in refit.history] == [r.lr for r in whole.history[:4]]
    assert [r.train_loss for r in refit.history] == [r.train_loss for r in whole.history[:4]]
    assert refit.history[-1].lr > 0.5 * 3e-2  # 4 of 10 epochs in: far from the cosine's end


def test_weight_average_follows_weights_and_float_buffers_with_its_decay_and_copies_ints():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    average = WeightAverage(model, epochs=5, steps_per_epoch=20)  # decay 1 - 1/100
    assert average.decay == pytest.approx(0.99)
    start = model[0].weight.detach().clone()
    for t in range(2000):
        with torch.no_grad():
            model[0].weight.add_(1.0)  # a step
            model[1].running_mean.add_(2.0)  # BatchNorm's statistics move in training
        model[1].num_batches_tracked += 1
        before = average.model[0].weight.detach().clone()
        before_mean = average.model[1].running_mean.clone()
        average.update()
        decay = min(0.99, (1 + t) / (10 + t))  # short while few steps have been taken
        expected = decay * before + (1 - decay) * model[0].weight.detach()
        assert torch.allclose(average.model[0].weight, expected)
        expected_mean = decay * before_mean + (1 - decay) * model[1].running_mean
        assert torch.allclose(average.model[1].running_mean, expected_mean)
    assert int(average.model[1].num_batches_tracked) == 2000
    # once (1 + t) / (10 + t) passes the decay (t = 890), it lags the weights by its span
    lag = (model[0].weight - average.model[0].weight).mean().item()
    assert lag == pytest.approx(99, abs=0.5)
    lag = (model[1].running_mean - average.model[1].running_mean).mean().item()
    assert lag == pytest.approx(2 * 99, abs=1)
    assert torch.allclose(model[0].weight, start + 2000)  # the model itself is untouched
    assert not any(p.requires_grad for p in average.model.parameters())


def test_weight_averaging_validates_and_keeps_the_averaged_weights(tmp_path, tiny_root):
    """The fit's restored model is the average at the best epoch, which differs from the
    weights as trained; a refit keeps the average after its last epoch."""
    spec, data, model = _untrained(tmp_path, tiny_root, ema_epochs=2)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    result = fit(model, data, spec.training, spec.metric, spec.direction)
    # an average that never moved would validate alike every epoch
    assert len({r.val_loss for r in result.history}) == len(result.history)
    assert not torch.equal(model.state_dict()[next(iter(initial))], next(iter(initial.values())))
    plain = _fit(tmp_path, tiny_root)
    assert [r.train_loss for r in result.history] == [r.train_loss for r in plain.history]
    assert [r.val for r in result.history] != [r.val for r in plain.history]
    restored, _ = predict(model, data, data.validation, 4, torch.device("cpu"))
    assert np.allclose(restored, result.best_outputs)
    spec, data, model = _untrained(tmp_path, tiny_root, ema_epochs=2)
    refit = fit(model, data, spec.training, spec.metric, spec.direction, validate=False, epochs=3)
    assert refit.best_epoch == 3
    spec, data, trained = _untrained(tmp_path, tiny_root)
    fit(trained, data, spec.training, spec.metric, spec.direction, validate=False, epochs=3)
    assert not torch.equal(
        next(model.parameters()), next(trained.parameters())
    )  # the average, not the last weights
    assert not torch.equal(next(model.parameters()), next(iter(initial.values())))


def test_keep_last_judges_and_keeps_the_last_epoch_of_the_same_training(tmp_path, tiny_root):
    """`keep: last` trains as `best` does; the result is the last epoch's value, outputs and
    weights, not the best epoch's."""
    best = _fit(tmp_path, tiny_root, lr_schedule="cosine")
    spec, data, model = _untrained(tmp_path, tiny_root, lr_schedule="cosine", keep="last")
    last = fit(model, data, spec.training, spec.metric, spec.direction)
    assert [r.train_loss for r in last.history] == [r.train_loss for r in best.history]
    values = [r.val["accuracy"] for r in last.history]
    assert last.best_epoch == 10 and last.best_value == values[-1]
    assert best.best_value == max(values) and best.best_epoch == values.index(max(values)) + 1
    restored, _ = predict(model, data, data.validation, 4, torch.device("cpu"))
    assert np.allclose(restored, last.best_outputs)
    assert not np.allclose(last.best_outputs, best.best_outputs)  # another epoch's model


def test_keep_last_with_weight_averaging_keeps_the_last_average(tmp_path, tiny_root):
    spec, data, model = _untrained(tmp_path, tiny_root, ema_epochs=2, keep="last")
    result = fit(model, data, spec.training, spec.metric, spec.direction)
    assert result.best_epoch == 10
    assert result.best_value == result.history[-1].val["accuracy"]
    restored, _ = predict(model, data, data.validation, 4, torch.device("cpu"))
    assert np.allclose(restored, result.best_outputs)
    averaged = _fit(tmp_path, tiny_root, ema_epochs=2)  # the same averages, validated alike
    assert [r.val for r in result.history] == [r.val for r in averaged.history]


def test_options_off_leave_the_reference_run_as_it_was(tmp_path, tiny_root):
    """Defaults touch neither the batches nor the lr: the same numbers as explicit zeros."""
    plain = _fit(tmp_path, tiny_root)
    off = _fit(tmp_path, tiny_root, time_masks=3, freq_masks=1, plateau_factor=0.1)
    assert [r.train_loss for r in off.history] == [r.train_loss for r in plain.history]
    assert {r.lr for r in plain.history} == {3e-2}


def test_augmentation_leaves_the_batches_alone(tmp_path, tiny_root, monkeypatch):
    """Masks and mixup draw from a stream of their own: a run gets the tracks in the same
    batches, in the same order, with augmentation on or off."""
    from sweep.data import PreparedData

    batches = PreparedData.batches
    seen: list = []

    def recording(self, *args, **kwargs):
        for x, lengths, y in batches(self, *args, **kwargs):
            seen.append(tuple(y))
            yield x, lengths, y

    monkeypatch.setattr(PreparedData, "batches", recording)
    plain = _fit(tmp_path, tiny_root)
    plain_batches, seen[:] = list(seen), []
    augmented = _fit(tmp_path, tiny_root, time_mask=0.2, freq_mask=2, mixup=0.3)
    assert seen == plain_batches
    assert augmented.history[0].train_loss != plain.history[0].train_loss


# ----------------------------------------------------------------------------- batches


def test_length_buckets_shuffle_every_track_once_with_less_padding(tmp_path, tiny_root):
    spec = tiny_spec(tmp_path, tiny_root)
    data = prepare(spec.resolved_data)
    lengths = data.train.tracks.lengths

    def padding(bucket, seed):
        rng = np.random.default_rng(seed)
        seen, padded = [], 0
        for x, n, _ in data.batches(data.train, 4, rng=rng, bucket=bucket):
            seen += list(n)
            padded += x.shape[0] * x.shape[1] - n.sum()
        assert sorted(seen) == sorted(lengths)  # every track once
        return padded

    assert np.mean([padding(4, s) for s in range(10)]) < np.mean([padding(0, s) for s in range(10)])

    def order(seed):
        rng = np.random.default_rng(seed)
        return [tuple(n) for _, n, _ in data.batches(data.train, 4, rng=rng, bucket=4)]

    assert order(1) == order(1) and order(1) != order(2)


def test_eval_batches_cover_every_track_once_sorted_and_bounded():
    lengths = np.array([5, 40, 3, 3, 17, 40, 9, 1, 22, 30, 12, 8])
    batches = eval_batches(lengths, batch_size=2, width=10)
    flat = np.concatenate(batches)
    assert sorted(flat) == list(range(len(lengths)))
    assert list(lengths[flat]) == sorted(lengths)
    for b in batches:
        assert len(b) >= min(2, len(lengths)) or b is batches[-1]
        assert len(b) <= 4  # 2 training batches of 2
        assert len(b) == 2 or len(b) * lengths[b].max() <= 2 * 2 * 10
    assert [len(b) for b in eval_batches(lengths, 4, 10, pad_to=40)] == [4, 4, 4]


def test_sorted_evaluation_gives_each_tracks_own_outputs(tmp_path, tiny_root):
    spec = tiny_spec(tmp_path, tiny_root)
    data = prepare(spec.resolved_data)
    model = build(spec, data).eval()
    raw = _raw_outputs(model, data, data.validation.tracks, 2, torch.device("cpu"))
    tracks = data.validation.tracks
    with torch.inference_mode():
        alone = [
            model(torch.from_numpy(tracks.track(i)[None]), torch.tensor([tracks.lengths[i]]))
            for i in range(len(tracks))
        ]
    np.testing.assert_allclose(raw, torch.cat(alone).numpy(), atol=1e-5)
    outputs, loss = predict(model, data, data.validation, 2, torch.device("cpu"))
    assert outputs.shape == (len(tracks), 3) and np.isfinite(loss)


def test_plateau_in_a_fit_cuts_the_lr_when_the_metric_stalls(tmp_path, tiny_root):
    result = _fit(tmp_path, tiny_root, lr_schedule="plateau", plateau_patience=1, max_epochs=6)
    lrs = [r.lr for r in result.history]
    accuracy = [r.val["accuracy"] for r in result.history]
    best, cuts = -1.0, 0
    for epoch, value in enumerate(accuracy):  # what the lr of the next epoch must be
        cuts += value <= best
        best = max(best, value)
        if epoch + 1 < len(lrs):
            assert lrs[epoch + 1] == pytest.approx(3e-2 * 0.5**cuts)
    assert cuts >= 1, accuracy  # random labels: the metric stalls
