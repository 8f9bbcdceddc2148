"""`sweep check overfit`: the reference model memorises one batch, and the rule that passes it."""

from __future__ import annotations

from conftest import tiny_spec

from sweep.overfit import memorised, overfit_one_batch


def test_the_rule_is_a_fall_to_five_percent_or_a_loss_near_zero():
    assert memorised([2.0, 0.5, 0.1])  # exactly 5% of the first step
    assert not memorised([2.0, 0.5, 0.11])
    assert memorised([0.05, 0.009])  # started near zero: below 0.01 is enough
    assert not memorised([0.05, 0.04])


def test_the_tiny_reference_model_memorises_its_first_batch(tmp_path, tiny_root):
    spec = tiny_spec(tmp_path, tiny_root, training={"lr": 1e-2, "batch_size": 4})
    losses = overfit_one_batch(spec, steps=150)
    assert len(losses) == 150
    assert memorised(losses), (losses[0], losses[-1])
