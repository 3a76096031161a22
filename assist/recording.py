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

Files are parsed as JSON only, never evaluated, and every line is checked before it is
used (:func:`read`; against the game it is replayed on when that is given): a malformed
file raises a ValueError naming the file, the line and what was expected.
``docs/recordings.md`` describes the format for users, with the tools that write and read it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

import envs.building
from assist.rollout import Episodes
from envs.core import AGENTS, GameCore

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


def read(path: str | Path, core: GameCore | None = None) -> Recording:
    """Parse and check a recording file.

    Checked, in order: the header (a known game; options that are a JSON object; for
    build, options the game accepts and a world of at most
    :data:`~envs.building.goals.MAX_VOXELS` voxels, so building the game from the header
    cannot allocate gigabytes), then each episode line (:func:`_check_episode`): its
    structure, and, when ``core`` (the game the recording is replayed on) is given, its
    action ids and goal against that game. Every error is a ValueError naming the file
    and the line.
    """
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
        except RecursionError:
            raise ValueError(f"recording {path} line {number} is nested too deeply to parse as JSON") from None
        if not isinstance(obj, dict):
            raise ValueError(f"recording {path} line {number} must be a JSON object, got {type(obj).__name__}")
        parsed.append(obj)
    head = parsed[0]
    if head.get("format") != FORMAT:
        raise ValueError(f"recording {path}: header format is {head.get('format')!r}, expected {FORMAT!r}")
    for key in ("game", "config", "seats"):
        if key not in head:
            raise ValueError(f"recording {path}: header lacks {key!r}")
    _check_game(path, head["game"], head["config"])
    for number, episode in enumerate(parsed[1:], start=2):
        _check_episode(f"recording {path} line {number}", episode, core)
    return Recording(head, parsed[1:])


def read_game(path: str | Path) -> tuple[Recording, GameCore]:
    """A recording (:func:`read`) and the game its header makes, every episode checked
    against that game as ``read(path, core)`` checks it (ValueErrors name the file and line)."""
    rec = read(path)  # the header is checked before its game is built
    core = envs.make_core(rec.header["game"], **rec.header["config"])
    for number, episode in enumerate(rec.episodes, start=2):
        _check_episode(f"recording {path} line {number}", episode, core)
    return rec, core


def _check_game(path: Path, game: Any, config: Any) -> None:
    """A ValueError unless a header's ``game`` and ``config`` can make a game without
    allocating more than a world of :data:`~envs.building.goals.MAX_VOXELS` voxels needs.
    Nothing is built: a build config is checked as :class:`~envs.building.BuildConfig`, which
    refuses a larger world."""
    if game not in envs.GAMES:
        raise ValueError(f"recording {path}: header game is {game!r}, expected one of {list(envs.GAMES)}")
    if not isinstance(config, dict):
        raise ValueError(
            f"recording {path}: header config is a {type(config).__name__}, expected an object of the game's options "
            f'such as {{"preset": "tiny"}}'
        )
    if game == "build":
        try:
            envs.building.make_config(**config)
        except (TypeError, ValueError) as error:
            raise ValueError(f"recording {path}: header config {config} does not make a build game: {error}") from None


def _ints(value: Any) -> np.ndarray | None:
    """``value`` as an integer array (booleans, floats and strings are not), else None."""
    try:
        array = np.asarray(value)
    except ValueError:  # ragged lists
        return None
    return array if array.dtype.kind in "iu" else None


def _check_episode(where: str, episode: dict[str, Any], core: GameCore | None) -> None:
    """Check one episode line and turn its lists into arrays, in place.

    seed: an int >= 0. actions: [T, 2] int ids >= 0 (a negative id is never read from the
    end). rewards: [T] finite numbers. goal: [[F ints >= 0]]. Given ``core``, also: each
    action id inside its seat's action space, and a goal of ``core.goal_shape[0]`` ids that
    ``core.reset`` accepts. ``where`` ("recording <path> line <n>") starts every error.
    """
    missing = [key for key in EPISODE_KEYS if key not in episode]
    if missing:
        raise ValueError(f"{where}: episode lacks {missing}")
    seed = episode["seed"]
    if not (isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0):
        raise ValueError(f"{where}: seed is {seed!r}, expected an int >= 0 (numpy.random.default_rng's seed)")
    actions = _ints(episode["actions"])
    if actions is None or actions.ndim != 2 or actions.shape[1] != 2:
        raise ValueError(f"{where}: 'actions' must be a list of [human, assistant] int pairs")
    if (actions < 0).any():
        step, column = (int(i) for i in np.argwhere(actions < 0)[0])
        raise ValueError(f"{where}: {AGENTS[column]}'s action id {actions[step, column]} at step {step} is negative; ids are >= 0")
    sizes = np.array([core.num_actions(seat) for seat in AGENTS]) if core is not None else None
    if sizes is not None and (actions >= sizes).any():
        step, column = (int(i) for i in np.argwhere(actions >= sizes)[0])
        raise ValueError(
            f"{where}: {AGENTS[column]}'s action id {actions[step, column]} at step {step} is outside its action space "
            f"[0, {sizes[column]})"
        )
    try:
        rewards = np.asarray(episode["rewards"], np.float32)
    except (TypeError, ValueError):
        rewards = None
    if rewards is None or rewards.ndim != 1 or not np.isfinite(rewards).all():
        raise ValueError(f"{where}: 'rewards' must be a list of finite numbers, one per step")
    if len(rewards) != len(actions):
        raise ValueError(f"{where}: {len(rewards)} rewards for {len(actions)} steps")
    goal = _ints(episode["goal"])
    factors = "F" if core is None else core.goal_shape[0]
    if goal is None or goal.ndim != 2 or len(goal) != 1 or (core is not None and goal.shape[1] != factors):
        got = "values that are not all ints" if goal is None else f"shape {list(goal.shape)}"
        raise ValueError(f"{where}: 'goal' must be [[{factors} ints]], one id per goal factor of the game; got {got}")
    if (goal < 0).any():
        raise ValueError(f"{where}: 'goal' holds the negative id {goal.min()}; ids are >= 0")
    if core is not None:
        try:
            core.reset(1, np.random.default_rng(seed), goals=goal)
        except ValueError as error:
            raise ValueError(f"{where}: 'goal' is not a goal of this game: {error}") from None
    episode["actions"] = actions.astype(np.int64)
    episode["rewards"] = rewards
    episode["goal"] = goal.astype(np.int64)


def replay_state(core, episode: dict[str, Any]):
    """Re-run a recorded episode on ``core`` from its seed, goal and actions; its final state (B = 1)."""
    state = core.reset(1, np.random.default_rng(episode["seed"]), goals=np.asarray(episode["goal"]).reshape(1, -1))
    for joint in episode["actions"]:
        core.step(state, np.asarray(joint, np.int64)[None])
    return state


class SeatSteps(NamedTuple):
    """N steps of one seat in replayed episodes, in episode order.

    observation: the seat's observations, arrays with leading N.
    legal: [N, A] bool. action: [N] int64 the seat's action where it was legal when chosen,
    else the no-op (0, what the game applied). An action legal when chosen is kept even
    where the other seat's action, processed first, made it a no-op: it is what the seat
    decided. episode: [N] int64 the episode's index in the list.
    goal: [N, F] int64 the true goal. reward: [N] float32 the shared reward of the step.
    ends: [N] bool the step is its episode's last.
    """

    observation: dict[str, np.ndarray]
    legal: np.ndarray
    action: np.ndarray
    episode: np.ndarray
    goal: np.ndarray
    reward: np.ndarray
    ends: np.ndarray


def seat_steps(core, episodes: list[dict[str, Any]], seat: str) -> SeatSteps:
    """Every step of ``seat`` in the recorded ``episodes`` (dicts of this format, e.g.
    from :func:`read` or ``evaluation.evaluate(record=...)``), re-run on ``core``."""
    column = AGENTS.index(seat)
    observations, legal, actions, number, goals, rewards, ends = [], [], [], [], [], [], []
    for index, episode in enumerate(episodes):
        goal = np.asarray(episode["goal"]).reshape(1, -1)
        state = core.reset(1, np.random.default_rng(episode["seed"]), goals=goal)
        for step, joint in enumerate(episode["actions"]):
            observations.append(core.observe(state, seat))
            legal.append(core.legal_mask(state, seat)[0])
            action = int(joint[column])  # outside the space (negative too): the no-op, as the game applies it
            actions.append(action if 0 <= action < len(legal[-1]) and legal[-1][action] else 0)
            result = core.step(state, np.asarray(joint, np.int64)[None])
            rewards.append(float(result.reward[0]))
            ends.append(step == len(episode["actions"]) - 1)
            number.append(index)
            goals.append(goal[0])
    if not actions:
        raise ValueError(f"the {len(episodes)} episodes hold no steps")
    stacked = {key: np.concatenate([o[key] for o in observations]) for key in observations[0]}
    return SeatSteps(
        stacked,
        np.stack(legal),
        np.asarray(actions, np.int64),
        np.asarray(number, np.int64),
        np.stack(goals).astype(np.int64),
        np.asarray(rewards, np.float32),
        np.asarray(ends, bool),
    )


def replay(core, episode: dict[str, Any]) -> dict[str, float]:
    """The metrics of a recorded episode re-run on ``core`` (see :func:`replay_state`)."""
    return {key: float(value[0]) for key, value in core.metrics(replay_state(core, episode)).items()}
