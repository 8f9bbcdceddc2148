"""sweep.report.figures: every figure writes a PNG from tiny hand-made inputs."""

from __future__ import annotations

import numpy as np

from sweep.report import figures

PNG = b"\x89PNG\r\n\x1a\n"


def test_every_figure_is_a_png(tmp_path):
    points = [
        {"number": 0, "state": "COMPLETE", "value": 0.5, "reference": True},
        {"number": 1, "state": "PRUNED", "value": 0.25, "reference": False},
        {"number": 2, "state": "COMPLETE", "value": 0.75, "reference": False},
        {"number": 3, "state": "PRUNED", "value": 0.3, "reference": False},
    ]
    curves = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "val": {"accuracy": e / 4}}
        for e in (1, 2, 3)
    ]
    true = np.array([[0.1, 0.2], [0.5, 0.4], [0.9, 0.7]])
    scores = {"valence": {"spearman": 1.0, "pearson": 0.9}}
    paths = [
        figures.history_plot(points, "accuracy", "maximize", tmp_path / "a" / "history.png"),
        figures.importance_plot({"lr": 0.75, "hidden_size": 0.25}, tmp_path / "imp.png"),
        figures.curves_plot(curves, "accuracy", tmp_path / "curves.png", 2, curves[:2]),
        figures.confusion_plot([[2, 1], [0, 3]], ["Rock", "Pop"], tmp_path / "confusion.png"),
        figures.scatter_plot(true, true[::-1], ["valence", "energy"], scores, tmp_path / "s.png"),
    ]
    for path in paths:
        assert path.read_bytes()[:8] == PNG, path
    assert paths[0].parent == tmp_path / "a"  # its folder made on the way


def drawn(monkeypatch) -> list:
    """The figures drawn from here on, caught where they would be saved."""
    caught = []
    monkeypatch.setattr(figures, "_save", lambda fig, path: caught.append(fig) or path)
    return caught


def test_failed_trials_are_drawn_at_the_foot_of_the_history(monkeypatch, tmp_path):
    caught = drawn(monkeypatch)
    points = [
        {"number": 0, "state": "COMPLETE", "value": 0.5, "reference": True},
        {"number": 1, "state": "PRUNED", "value": 0.25, "reference": False},
    ]
    figures.history_plot(points, "accuracy", "maximize", tmp_path / "h.png", failed=[3])
    (ax,) = caught[0].axes
    assert "failed (no value)" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert ax.get_xlim() == (-0.5, 3.5)  # the axis reaches the last trial, a failed one


def test_importances_name_parameters_as_the_trials_table_does(monkeypatch, tmp_path):
    caught = drawn(monkeypatch)
    importances = {"training.lr": 0.5, "model.backbone_params.dropout": 0.3, "head.dropout": 0.2}
    figures.importance_plot(importances, tmp_path / "i.png")
    (ax,) = caught[0].axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["head.dropout", "backbone_params.dropout", "lr"]  # the largest on top


def visible_ticks(axis) -> list[float]:
    low, high = sorted(axis.get_view_interval())
    return [t for t in axis.get_majorticklocs() if low <= t <= high]


def test_one_trial_and_one_epoch_get_whole_number_axes(monkeypatch, tmp_path):
    caught = drawn(monkeypatch)
    point = {"number": 0, "state": "COMPLETE", "value": 0.67, "reference": True}
    figures.history_plot([point], "accuracy", "maximize", tmp_path / "h.png")
    curves = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "val": {"accuracy": 0.5}}]
    figures.curves_plot(curves, "accuracy", tmp_path / "c.png")
    history, (loss, metric) = caught[0].axes[0], caught[1].axes
    assert visible_ticks(history.xaxis) == [0.0]  # not -0.4, -0.3, ... 0.4 trials
    assert visible_ticks(loss.xaxis) == visible_ticks(metric.xaxis) == [1.0]


def test_the_history_legend_is_beside_the_trials_not_over_them(monkeypatch, tmp_path):
    caught = drawn(monkeypatch)
    points = [  # the reference low and first: where a legend placed "best" sat on its star
        {"number": n, "state": "COMPLETE", "value": v, "reference": n == 0}
        for n, v in enumerate([0.89, 0.98, 0.98, 0.98])
    ]
    figures.history_plot(points, "accuracy", "maximize", tmp_path / "h.png", failed=[4])
    fig = caught[0]
    fig.canvas.draw()
    (ax,) = fig.axes
    assert ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1
