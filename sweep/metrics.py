"""Scores of predictions: the validation metric a search optimises, and the test report.

The test report's numbers come from scikit-learn and scipy. The per-epoch validation
accuracy and macro F1 are two lines of numpy (the tests check them against scikit-learn),
so that a trial does not import scikit-learn, scipy and pandas (most of a second) before it
trains; scipy is imported where a Spearman correlation is first needed.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def spearman(predicted: np.ndarray, true: np.ndarray) -> float:
    """Spearman's rho; 0 where it is undefined (a constant prediction ranks nothing)."""
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns about constant input, then gives nan
        rho = stats.spearmanr(predicted, true).statistic
    return 0.0 if not np.isfinite(rho) else float(rho)


def validation_scores(task: str, outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """The metrics a search can optimise (besides loss), from model outputs.

    Args:
        task: "classification" (outputs are class probabilities) or "regression".
        outputs: (N, C) probabilities or (N, K) predicted values.
        targets: (N,) class indices or (N, K) true values.
    """
    if task == "classification":
        predicted = outputs.argmax(axis=1)
        return {
            "accuracy": float(np.mean(predicted == targets)),
            "macro_f1": macro_f1(targets, predicted),
        }
    per_target = [spearman(outputs[:, k], targets[:, k]) for k in range(targets.shape[1])]
    return {"spearman": float(np.mean(per_target))}


def paired_interval(
    task: str,
    metric: str,
    outputs: np.ndarray,
    other: np.ndarray,
    targets: np.ndarray,
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """The 95% paired bootstrap interval of metric(outputs) - metric(other) on the same
    tracks: `resamples` times, draw the tracks with replacement and score both models on
    the draw. On 64-80 test tracks a difference of a track or two is often inside it.

    Args:
        metric: a key of `validation_scores` ("accuracy", "macro_f1", "spearman").

    Returns:
        (low, high); (nan, nan) without tracks.
    """
    n = len(targets)
    if n == 0:
        return float("nan"), float("nan")  # no track: nothing to draw
    rng = np.random.default_rng(seed)
    differences = np.empty(resamples)
    for i in range(resamples):
        draw = rng.integers(0, n, n)
        differences[i] = (
            validation_scores(task, outputs[draw], targets[draw])[metric]
            - validation_scores(task, other[draw], targets[draw])[metric]
        )
    low, high = np.quantile(differences, [0.025, 0.975])
    return float(low), float(high)


def macro_f1(targets: np.ndarray, predicted: np.ndarray) -> float:
    """F1 averaged over the classes present in either array, 0 for a class never predicted
    correctly: scikit-learn's `f1_score(average="macro", zero_division=0)`."""
    labels = np.union1d(targets, predicted)
    tp = np.array([np.sum((predicted == c) & (targets == c)) for c in labels], dtype=float)
    support = np.array([np.sum(targets == c) for c in labels], dtype=float)
    chosen = np.array([np.sum(predicted == c) for c in labels], dtype=float)
    denominator = support + chosen  # F1 = 2 tp / (2 tp + fp + fn)
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return float(f1.mean()) if len(f1) else 0.0


def evaluation_report(
    task: str, outputs: np.ndarray, targets: np.ndarray, names: tuple[str, ...]
) -> dict[str, Any]:
    """The full evaluation of one model on the test split (stored as JSON)."""
    from scipy import stats
    from sklearn.metrics import (
        accuracy_score,
        classification_report,
        confusion_matrix,
        f1_score,
        mean_squared_error,
    )

    if task == "classification":
        predicted = outputs.argmax(axis=1)
        labels = list(range(len(names)))
        return {
            "n": int(len(targets)),
            "accuracy": float(accuracy_score(targets, predicted)),
            "macro_f1": float(f1_score(targets, predicted, average="macro", zero_division=0)),
            "micro_f1": float(f1_score(targets, predicted, average="micro", zero_division=0)),
            "weighted_f1": float(f1_score(targets, predicted, average="weighted", zero_division=0)),
            "per_class": classification_report(
                targets,
                predicted,
                labels=labels,
                target_names=list(names),
                output_dict=True,
                zero_division=0,
            ),
            "confusion_matrix": confusion_matrix(targets, predicted, labels=labels).tolist(),
            "classes": list(names),
        }
    per_target = {}
    for k, name in enumerate(names):
        p, t = outputs[:, k], targets[:, k]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pearson = stats.pearsonr(p, t).statistic if np.ptp(p) > 0 else 0.0
        per_target[name] = {
            "spearman": spearman(p, t),
            "pearson": float(pearson),
            "mse": float(mean_squared_error(t, p)),
        }
    return {
        "n": int(len(targets)),
        "spearman": float(np.mean([v["spearman"] for v in per_target.values()])),
        "per_target": per_target,
    }
