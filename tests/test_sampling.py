"""The sampler sees the reference and enqueued trials as the pruner would have left them."""

import optuna

from sweep import trials as records
from sweep.sampling import PrunerView, as_the_sampler_sees_them

STATES = optuna.trial.TrialState
FAMILY = optuna.distributions.CategoricalDistribution(["lab_cnn", "temporal_cnn"])


def _trial(family: str, state, values: dict[int, float], would_prune_at=None):
    attrs = {records.REFERENCE: True} if would_prune_at is not None else {}
    if would_prune_at is not None:
        attrs[records.WOULD_PRUNE_AT] = would_prune_at
    return optuna.trial.create_trial(
        state=state,
        value=values[max(values)] if state == STATES.COMPLETE else None,
        params={"family": family},
        distributions={"family": FAMILY},
        intermediate_values=values,
        user_attrs=attrs,
    )


def test_a_trial_the_pruner_would_have_stopped_is_shown_pruned_there():
    reference = _trial("lab_cnn", STATES.COMPLETE, {1: 0.5, 2: 0.55, 3: 0.6}, would_prune_at=2)
    others = [_trial("temporal_cnn", STATES.PRUNED, {1: 0.62})]
    seen = as_the_sampler_sees_them([reference, *others], maximize=True)[0]
    assert seen.state == STATES.PRUNED and seen.value is None
    assert seen.intermediate_values == {1: 0.5, 2: 0.55}
    # the trial itself is unchanged
    assert reference.state == STATES.COMPLETE and reference.value == 0.6
    assert len(reference.intermediate_values) == 3


def test_it_stays_complete_where_its_value_beats_every_pruned_trial():
    """An enqueued configuration that starts slowly and ends best (multitask's pooled MLPs:
    the pruner would have cut them at epoch 2, they ended best of the study) is evidence."""
    enqueued = _trial("temporal_cnn", STATES.COMPLETE, {1: 0.1, 2: 0.2, 3: 0.39}, 2)
    pruned = [
        _trial("lab_cnn", STATES.PRUNED, {1: 0.2, 2: 0.35}),
        _trial("lab_cnn", STATES.PRUNED, {}),
    ]
    assert as_the_sampler_sees_them([enqueued, *pruned], maximize=True)[0] is enqueued
    # a loss (minimised): 0.39 beats no pruned trial's 0.35
    seen = as_the_sampler_sees_them([enqueued, *pruned], maximize=False)[0]
    assert seen.state == STATES.PRUNED
    # with no pruned trial to compare with, it stays complete
    assert as_the_sampler_sees_them([enqueued], maximize=True)[0] is enqueued


def test_other_trials_are_shown_as_they_are():
    kept = _trial("lab_cnn", STATES.COMPLETE, {1: 0.5, 2: 0.6})
    pruned = _trial("temporal_cnn", STATES.PRUNED, {1: 0.7})
    shown = as_the_sampler_sees_them([kept, pruned], maximize=True)
    assert shown[0] is kept and shown[1] is pruned


def _genre_full_early(sampler) -> optuna.Study:
    """genre_full after 14 trials (README "Performance"): the reference, a poor lab CNN, is
    the only complete trial; five more lab CNNs were cut at their first epoch, eight temporal
    CNNs at their third with better values."""
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.add_trial(_trial("lab_cnn", STATES.COMPLETE, {1: 0.4, 3: 0.5, 9: 0.57}, 3))
    for _ in range(5):
        study.add_trial(_trial("lab_cnn", STATES.PRUNED, {1: 0.45}))
    for i in range(8):
        study.add_trial(_trial("temporal_cnn", STATES.PRUNED, {1: 0.6, 3: 0.7 + i / 100}))
    return study


def _draws(wrap, n=20) -> list[str]:
    draws = []
    for seed in range(n):
        tpe = optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=1)
        study = _genre_full_early(wrap(tpe))
        draws.append(study.ask({"family": FAMILY}).params["family"])
    return draws


def test_tpe_no_longer_chases_a_reference_complete_only_because_it_is_exempt():
    plain = _draws(lambda tpe: tpe)
    viewed = _draws(PrunerView)
    # TPE alone ranks the complete reference first (every complete trial above every
    # pruned one) and proposes its family most of the time; seen as pruned at epoch 3 it
    # ranks below every temporal CNN pruned there with a better value
    assert plain.count("lab_cnn") >= 0.75 * len(plain)
    assert viewed.count("lab_cnn") <= 0.25 * len(viewed)


def test_the_wrapped_sampler_learns_from_the_study_it_is_given():
    """Everything but the trials' states comes from the study: its direction, its storage
    (TPE's constant liar writes there), its completed trials for the search space."""
    tpe = optuna.samplers.TPESampler(seed=0, multivariate=True, constant_liar=True)
    study = optuna.create_study(direction="minimize", sampler=PrunerView(tpe))
    study.optimize(lambda t: (t.suggest_float("x", -1, 1) - 0.5) ** 2, n_trials=25)
    assert study.best_value < 0.05
