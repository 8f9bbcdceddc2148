"""TPE sees the reference and enqueued trials as the pruner would have left them."""

import optuna

from sweep import trials as records
from sweep.sampling import PrunerView, as_the_sampler_sees_them

STATES = optuna.trial.TrialState
FAMILY = optuna.distributions.CategoricalDistribution(["lab_cnn", "temporal_cnn"])


def _trial(family: str, state, values: dict[int, float], would_prune_at=None, tag=None):
    """A trial; with `would_prune_at`, the reference (or `tag`: records.ENQUEUED)."""
    attrs = {}
    if would_prune_at is not None:
        attrs[records.WOULD_PRUNE_AT] = would_prune_at
        attrs[tag or records.REFERENCE] = 0 if tag == records.ENQUEUED else True
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
    best = _trial("temporal_cnn", STATES.COMPLETE, {1: 0.6, 2: 0.7})
    seen = as_the_sampler_sees_them([reference, best], maximize=True)[0]
    assert seen.state == STATES.PRUNED and seen.value is None
    assert seen.intermediate_values == {1: 0.5, 2: 0.55}
    # the trial itself is unchanged
    assert reference.state == STATES.COMPLETE and reference.value == 0.6
    assert len(reference.intermediate_values) == 3


def test_a_final_value_is_not_compared_with_early_ones_only_the_best_stays_complete():
    """Pruned trials stop early and low: a poor reference's final value beats their last
    values, yet it is not the best trial, so TPE is shown it as the pruner judged it."""
    reference = _trial("lab_cnn", STATES.COMPLETE, {2: 0.45, 6: 0.5, 9: 0.57}, 6)
    pruned = [_trial("temporal_cnn", STATES.PRUNED, {2: 0.5, 6: 0.52})]
    enqueued = _trial("temporal_cnn", STATES.COMPLETE, {2: 0.6, 37: 0.784})
    shown = as_the_sampler_sees_them([reference, *pruned, enqueued], maximize=True)
    assert shown[0].state == STATES.PRUNED


def test_the_reference_stays_complete_where_it_is_the_best_so_far():
    reference = _trial("lab_cnn", STATES.COMPLETE, {1: 0.1, 2: 0.2, 3: 0.39}, 2)
    other = _trial("temporal_cnn", STATES.COMPLETE, {1: 0.3, 2: 0.37})
    pruned = [
        _trial("lab_cnn", STATES.PRUNED, {1: 0.2, 2: 0.35}),
        _trial("lab_cnn", STATES.PRUNED, {}),
    ]
    shown = as_the_sampler_sees_them([reference, other, *pruned], maximize=True)
    assert shown[0] is reference
    # a loss (minimised): the others are better
    shown = as_the_sampler_sees_them([reference, other, *pruned], maximize=False)
    assert shown[0].state == STATES.PRUNED and shown[0].intermediate_values == {1: 0.1, 2: 0.2}
    # alone, it is the best
    assert as_the_sampler_sees_them([reference], maximize=False)[0] is reference


def test_enqueued_configurations_are_shown_as_they_are():
    """The spec's chosen starting points (multitask's keyed pooled MLPs, which the pruner
    would have cut at epoch 2 and end near the best): TPE learns from their final values."""
    enqueued = _trial(
        "temporal_cnn", STATES.COMPLETE, {1: 0.1, 2: 0.2, 3: 0.37}, 2, records.ENQUEUED
    )
    best = _trial("temporal_cnn", STATES.COMPLETE, {1: 0.3, 2: 0.39})
    assert as_the_sampler_sees_them([enqueued, best], maximize=True)[0] is enqueued


def test_other_trials_are_shown_as_they_are():
    kept = _trial("lab_cnn", STATES.COMPLETE, {1: 0.5, 2: 0.6})
    pruned = _trial("temporal_cnn", STATES.PRUNED, {1: 0.7})
    running = optuna.trial.create_trial(
        state=STATES.RUNNING, user_attrs={records.WOULD_PRUNE_AT: 1}
    )
    shown = as_the_sampler_sees_them([kept, pruned, running], maximize=True)
    assert shown[0] is kept and shown[1] is pruned and shown[2] is running


def _genre_full_early(sampler) -> optuna.Study:
    """genre_full after 14 trials (README "Performance"): the portfolio's temporal CNN has
    completed; the reference, a lab CNN, would have been cut at epoch 6 (it passed the rung
    at epoch 2); five more lab CNNs were cut at epoch 2, seven temporal CNNs at epoch 6 with
    better values there, though below the reference's final value."""
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.add_trial(_trial("lab_cnn", STATES.COMPLETE, {2: 0.45, 6: 0.5, 9: 0.57}, 6))
    study.add_trial(_trial("temporal_cnn", STATES.COMPLETE, {2: 0.6, 37: 0.784}))
    for _ in range(5):
        study.add_trial(_trial("lab_cnn", STATES.PRUNED, {2: 0.3}))
    for i in range(7):
        study.add_trial(_trial("temporal_cnn", STATES.PRUNED, {2: 0.5, 6: 0.51 + i / 100}))
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


def test_only_tpe_is_shown_the_view():
    """GP and CMA-ES ignore pruned trials: a trial shown pruned would vanish for them."""
    from sweep.spec import SamplerSpec
    from sweep.study import make_sampler

    def made(name):
        return make_sampler(SamplerSpec(name=name, seed=0), spec=None)

    assert isinstance(made("tpe"), PrunerView)
    assert isinstance(made("tpe").sampler, optuna.samplers.TPESampler)
    for name, kind in [("gp", "GPSampler"), ("cmaes", "CmaEsSampler"), ("random", "RandomSampler")]:
        assert type(made(name)).__name__ == kind
