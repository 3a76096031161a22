"""Reading a sweep directory (a Hydra multirun of ``scripts/train.py`` or
``scripts/evaluate.py``) and summarizing it: one cell per setting, mean and 95% CI per
metric over the seeds in the cell.

A job is a sub-directory holding ``results.json`` (its ``summary``:
``{assistant: {metric: {mean, low, high, n}}}``, the layout both entry points write) and
``.hydra/overrides.yaml`` (its command line). The *swept* keys are the overrides whose
values differ between jobs; a cell is one combination of the swept keys but the
replicate key (``seed``) and one assistant (a training run has one: its algo; an
evaluation run one per assistant it evaluated). A cell's value of a metric is the mean of
its jobs' means, with a Student-t 95% interval over them; a cell of one job keeps that
job's own interval (a bootstrap over its episodes), marked ``ci_over: episodes``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf
from scipy import stats

from assist.evaluation import METRICS, Summary, render_table

LEVEL = 0.95
"""Confidence level of every interval."""


class Job(NamedTuple):
    """One run of a sweep: its directory, its overrides ``{key: value}`` (values as
    written on the command line) and its summary ``{assistant: {metric: Summary}}``."""

    path: Path
    overrides: dict[str, str]
    summary: dict[str, dict[str, Summary]]


class Cell(NamedTuple):
    """One setting of a sweep: the swept overrides but the replicate key, one assistant,
    its jobs, and per metric the mean over them with its interval."""

    overrides: dict[str, str]
    assistant: str
    jobs: list[Path]
    metrics: dict[str, Summary]
    ci_over: str
    """``"seeds"`` (a t-interval over the jobs' means) or ``"episodes"`` (one job: its own interval)."""


class Sweep(NamedTuple):
    """A summarized sweep: the overrides every job shares, the swept keys, the cells, and
    the job directories that have no ``results.json`` (failed or still running)."""

    fixed: dict[str, str]
    swept: list[str]
    replicate: str
    cells: list[Cell]
    incomplete: list[Path]


def parse_overrides(lines: Iterable[str]) -> dict[str, str]:
    """``{key: value}`` of Hydra command-line overrides (``+``/``++`` dropped, a ``~key``
    deletion as the value ``"~"``), parsed by Hydra's own override parser."""
    parsed = OverridesParser.create().parse_overrides(list(lines))
    return {o.key_or_group + (f"@{o.package}" if o.package else ""): ("~" if o.value() is None else o.get_value_element_as_str()) for o in parsed}


def read_job(path: Path) -> Job:
    """The job in directory ``path`` (which must hold ``results.json`` and ``.hydra/overrides.yaml``)."""
    overrides_file = path / ".hydra" / "overrides.yaml"
    if not overrides_file.exists():
        raise FileNotFoundError(f"{path} has results.json but no .hydra/overrides.yaml: not a job of a Hydra sweep (run it with -m)")
    results = json.loads((path / "results.json").read_text())
    if "summary" not in results:
        raise ValueError(f"{path / 'results.json'} has no 'summary' (written by an older version?): rerun the job")
    summary = {row: {metric: Summary.from_dict(cells[metric]) for metric in cells} for row, cells in results["summary"].items()}
    return Job(path, parse_overrides(OmegaConf.to_container(OmegaConf.load(overrides_file))), summary)


def read_sweep(sweep_dir: str | Path) -> tuple[list[Job], list[Path]]:
    """The finished jobs of a sweep directory (its sub-directories with ``results.json``)
    and the unfinished ones (sub-directories with ``.hydra/`` but no ``results.json``)."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"no sweep directory {sweep_dir}")
    children = sorted(p for p in sweep_dir.iterdir() if p.is_dir())
    jobs = [read_job(p) for p in children if (p / "results.json").exists()]
    incomplete = [p for p in children if (p / ".hydra").is_dir() and not (p / "results.json").exists()]
    if not jobs:
        raise FileNotFoundError(f"{sweep_dir} has no job directories with a results.json (is it a sweep directory, runs/*-sweep/<time>?)")
    return jobs, incomplete


MIN_RUNS_FOR_INTERVAL = 3
"""Fewer runs give no interval: with two, Student's t of 12.7 makes one of about +-9
standard deviations, which reads as a result and says nothing."""


def seed_interval(values: Sequence[float], level: float = LEVEL) -> Summary:
    """Mean of ``values`` (one per run) with a Student-t interval (NaN bounds for fewer
    than :data:`MIN_RUNS_FOR_INTERVAL` runs)."""
    values = np.asarray(values, np.float64)
    n = len(values)
    if n == 0:
        raise ValueError("no values to summarize")
    mean = float(values.mean())
    if n < MIN_RUNS_FOR_INTERVAL:
        return Summary(mean, float("nan"), float("nan"), n)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return Summary(mean, mean - half, mean + half, n)


def summarize(jobs: list[Job], incomplete: Sequence[Path] = (), replicate: str = "seed") -> Sweep:
    """Group ``jobs`` into cells (see the module docstring) and aggregate each metric."""
    keys = sorted({key for job in jobs for key in job.overrides})
    values = {key: {job.overrides.get(key) for job in jobs} for key in keys}
    swept = [key for key in keys if len(values[key]) > 1 and key != replicate]
    fixed = {key: next(iter(v)) for key, v in values.items() if len(v) == 1 and key != replicate}
    groups: dict[tuple, list[tuple[Job, str]]] = {}
    for job in jobs:
        setting = tuple(job.overrides.get(key, "") for key in swept)
        for assistant in job.summary:
            groups.setdefault((setting, assistant), []).append((job, assistant))
    cells = []
    for (setting, assistant), members in sorted(groups.items(), key=lambda item: item[0]):
        metrics = {}
        for metric in members[0][0].summary[assistant]:
            runs = [job.summary[row][metric] for job, row in members if metric in job.summary[row]]
            metrics[metric] = runs[0] if len(runs) == 1 else seed_interval([run.mean for run in runs])
        ci_over = "episodes" if len(members) == 1 else "seeds"
        cells.append(Cell(dict(zip(swept, setting)), assistant, [job.path for job, _ in members], metrics, ci_over))
    return Sweep(fixed, swept, replicate, cells, list(incomplete))


def chosen_metrics(sweep: Sweep, metrics: Sequence[str] | None = None) -> list[str]:
    """``metrics`` if given (each must be in some cell), else the standard columns
    (:data:`assist.evaluation.METRICS`) that the cells have."""
    present = {metric for cell in sweep.cells for metric in cell.metrics}
    if metrics:
        unknown = sorted(set(metrics) - present)
        if unknown:
            raise ValueError(f"metric(s) {unknown} are in no job's results; present: {sorted(present)}")
        return list(metrics)
    return [metric for metric in METRICS if metric in present]


def label(cell: Cell) -> str:
    """A cell's short name: its swept overrides and its assistant."""
    return ", ".join([f"{key}={value}" for key, value in cell.overrides.items()] + [cell.assistant])


def markdown_table(sweep: Sweep, metrics: Sequence[str]) -> str:
    """One row per cell: swept keys, assistant (unless a swept key already names it, as
    ``algo`` does in a training sweep), runs, ``mean [low, high]`` per metric."""
    named = all(cell.assistant in cell.overrides.values() for cell in sweep.cells)
    keys = [*sweep.swept, *([] if named else ["assistant"])]
    rows = []
    for cell in sweep.cells:
        values = [s.cell() if (s := cell.metrics.get(m)) else "" for m in metrics]
        labels = [cell.overrides[k] for k in sweep.swept] + ([] if named else [cell.assistant])
        rows.append([*labels, str(len(cell.jobs)), *values])
    return render_table([*keys, "runs", *metrics], rows, labels=len(keys))


def to_json(sweep: Sweep) -> dict:
    """The summary as plain data (for ``summary.json``)."""
    return {
        "fixed": sweep.fixed,
        "swept": sweep.swept,
        "replicate": sweep.replicate,
        "level": LEVEL,
        "cells": [
            {
                "overrides": cell.overrides,
                "assistant": cell.assistant,
                "runs": len(cell.jobs),
                "ci_over": cell.ci_over,
                "jobs": [str(path) for path in cell.jobs],
                "metrics": {metric: s.to_dict() for metric, s in cell.metrics.items()},
            }
            for cell in sweep.cells
        ],
        "incomplete": [str(path) for path in sweep.incomplete],
    }
