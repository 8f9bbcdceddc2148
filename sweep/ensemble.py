"""Ensembles of trials: greedy ensemble selection over out-of-fold predictions.

    weights = select(candidates, targets, task="classification", metric="accuracy",
                     direction="maximize", rounds=25, bags=20)   # {trial number: weight}
    outputs = blend(weights, {n: test_outputs_of(n) for n in weights})

Caruana, Niculescu-Mizil, Crew and Ksikes (2004), "Ensemble selection from libraries of
models", the method behind auto-sklearn's EnsembleSelection and AutoGluon's
WeightedEnsemble: start from an empty ensemble and, `rounds` times, add the trial (with
replacement) whose predictions, averaged with the ensemble's so far, score best on the held-
out tracks. A trial's weight is how often it was added over the rounds; the ensemble kept
is the best one met along the way (the earliest of equals), so more rounds never make it
worse on the held-out tracks.

On a few dozen held-out tracks that greedy choice overfits them: it adds whichever trial
happens to be right on two more of those tracks. Caruana, Munson and Niculescu-Mizil (2006),
"Getting the most out of ensemble selection", bag it: `bags` times, choose greedily from a
random half of the trials (`BAG_FRACTION`), and average the bags' weights. A trial that is
chosen only because it fits the held-out tracks best by chance is chosen in the bags that
hold it, and the others dilute it. `bags=1` is the plain greedy selection over every trial.

Each trial's predictions are its outputs at its best epoch on the tracks it did not train
on (`TrialFolder.validation_outputs`): the validation split, or with folds every fold's on
its own held-out tracks. Scores: the study's metric, ties broken by the log-loss of the
averaged probabilities (classification; accuracy on 64 tracks ties often) or by the mean
squared error (regression). Averaging probabilities (not logits) is the soft vote of
Caruana et al.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sweep.metrics import validation_scores

EPS = 1e-7
BAG_FRACTION = 0.5  # of the trials in each bag (Caruana et al. 2006)


def select(
    candidates: Mapping[int, np.ndarray],
    targets: np.ndarray,
    task: str,
    metric: str,
    direction: str,
    rounds: int = 25,
    bags: int = 1,
    seed: int = 0,
) -> dict[int, float]:
    """The weights of the ensemble chosen greedily from `candidates` (trial number ->
    outputs on the held-out tracks, all in the order of `targets`).

    Args:
        rounds: Trials added (with replacement) in each greedy selection.
        bags: Greedy selections, each from a random `BAG_FRACTION` of the candidates (at
            least one), whose weights are averaged; 1: one selection from every candidate.
        seed: The bags' random draws; the same seed chooses the same ensemble.

    Returns:
        {trial number: weight}, the weights summing to 1, the largest first (ties: the
        earlier candidate).

    Raises:
        ValueError: no candidates, or outputs of different shapes.
    """
    if not candidates:
        raise ValueError("no trial to choose an ensemble from")
    numbers = list(candidates)
    stacked = np.stack([np.asarray(candidates[n], dtype=np.float64) for n in numbers])
    if bags == 1:
        weights = _greedy(stacked, targets, task, metric, direction, rounds)
    else:
        rng = np.random.default_rng(seed)
        size = max(1, round(BAG_FRACTION * len(numbers)))
        weights = np.zeros(len(numbers))
        for _ in range(bags):
            bag = np.sort(rng.choice(len(numbers), size=size, replace=False))
            weights[bag] += _greedy(stacked[bag], targets, task, metric, direction, rounds)
        weights /= bags
    order = sorted(np.flatnonzero(weights), key=lambda i: (-weights[i], i))
    return {numbers[i]: float(weights[i]) for i in order}


def _greedy(
    stacked: np.ndarray,
    targets: np.ndarray,
    task: str,
    metric: str,
    direction: str,
    rounds: int,
) -> np.ndarray:
    """One greedy selection: each candidate's weight (count / sum of counts)."""
    total = np.zeros_like(stacked[0])
    counts = np.zeros(len(stacked), dtype=int)
    best_key, best_counts = None, None
    for k in range(1, rounds + 1):
        keys = [score_key((total + s) / k, targets, task, metric, direction) for s in stacked]
        pick = max(range(len(stacked)), key=lambda i: (keys[i], -i))  # the earlier of equals
        total += stacked[pick]
        counts[pick] += 1
        if best_key is None or keys[pick] > best_key:
            best_key, best_counts = keys[pick], counts.copy()
    return best_counts / best_counts.sum()


def blend(weights: Mapping[int, float], outputs: Mapping[int, np.ndarray]) -> np.ndarray:
    """The weighted mean of the members' outputs (probabilities or values)."""
    return sum(w * np.asarray(outputs[n], dtype=np.float64) for n, w in weights.items())


def score_key(
    outputs: np.ndarray, targets: np.ndarray, task: str, metric: str, direction: str
) -> tuple[float, float]:
    """(metric, tie-breaker), both oriented so that larger is better."""
    if task == "classification":
        picked = outputs[np.arange(len(targets)), targets]
        log_loss = float(-np.mean(np.log(np.clip(picked, EPS, 1.0))))
        tie, loss = -log_loss, log_loss
    else:
        loss = float(np.mean((outputs - targets) ** 2))
        tie = -loss
    value = loss if metric == "loss" else validation_scores(task, outputs, targets)[metric]
    return (value if direction == "maximize" else -value, tie)
