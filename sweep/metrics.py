"""Scores of predictions: the validation metric a search optimises, and the test report.

Every number comes from scikit-learn or scipy, not hand-written formulas.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    mean_squared_error,
)


def spearman(predicted: np.ndarray, true: np.ndarray) -> float:
    """Spearman's rho; 0 where it is undefined (a constant prediction ranks nothing)."""
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
            "accuracy": float(accuracy_score(targets, predicted)),
            "macro_f1": float(f1_score(targets, predicted, average="macro", zero_division=0)),
        }
    per_target = [spearman(outputs[:, k], targets[:, k]) for k in range(targets.shape[1])]
    return {"spearman": float(np.mean(per_target))}


def evaluation_report(
    task: str, outputs: np.ndarray, targets: np.ndarray, names: tuple[str, ...]
) -> dict[str, Any]:
    """The full evaluation of one model on the test split (stored as JSON)."""
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
