"""The evaluator: N episodes per assistant on the same seeds (so the same goals and
starts), batched, summarized as a table of means with 95% bootstrap confidence
intervals, printed and saved."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from assist import recording
from assist.players.base import Player
from assist.progress import progress_bar
from assist.rollout import play
from envs.core import ASSISTANT, HUMAN, GameCore

METRICS = ("goal_pct", "return", "human_actions", "assistant_share", "length")
"""The columns every table shows (the core may report more)."""
BOOTSTRAP_SAMPLES = 2000


class Summary(NamedTuple):
    """Mean of one metric over ``n`` values (episodes, or runs) and its 95% interval
    [low, high]; NaN bounds (``None`` in JSON) when ``n`` is too small for one."""

    mean: float
    low: float
    high: float
    n: int

    def has_interval(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    def cell(self) -> str:
        """A table cell: ``mean [low, high]``, or ``mean (n=2: too few for an interval)``."""
        return f"{self.mean:.2f} [{self.low:.2f}, {self.high:.2f}]" if self.has_interval() else f"{self.mean:.2f} (n={self.n}: too few for an interval)"

    def to_dict(self) -> dict[str, float | int | None]:
        """``{mean, low, high, n}`` as plain Python numbers for JSON (bounds ``None`` without an interval)."""
        bounds = (float(self.low), float(self.high)) if self.has_interval() else (None, None)
        return {"mean": float(self.mean), "low": bounds[0], "high": bounds[1], "n": int(self.n)}

    @classmethod
    def from_dict(cls, data: dict) -> Summary:
        """The inverse of :meth:`to_dict`."""
        low, high = (float("nan") if data[key] is None else data[key] for key in ("low", "high"))
        return cls(data["mean"], low, high, data["n"])


def bootstrap_ci(values: np.ndarray, rng: np.random.Generator, level: float = 0.95) -> Summary:
    """Mean of ``values`` ([N]) with a percentile bootstrap interval."""
    values = np.asarray(values, np.float64)
    if len(values) == 0:
        raise ValueError("no values to summarize")
    means = values[rng.integers(len(values), size=(BOOTSTRAP_SAMPLES, len(values)))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return Summary(float(values.mean()), float(low), float(high), len(values))


def episode_seeds(seed: int, episodes: int) -> np.ndarray:
    """[episodes] int64 per-episode reset seeds derived from ``seed``."""
    return np.random.default_rng(seed).integers(0, 2**62, size=episodes, dtype=np.int64)


def evaluate(
    core: GameCore,
    human: Player,
    assistant: Player,
    episodes: int,
    batch: int,
    seed: int,
    record: list | None = None,
    progress: str | None = None,
) -> dict[str, np.ndarray]:
    """Per-episode metrics ([episodes] each) of ``human`` with ``assistant``.

    Episodes run ``batch`` at a time; episode i resets from ``episode_seeds(seed, episodes)[i]``.
    If ``record`` is a list, episode dicts in the recording format are appended to it.
    ``progress``: a progress bar's label (episodes done; drawn on a terminal, logged every
    30 s otherwise: :func:`assist.progress.progress_bar`), or ``None`` for no bar.
    """
    if episodes < 1 or batch < 1:
        raise ValueError(f"episodes={episodes} and batch={batch} must both be >= 1")
    seeds = episode_seeds(seed, episodes)
    rng = np.random.default_rng([seed, 1])
    parts: dict[str, list[np.ndarray]] = {}
    with progress_bar(episodes, progress or "", "ep", enabled=progress is not None, leave=False) as bar:
        for first in range(0, episodes, batch):
            result = play(core, {HUMAN: human, ASSISTANT: assistant}, seeds[first : first + batch], rng)
            for key, value in result.metrics.items():
                parts.setdefault(key, []).append(value)
            if record is not None:
                record.extend(recording.episode_lines(result, result.state.goal, first))
            bar.update(len(seeds[first : first + batch]))
    return {key: np.concatenate(value) for key, value in parts.items()}


def summarize(results: dict[str, dict[str, np.ndarray]], seed: int = 0) -> dict[str, dict[str, Summary]]:
    """``{row: {metric: Summary}}`` for per-episode ``results`` ``{row: {metric: [N]}}``."""
    rng = np.random.default_rng(seed)
    return {row: {key: bootstrap_ci(values, rng) for key, values in metrics.items()} for row, metrics in results.items()}


def render_table(columns: Sequence[str], rows: Iterable[Sequence[str]], labels: int = 1) -> str:
    """A Markdown table of ``columns`` and ``rows`` (a cell of text per column), the first
    ``labels`` columns left-aligned and the rest (numbers) right-aligned: every table the
    entry points write (this one, :mod:`assist.sweep`'s, ``scripts/compare.py``'s)."""
    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "---|" * labels + "---:|" * (len(columns) - labels)
    return "\n".join([head, rule, *("| " + " | ".join(row) + " |" for row in rows)])


def markdown_table(summary: dict[str, dict[str, Summary]], metrics: tuple[str, ...] = METRICS) -> str:
    """A Markdown table: one row per entry, ``mean [low, high]`` per metric."""
    rows = ([name, str(next(iter(cells.values())).n), *(cells[m].cell() for m in metrics)] for name, cells in summary.items())
    return render_table(["assistant", "episodes", *metrics], rows)


def save(directory: str | Path, summary: dict[str, dict[str, Summary]], meta: dict[str, Any]) -> None:
    """Write ``results.json`` (summary + meta) and ``results.md`` (the table) to ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data = {"meta": meta, "summary": {row: {k: s.to_dict() for k, s in cells.items()} for row, cells in summary.items()}}
    (directory / "results.json").write_text(json.dumps(data, indent=2) + "\n")
    (directory / "results.md").write_text(markdown_table(summary) + "\n")
