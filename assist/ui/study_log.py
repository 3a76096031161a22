"""A study's sessions log, ``sessions.jsonl``: one JSON line per ended session, and its
summary per condition.

A line (flat, so that a spreadsheet or ``pandas.read_json(lines=True)`` reads it)::

    {"participant": "p001", "condition": "oracle", "ended": "finished",
     "joined": "2026-12-07T12:00:00Z", "duration_s": 41.2,
     "recording": "recordings/p001__oracle.jsonl",
     "goal_pct": 100.0, "human_actions": 6.0, "assistant_share": 0.7, "length": 23.0, "return": 9.0}

``ended`` is ``finished`` (the episode was played to its end), ``expired`` (the page was
gone for the study's ``idle_s``) or ``stopped`` (the server stopped first); ``duration_s``
counts from the participant's Start to the end (0 if they never started); the metrics are
the game's (:meth:`~envs.core.GameCore.metrics`) at the end. Lines are appended whole, one
write each, flushed and synced, so an interrupted study keeps every line it wrote.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from assist.evaluation import METRICS, render_table
from assist.sweep import seed_interval

FILE = "sessions.jsonl"
"""The log's name in the study folder."""
_append_lock = threading.Lock()


class SessionLine(NamedTuple):
    """One ended session: who, which condition, why it ended, when it began (UTC), seconds
    from Start to the end, its recording (relative to the study folder) and the game's metrics."""

    participant: str
    condition: str
    ended: str
    joined: str
    duration_s: float
    recording: str
    metrics: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        """The flat JSON object of the line: the fields, then the metrics."""
        fields = self._asdict()
        return {**{key: value for key, value in fields.items() if key != "metrics"}, **self.metrics}


def append(path: str | Path, line: SessionLine) -> None:
    """Append ``line`` to the log at ``path`` (created with its folders): one write, flushed
    and synced, under a lock, so lines from sessions ending together never interleave."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(line.to_json(), separators=(",", ":")) + "\n"
    with _append_lock, path.open("a", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())


def read(path: str | Path) -> list[dict[str, Any]]:
    """The log's lines as dicts; a ValueError naming the file and line for one that is not
    a JSON object with ``participant``, ``condition`` and ``ended``."""
    lines = []
    for number, text in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except ValueError as error:
            raise ValueError(f"{path}, line {number}: not JSON ({error})") from None
        if not isinstance(obj, dict) or not {"participant", "condition", "ended"} <= set(obj):
            raise ValueError(f"{path}, line {number}: expected a session line with participant, condition and ended")
        lines.append(obj)
    return lines


def summary_table(lines: Sequence[dict[str, Any]], metrics: Sequence[str] | None = None) -> str:
    """A Markdown table, one row per condition (in the order they first appear): the
    finished sessions' count, then per metric their mean with a Student-t 95% interval over
    sessions (:func:`assist.sweep.seed_interval`: none for fewer than two), and the count of
    sessions that did not finish. ``metrics``: the columns (default: the standard ones the
    lines have, and ``duration_s``); a metric no line has is a ValueError naming the present ones."""
    present = {key for line in lines for key, value in line.items() if isinstance(value, (int, float)) and not isinstance(value, bool)}
    if metrics:
        unknown = sorted(set(metrics) - present)
        if unknown:
            raise ValueError(f"metric(s) {unknown} are in no session line; present: {sorted(present)}")
    else:
        metrics = [metric for metric in (*METRICS, "duration_s") if metric in present]
    conditions = list(dict.fromkeys(line["condition"] for line in lines))
    rows = []
    for condition in conditions:
        finished = [line for line in lines if line["condition"] == condition and line["ended"] == "finished"]
        others = sum(line["condition"] == condition for line in lines) - len(finished)
        cells = [seed_interval(values).cell() if (values := [line[m] for line in finished if m in line]) else "" for m in metrics]
        rows.append([condition, str(len(finished)), *cells, str(others)])
    return render_table(["condition", "finished", *metrics, "not finished"], rows)
