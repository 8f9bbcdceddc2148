"""A practitioner's baseline: pooled features and a linear model, on a study's own split.

    from sweep.report.study_data import study_split_spec
    spec = study_split_spec(study_spec.resolved_data, study_folder, root)
    data = sweep.data.prepare(spec)         # the study's split, exactly (its split.json)
    result = run_baseline(data)

Every track becomes the mean and the standard deviation of each feature row over its valid
frames (2F numbers, padding never enters). A standardised LogisticRegression
(classification) or one Ridge per target (regression) is trained on the training split, its
C or alpha chosen on the validation split from a small grid, refitted on train+validation
with that choice, and tested once on the test split, scored by
`sweep.metrics.evaluation_report` like the study's own models. It is what a practitioner
would try in five minutes before training an LSTM: a model that does not beat it has learnt
nothing the clip statistics did not already say.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sweep.data import PreparedData
from sweep.metrics import evaluation_report, paired_interval, spearman
from sweep.tracks import TrackSet

C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)  # inverse regularisation of the logistic regression
ALPHA_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0)  # Ridge penalty
MAX_ITER = 5000  # lbfgs on a few hundred standardised features converges well before this


@dataclass
class BaselineResult:
    """The baseline's choice on the validation split and its report on the test split.

    Attributes:
        model: "LogisticRegression" or "Ridge".
        chosen: the grid value chosen per model, e.g. {"C": 0.1} or {"alpha valence": 10}.
        validation: the selection score on the validation split ("accuracy" or
            "spearman <target>" per target).
        test: `evaluation_report` of the test split (accuracy/macro_f1/... or spearman and
            per_target).
        sizes: tracks per split.
        seconds: time to pool and fit everything.
        notes: anything a reader should know (a grid value that did not converge...).
        outputs: its outputs on the test tracks (probabilities or values), in the order of
            `ids`: what the report compares a study's result with, track by track.
    """

    model: str
    chosen: dict[str, float]
    validation: dict[str, float]
    test: dict[str, Any]
    sizes: dict[str, int]
    seconds: float
    notes: list[str] = field(default_factory=list)
    outputs: np.ndarray | None = None
    ids: list[str] = field(default_factory=list)


def interval_over(
    baseline: BaselineResult,
    saved: dict[str, np.ndarray],
    role: str,
    task: str,
    metric: str,
    axis: int | None = None,
) -> tuple[float, float] | None:
    """The 95% paired bootstrap interval (`paired_interval`) of a study's `role` minus the
    baseline, from the study's test outputs (`StudyFolder.read_test_outputs`), on the
    whole metric or on one target `axis`; None where `saved` lacks the role or holds other
    tracks than the baseline's."""
    if baseline.outputs is None or role not in saved:
        return None
    if [str(i) for i in saved["ids"]] != [str(i) for i in baseline.ids]:
        return None
    mine, theirs, targets = saved[role], baseline.outputs, saved["targets"]
    if axis is not None:
        mine, theirs, targets = mine[:, [axis]], theirs[:, [axis]], targets[:, [axis]]
    return paired_interval(task, metric, mine, theirs, targets)


def pooled_features(tracks: TrackSet) -> np.ndarray:
    """(n_tracks, 2F): each feature row's mean, then its standard deviation, over the frames
    of each track. A track without frames pools to zeros (it has nothing to say)."""
    lengths = tracks.lengths
    n, f = len(tracks), tracks.n_features
    out = np.zeros((n, 2 * f), dtype=np.float64)
    filled = np.flatnonzero(lengths > 0)
    if len(filled) == 0:
        return out
    frames = np.asarray(tracks.frames, dtype=np.float64)
    # reduceat sums each track's block in one pass; empty tracks are left out of the start
    # indices because reduceat would otherwise return the next frame for them.
    starts = tracks.offsets[:-1][filled]
    count = lengths[filled][:, None].astype(np.float64)
    mean = np.add.reduceat(frames, starts, axis=0) / count
    # The blocks between consecutive non-empty starts are exactly the tracks' frames,
    # because empty tracks contribute no frames in between.
    squares = np.add.reduceat(frames * frames, starts, axis=0) / count
    out[filled, :f] = mean
    out[filled, f:] = np.sqrt(np.maximum(squares - mean * mean, 0.0))
    return out


def run_baseline(data: PreparedData, refit: bool = True) -> BaselineResult:
    """Fit, select and test the baseline on a prepared study split (test split included).

    Args:
        data: the study's data, as `sweep.data.prepare` builds it from the study's spec and
            split; `data.test()` is called once here.
        refit: after choosing C (alpha) on the validation split, fit again on train and
            validation together, as a practitioner would (and as `sweep run` refits its
            chosen models where selection asks for it; see sweep.selection).

    Returns:
        The chosen hyper-parameters, the validation scores and the test report.
    """
    started = time.perf_counter()
    test = data.test()
    x_train = pooled_features(data.train.tracks)
    x_val = pooled_features(data.validation.tracks)
    x_test = pooled_features(test.tracks)
    sizes = {"train": len(data.train), "validation": len(data.validation), "test": len(test)}
    if data.task == "classification":
        result = _classification(data, x_train, x_val, x_test, test.targets, refit)
    else:
        result = _regression(data, x_train, x_val, x_test, test.targets, refit)
    result.sizes = sizes
    result.ids = list(test.ids)
    result.seconds = time.perf_counter() - started
    return result


def _classification(
    data: PreparedData,
    x_train: np.ndarray,
    x_val: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    refit: bool,
) -> BaselineResult:
    y_train, y_val = data.train.targets, data.validation.targets
    notes: list[str] = []
    best: tuple[float, float, Any] | None = None
    for c in C_GRID:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=MAX_ITER))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(x_train, y_train)
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            notes.append(f"C={c:g} did not converge in {MAX_ITER} iterations")
        score = float(accuracy_score(y_val, model.predict(x_val)))
        if best is None or score > best[0]:  # ties keep the smaller C: more regularised
            best = (score, c, model)
    assert best is not None
    score, c, model = best
    if refit:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=MAX_ITER))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(np.vstack([x_train, x_val]), np.concatenate([y_train, y_val]))
    n_classes = len(data.class_names)
    # A class missing from the training split gets probability 0, so that the columns line
    # up with the class names whatever the split holds.
    proba = np.zeros((len(x_test), n_classes), dtype=np.float64)
    proba[:, model.classes_] = model.predict_proba(x_test)
    report = evaluation_report("classification", proba, y_test, data.class_names)
    return BaselineResult(
        "LogisticRegression", {"C": c}, {"accuracy": score}, report, {}, 0.0, notes, proba
    )


def _regression(
    data: PreparedData,
    x_train: np.ndarray,
    x_val: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    refit: bool,
) -> BaselineResult:
    y_train, y_val = data.train.targets, data.validation.targets
    chosen: dict[str, float] = {}
    validation: dict[str, float] = {}
    predicted = np.zeros((len(x_test), len(data.target_names)), dtype=np.float64)
    for k, name in enumerate(data.target_names):
        best: tuple[float, float, Any] | None = None
        for alpha in ALPHA_GRID:
            model = make_pipeline(StandardScaler(), Ridge(alpha=alpha))
            model.fit(x_train, y_train[:, k])
            score = spearman(model.predict(x_val), y_val[:, k])
            if best is None or score > best[0]:  # ties keep the smaller alpha
                best = (score, alpha, model)
        assert best is not None
        validation[f"spearman {name}"] = best[0]
        chosen[f"alpha {name}"] = best[1]
        model = best[2]
        if refit:
            model = make_pipeline(StandardScaler(), Ridge(alpha=best[1]))
            model.fit(np.vstack([x_train, x_val]), np.concatenate([y_train[:, k], y_val[:, k]]))
        predicted[:, k] = model.predict(x_test)
    report = evaluation_report("regression", predicted, y_test, data.target_names)
    return BaselineResult("Ridge", chosen, validation, report, {}, 0.0, [], predicted)
