"""Recordings of played episodes: one documented JSONL format.

Format ``assist-recording/v1``: a UTF-8 text file, one JSON object per line.

* Line 1, the header::

    {"format": "assist-recording/v1", "game": "build", "config": {...game options...},
     "seats": {"human_0": {"player": "greedy", "person": false},
               "assistant_0": {"player": "oracle", "person": false}}}

* Every further line, one episode::

    {"episode": 0, "seed": 1234, "goal": [[...F ints...]],
     "actions": [[h, a], ...], "rewards": [r, ...], "illegal": [[false, false], ...],
     "metrics": {"goal_pct": 100.0, ...}}

  ``seed`` resets the game exactly (``core.reset(1, np.random.default_rng(seed),
  goals=goal)``); ``actions`` are the joint action ids per step (human, assistant) in
  the game's action layout; ``rewards`` the shared rewards; ``person`` says which seats a
  person played. Replaying the actions from the seed reproduces the episode.

Files are parsed as JSON only, never evaluated; a malformed file raises a ValueError
naming the file, the line and what was expected. ``docs/recordings.md`` describes the
format for users, with the tools that write and read it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from assist.rollout import Episodes

FORMAT = "assist-recording/v1"
EPISODE_KEYS = ("episode", "seed", "goal", "actions", "rewards")


class Recording(NamedTuple):
    """A parsed recording: the header dict and the episode dicts (lists as numpy arrays)."""

    header: dict[str, Any]
    episodes: list[dict[str, Any]]


def header(game: str, config: dict[str, Any], seats: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The header line of a recording."""
    return {"format": FORMAT, "game": game, "config": config, "seats": seats}


def episode_lines(episodes: Episodes, goals: np.ndarray, first: int = 0) -> list[dict[str, Any]]:
    """One JSON-ready dict per episode of a batch (``goals``: [B, F] the true goals)."""
    lines = []
    for b, length in enumerate(episodes.lengths):
        lines.append(
            {
                "episode": first + b,
                "seed": int(episodes.seeds[b]),
                "goal": goals[b].reshape(1, -1).tolist(),
                "actions": episodes.actions[:length, b].tolist(),
                "rewards": [round(float(r), 6) for r in episodes.rewards[:length, b]],
                "illegal": episodes.illegal[:length, b].tolist(),
                "metrics": {k: float(v[b]) for k, v in episodes.metrics.items()},
            }
        )
    return lines


def dumps(head: dict[str, Any], lines: list[dict[str, Any]]) -> str:
    """The text of a recording: the header line, then one line per episode."""
    return "".join(json.dumps(obj, separators=(",", ":")) + "\n" for obj in [head, *lines])


def write(path: str | Path, head: dict[str, Any], lines: list[dict[str, Any]]) -> None:
    """Write a recording (header + episode lines) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(dumps(head, lines), encoding="utf-8")
    tmp.replace(path)


def read(path: str | Path) -> Recording:
    """Parse and check a recording file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read recording {path}: {error}") from error
    rows = [line for line in text.splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"recording {path} is empty: expected a header line with format {FORMAT!r}")
    parsed = []
    for number, line in enumerate(rows, start=1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"recording {path} line {number} is not JSON: {error}") from error
        if not isinstance(obj, dict):
            raise ValueError(f"recording {path} line {number} must be a JSON object, got {type(obj).__name__}")
        parsed.append(obj)
    head = parsed[0]
    if head.get("format") != FORMAT:
        raise ValueError(f"recording {path}: header format is {head.get('format')!r}, expected {FORMAT!r}")
    for key in ("game", "config", "seats"):
        if key not in head:
            raise ValueError(f"recording {path}: header lacks {key!r}")
    for number, episode in enumerate(parsed[1:], start=2):
        missing = [key for key in EPISODE_KEYS if key not in episode]
        if missing:
            raise ValueError(f"recording {path} line {number}: episode lacks {missing}")
        actions = np.asarray(episode["actions"])
        if actions.ndim != 2 or actions.shape[1] != 2 or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(f"recording {path} line {number}: 'actions' must be a list of [human, assistant] int pairs")
        if len(episode["rewards"]) != len(actions):
            raise ValueError(f"recording {path} line {number}: {len(episode['rewards'])} rewards for {len(actions)} steps")
        episode["actions"] = actions.astype(np.int64)
        episode["rewards"] = np.asarray(episode["rewards"], np.float32)
        episode["goal"] = np.asarray(episode["goal"], np.int64)
    return Recording(head, parsed[1:])


def replay_state(core, episode: dict[str, Any]):
    """Re-run a recorded episode on ``core`` from its seed, goal and actions; its final state (B = 1)."""
    state = core.reset(1, np.random.default_rng(episode["seed"]), goals=np.asarray(episode["goal"]).reshape(1, -1))
    for joint in episode["actions"]:
        core.step(state, np.asarray(joint, np.int64)[None])
    return state


def replay(core, episode: dict[str, Any]) -> dict[str, float]:
    """The metrics of a recorded episode re-run on ``core`` (see :func:`replay_state`)."""
    return {key: float(value[0]) for key, value in core.metrics(replay_state(core, episode)).items()}
