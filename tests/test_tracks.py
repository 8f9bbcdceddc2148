import numpy as np

from sweep.tracks import TrackSet, pad_batch, random_crops


def _tracks(lengths, n_features=3):
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    frames = np.arange(offsets[-1] * n_features, dtype=np.float32).reshape(-1, n_features)
    return TrackSet(np.array([f"t{i}" for i in range(len(lengths))]), frames, offsets)


def test_take_selects_tracks_rows_and_cuts():
    ts = _tracks([4, 2, 5])
    sub = ts.take(np.array([2, 0]), rows=np.array([1, 2]), max_length=3)
    assert list(sub.ids) == ["t2", "t0"]
    assert list(sub.lengths) == [3, 3]
    assert np.array_equal(sub.track(0), ts.track(2)[:3, 1:])
    assert np.array_equal(sub.track(1), ts.track(0)[:3, 1:])
    # non-contiguous rows take the two-step path and give the same values
    odd = ts.take(np.array([1]), rows=np.array([2, 0]))
    assert np.array_equal(odd.track(0), ts.track(1)[:, [2, 0]])
    assert sub.frames.flags.c_contiguous


def test_pad_batch_keeps_true_lengths_and_pads_per_feature():
    ts = _tracks([4, 2])
    pad = np.array([-80.0, 0.0, -1.0], dtype=np.float32)
    x, lengths = pad_batch(ts, np.array([0, 1]), pad)
    assert x.shape == (2, 4, 3) and list(lengths) == [4, 2]
    assert np.array_equal(x[1, :2], ts.track(1))
    assert np.array_equal(x[1, 2:], np.tile(pad, (2, 1)))
    x, lengths = pad_batch(ts, np.array([0, 1]), pad, pad_to=3)
    assert x.shape == (2, 3, 3) and list(lengths) == [3, 2]


def test_random_crops_are_windows_of_the_track():
    ts = _tracks([10, 3])
    rng = np.random.default_rng(0)
    pad = np.zeros(3, dtype=np.float32)
    starts = set()
    for _ in range(20):
        x, lengths = random_crops(ts, np.array([0, 1]), 4, pad, rng)
        assert x.shape == (2, 4, 3) and list(lengths) == [4, 3]
        start = int(x[0, 0, 0] // 3)  # frame index encoded in the values
        assert np.array_equal(x[0], ts.track(0)[start : start + 4])
        assert np.array_equal(x[1, :3], ts.track(1)) and not x[1, 3].any()
        starts.add(start)
    assert len(starts) > 3  # really random, not always the start


def test_windows_cover_every_frame_and_name_their_track():
    from sweep.tracks import windows

    ts = _tracks([10, 3, 8])
    wins, owner = windows(ts, 4)
    assert owner.tolist() == [0, 0, 0, 1, 2, 2]
    assert list(wins.lengths) == [4, 4, 4, 3, 4, 4]
    assert np.array_equal(wins.track(2), ts.track(0)[6:10])  # the last one ends the track
    assert np.array_equal(wins.track(3), ts.track(1))  # shorter than the width: whole
    assert np.array_equal(wins.track(5), ts.track(2)[4:8])
