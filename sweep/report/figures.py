"""The report's figures, one PNG each: history, importances, curves, confusion, scatter.

Figures are built with `matplotlib.figure.Figure` and an Agg canvas rather than pyplot, so
making a report never switches the backend of a notebook or a program that imports sweep,
and no global figure state is left behind.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sweep.report.formatting import short_names

DPI = 110
BEST = "#1f77b4"
REFERENCE = "#d62728"
MUTED = "#9a9a9a"
FAILED = "#3a3a3a"


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _whole_numbers(axis: Axis) -> None:
    """Ticks at whole numbers only (trials, epochs): `min_n_ticks=1` because with the
    default of 2 a span holding one whole number (one trial, one epoch) falls back to
    ticks at -0.4, -0.3, ..."""
    axis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


def history_plot(
    points: Sequence[dict],
    metric: str,
    direction: str,
    path: Path,
    failed: Sequence[int] = (),
) -> Path:
    """Trial number against its value: complete trials, pruned ones at their last reported
    value, the best-so-far line, the reference trial marked, and failed trials along the
    bottom (they have no value, but a gap in the trial numbers would hide them).

    Args:
        points: one dict per trial with number, state ("COMPLETE"/"PRUNED"), value and
            reference (bool); trials without a value are left out.
        metric: the validation metric's name (axis label).
        direction: "maximize" or "minimize" (for the best-so-far line).
        path: where to write the PNG.
        failed: the numbers of the failed trials.
    """
    fig = _figure(8.0, 3.6)
    ax = fig.add_subplot()
    complete = [p for p in points if p["state"] == "COMPLETE"]
    pruned = [p for p in points if p["state"] == "PRUNED"]
    if pruned:
        ax.scatter(
            [p["number"] for p in pruned],
            [p["value"] for p in pruned],
            marker="x",
            color=MUTED,
            label="pruned (last reported value)",
            zorder=2,
        )
    if complete:
        ax.scatter(
            [p["number"] for p in complete],
            [p["value"] for p in complete],
            color=BEST,
            label="complete",
            zorder=3,
        )
        best_line, best = [], None
        for p in sorted(complete, key=lambda p: p["number"]):
            if best is None or (
                p["value"] > best if direction == "maximize" else p["value"] < best
            ):
                best = p["value"]
            best_line.append((p["number"], best))
        last = max(p["number"] for p in points)
        if best_line[-1][0] < last:  # carry the line to the last trial drawn
            best_line.append((last, best_line[-1][1]))
        xs, ys = zip(*best_line, strict=True)
        ax.step(xs, ys, where="post", color=BEST, alpha=0.6, label="best so far")
    for p in points:
        if p.get("reference"):
            ax.scatter(
                [p["number"]],
                [p["value"]],
                marker="*",
                s=220,
                color=REFERENCE,
                edgecolor="black",
                linewidth=0.5,
                label="reference configuration",
                zorder=4,
            )
            ax.axhline(p["value"], color=REFERENCE, linestyle=":", linewidth=1)
    if failed:  # at the foot of the axes (x in data, y in axes coordinates): no value to plot
        ax.scatter(
            list(failed),
            [0.03] * len(failed),
            transform=ax.get_xaxis_transform(),
            marker="v",
            color=FAILED,
            label="failed (no value)",
            zorder=3,
            clip_on=False,
        )
    _whole_numbers(ax.xaxis)
    numbers = [p["number"] for p in points] + list(failed)
    if numbers:  # half a trial of margin either side
        ax.set_xlim(min(numbers) - 0.5, max(numbers) + 0.5)
    ax.set_xlabel("trial number")
    ax.set_ylabel(f"validation {metric}")
    ax.grid(alpha=0.3)
    if numbers:  # beside the axes: "best" inside them still covered the reference's star
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize=8)
    return _save(fig, path)


def importance_plot(importances: dict[str, float], path: Path) -> Path:
    """Horizontal bars, the most important parameter on top, each named as the trials table
    names it (the shortest dotted suffix that tells the parameters apart: lr, not
    training.lr), so that the labels leave the bars room on a narrow page."""
    names = list(importances)[::-1]
    short = short_names(names)
    fig = _figure(8.0, 0.9 + 0.38 * len(names))
    ax = fig.add_subplot()
    ax.barh([short[n] for n in names], [importances[n] for n in names], color=BEST)
    for y, name in enumerate(names):
        ax.text(importances[name], y, f" {importances[name]:.2f}", va="center", fontsize=8)
    ax.set_xlabel("importance (fANOVA, share of the variance of the objective)")
    ax.set_xlim(0, max([*importances.values(), 0.01]) * 1.15)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def curves_plot(
    curves: Sequence[dict],
    metric: str,
    path: Path,
    best_epoch: int | None = None,
    reference: Sequence[dict] | None = None,
) -> Path:
    """Losses (left) and the validation metric(s) (right) per epoch of the best trial, with
    the reference trial's dashed when it is another trial."""
    fig = _figure(10.0, 3.4)
    loss_ax, metric_ax = fig.subplots(1, 2)
    epochs = [c["epoch"] for c in curves]
    loss_ax.plot(epochs, [c["train_loss"] for c in curves], "-o", ms=3, label="train loss")
    loss_ax.plot(epochs, [c["val_loss"] for c in curves], "-o", ms=3, label="validation loss")
    names = [k for k in (curves[0]["val"] if curves else {}) if k != "loss"]
    for name in names:
        metric_ax.plot(epochs, [c["val"][name] for c in curves], "-o", ms=3, label=name)
    if reference:
        ref_epochs = [c["epoch"] for c in reference]
        loss_ax.plot(
            ref_epochs,
            [c["val_loss"] for c in reference],
            "--",
            color=REFERENCE,
            alpha=0.7,
            label="validation loss, reference",
        )
        if metric in reference[0]["val"] and metric != "loss":
            metric_ax.plot(
                ref_epochs,
                [c["val"][metric] for c in reference],
                "--",
                color=REFERENCE,
                alpha=0.7,
                label=f"{metric}, reference",
            )
    for ax, title in ((loss_ax, "loss"), (metric_ax, "validation metrics")):
        if best_epoch:
            ax.axvline(best_epoch, color=MUTED, linestyle=":", label=f"kept epoch ({best_epoch})")
        _whole_numbers(ax.xaxis)
        ax.set_xlabel("epoch")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def confusion_plot(matrix: Sequence[Sequence[int]], classes: Sequence[str], path: Path) -> Path:
    """Counts in every cell, coloured by the share of the true class (row), so that a small
    class's errors are as visible as a large one's."""
    m = np.asarray(matrix, dtype=float)
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    n = len(classes)
    size = max(4.0, 0.55 * n + 2.2)
    fig = _figure(size + 1.0, size)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the true class")
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                f"{int(m[i, j])}",
                ha="center",
                va="center",
                fontsize=9,
                color="white" if share[i, j] > 0.6 else "black",
            )
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    return _save(fig, path)


def scatter_plot(
    true: np.ndarray, predicted: np.ndarray, names: Sequence[str], scores: dict, path: Path
) -> Path:
    """Predicted against true value per target, with the identity line and the target's
    Spearman and Pearson correlations in its title."""
    k = len(names)
    cols = min(k, 3)
    rows = math.ceil(k / cols)
    fig = _figure(3.6 * cols + 0.4, 3.5 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for i, name in enumerate(names):
        ax = axes[i]
        t, p = true[:, i], predicted[:, i]
        ax.scatter(t, p, s=12, alpha=0.7, color=BEST)
        low = float(min(t.min(), p.min()))
        high = float(max(t.max(), p.max()))
        ax.plot([low, high], [low, high], color=MUTED, linestyle="--", linewidth=1)
        s = scores.get(name, {})
        ax.set_title(
            f"{name}: Spearman {s.get('spearman', float('nan')):.3f}, "
            f"Pearson {s.get('pearson', float('nan')):.3f}",
            fontsize=9,
        )
        ax.set_xlabel(f"true {name}")
        ax.set_ylabel(f"predicted {name}")
        ax.grid(alpha=0.3)
    for ax in axes[k:]:
        ax.set_visible(False)
    return _save(fig, path)
