"""PNG plots of a summarized sweep (:mod:`assist.sweep`), drawn with matplotlib's
object API (no pyplot, no display: safe in scripts and worker processes).

- :func:`metric_bars`: one panel per metric, one horizontal bar per cell with its 95% CI.
- :func:`learning_curves`: one panel per TensorBoard scalar tag, one line per cell
  against env steps (the mean over the cell's runs, shaded between their min and max),
  read from the runs' event files with TensorBoard's ``EventAccumulator``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from assist.sweep import LEVEL, Cell, Sweep, label

CURVE_TAGS = ("eval/goal_pct", "eval/return", "charts/return", "losses/total")
"""Scalar tags :func:`learning_curves` draws by default (those the runs have)."""


def metric_bars(sweep: Sweep, metrics: Sequence[str], path: Path) -> Path:
    """Save a bar chart of ``metrics`` per cell with 95% CI error bars to ``path``."""
    names = [label(cell) for cell in sweep.cells]
    figure = Figure(figsize=(4.0 * len(metrics), 1.6 + 0.35 * len(names)), layout="constrained")
    axes = figure.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    y = np.arange(len(names))
    for ax, metric in zip(axes, metrics):
        cells = [cell.metrics.get(metric) for cell in sweep.cells]
        mean = np.array([s.mean if s else np.nan for s in cells])
        error = np.array([[s.mean - s.low, s.high - s.mean] if s else [np.nan, np.nan] for s in cells]).T
        ax.barh(y, mean, xerr=error, capsize=3, color="tab:blue", alpha=0.8)
        ax.set_title(metric)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, names)
    axes[0].invert_yaxis()
    figure.suptitle(f"mean and {100 * LEVEL:g}% CI per cell")
    figure.savefig(path, dpi=100)
    return path


def read_scalars(run_dir: Path, tags: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{tag: (steps [T], values [T])}`` of the ``tags`` present in ``run_dir``'s event files."""
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    present = set(events.Tags().get("scalars", []))
    out = {}
    for tag in tags:
        if tag in present:
            points = events.Scalars(tag)
            out[tag] = (np.array([p.step for p in points]), np.array([p.value for p in points], np.float64))
    return out


def cell_curve(runs: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(steps [T], mean [T], min [T], max [T]) over runs at the T steps all of them logged
    (T may be 0: self-play episodes end at different steps in different runs)."""
    steps = sorted(set.intersection(*(set(s.tolist()) for s, _ in runs)))
    values = np.array([[dict(zip(s.tolist(), v))[step] for step in steps] for s, v in runs])
    return np.array(steps), values.mean(axis=0), values.min(axis=0), values.max(axis=0)


def learning_curves(cells: Sequence[Cell], path: Path, tags: Sequence[str] = CURVE_TAGS) -> Path | None:
    """Save the learning curves of ``cells`` (those with TensorBoard events) to ``path``;
    ``None`` (and no file) when no run has any of ``tags``."""
    curves: dict[str, list[tuple[str, tuple]]] = {}
    for cell in cells:
        per_run = [read_scalars(job, tags) for job in cell.jobs]
        for tag in tags:
            runs = [run[tag] for run in per_run if tag in run]
            curve = cell_curve(runs) if runs else None
            if curve is not None and len(curve[0]):
                curves.setdefault(tag, []).append((label(cell), curve))
    if not curves:
        return None
    figure = Figure(figsize=(5.0 * len(curves), 3.8), layout="constrained")
    axes = figure.subplots(1, len(curves), squeeze=False)[0]
    for ax, (tag, lines) in zip(axes, curves.items()):
        for name, (steps, mean, low, high) in lines:
            (line,) = ax.plot(steps, mean, marker="o", markersize=3, label=name)
            ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2)
        ax.set_title(tag)
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    figure.savefig(path, dpi=100)
    return path
