"""The game-core contract shared by every game (docs/design.md, contract 1).

A game core is a pure, batched description of an assistance game's rules. Its state
is a dataclass of numpy arrays with a leading batch dimension ``B``; ``step`` mutates
the state in place and applies both players' actions at once in a fixed order (the
human's first). The true goal lives in the state (``state.goal``, ``[B, F]`` ints: one
value per goal factor) and is read only by ``step``'s true reward, by the human's
observation, and by players that are explicitly privileged (the oracle).

Planners never read the goal. They hold a *belief*: a factorized distribution over
goals, ``[B, F, K]`` probabilities (a categorical with ``K`` values per factor), and
ask the core for the expected reward of a transition under it
(:meth:`GameCore.expected_reward`). The true reward is the same function evaluated at
the one-hot belief of the true goal, so the two can never disagree.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from typing import ClassVar, NamedTuple, Protocol, runtime_checkable

import numpy as np
from gymnasium import spaces

HUMAN = "human_0"
ASSISTANT = "assistant_0"
AGENTS: tuple[str, str] = (HUMAN, ASSISTANT)
"""Seats in processing order: the human's action is applied before the assistant's."""


def by_name_or_path(table: Mapping[str, Callable], name: str, what: str) -> Callable:
    """``table[name]``, or else the class or function at the import path ``name``
    (``package.module:Name``) of a module of the user's own: how every kind of extension
    (players, kitchen variants, human models) is chosen. A ValueError says what is wrong
    (``what``: e.g. ``"player"``), listing the names of ``table``."""
    if name in table:
        return table[name]
    module_name, colon, attribute = name.partition(":")
    if not (module_name and colon and attribute):
        raise ValueError(f"unknown {what} {name!r}; valid {what}s: {sorted(table)}, or an import path package.module:Name of your own")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"{what} {name!r}: cannot import {module_name!r} ({error}); put its folder on PYTHONPATH") from error
    found = module
    for part in attribute.split("."):
        found = getattr(found, part, None)
    if not callable(found):
        raise ValueError(f"{what} {name!r}: {module_name} has no class or function {attribute!r}")
    return found


def seat_index(agent: str) -> int:
    """Index of ``agent`` in :data:`AGENTS`; a clear error for any other name."""
    try:
        return AGENTS.index(agent)
    except ValueError:
        raise ValueError(f"unknown agent {agent!r}; the agents are {list(AGENTS)}") from None


@dataclasses.dataclass
class BatchState:
    """Base for game states: every field is a numpy array with leading dimension B.

    ``take`` and ``put`` index rows, which is how a search tree keeps one state per node
    and how an evaluator freezes finished games.
    """

    @property
    def batch_size(self) -> int:
        return len(getattr(self, dataclasses.fields(self)[0].name))

    def take(self, rows: np.ndarray) -> BatchState:
        """A new state holding copies of ``rows`` (an int index array or bool mask)."""
        return type(self)(**{f.name: getattr(self, f.name)[rows] for f in dataclasses.fields(self)})

    def put(self, rows: np.ndarray, other: BatchState) -> None:
        """Write ``other``'s rows (``len(rows)`` of them) into ``rows`` of this state."""
        for f in dataclasses.fields(self):
            getattr(self, f.name)[rows] = getattr(other, f.name)

    @classmethod
    def concat(cls, states: list[BatchState]) -> BatchState:
        """One state holding the rows of ``states`` in order."""
        return cls(**{f.name: np.concatenate([getattr(s, f.name) for s in states]) for f in dataclasses.fields(cls)})

    def copy(self) -> BatchState:
        return type(self)(**{f.name: getattr(self, f.name).copy() for f in dataclasses.fields(self)})


class StepResult(NamedTuple):
    """What ``GameCore.step`` returns for a batch of B games.

    reward: [B] float32, the shared reward (sum of ``reward_parts``).
    reward_parts: [B, 2] float32, each seat's part in processing order (human, assistant).
    terminated: [B] bool, the goal was reached (true-goal dependent).
    truncated: [B] bool, the horizon was reached.
    illegal: [B, 2] bool, a seat's action was illegal (or became illegal after the
        other's move) and was applied as a no-op.
    transition: game-specific goal-free record of what changed, the input of
        :meth:`GameCore.expected_reward`.
    """

    reward: np.ndarray
    reward_parts: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    illegal: np.ndarray
    transition: NamedTuple


@runtime_checkable
class GameCore(Protocol):
    """The batched rules of one assistance game (see the module docstring)."""

    name: ClassVar[str]
    horizon: int
    """Maximum episode length in steps."""
    discount: float | None
    """The per-step discount of the game's return, in (0, 1], where the game defines one
    (its ``return`` metric and exact solvers use it, and a search takes it as its default);
    None where the return is the plain sum and the discount is the learner's choice."""
    goal_shape: tuple[int, int]
    """(F, K): F goal factors, each a categorical over K values."""
    options: dict
    """The options that make this game again, ``envs.make_core(name, **options)`` (JSON
    values): what a recording's header holds."""

    def num_actions(self, agent: str) -> int:
        """Size of ``agent``'s flat discrete action space."""

    def reset(self, batch: int, rng: np.random.Generator, goals: np.ndarray | None = None) -> BatchState:
        """Fresh states for ``batch`` games; goals ``[batch, F]`` are sampled when None."""

    def step(self, state: BatchState, actions: np.ndarray) -> StepResult:
        """Apply ``actions`` ([B, 2] ints, human then assistant) in place.

        Finished rows (``state.done``) are left unchanged with zero reward. An action that
        is illegal now, or not an action id at all (outside ``[0, num_actions)``), is
        applied as a no-op and flagged in ``StepResult.illegal``; an array that is not
        [B, 2] integers raises ValueError (:func:`check_actions`).
        """

    def legal_mask(self, state: BatchState, agent: str) -> np.ndarray:
        """[B, A] bool: the actions ``agent`` may take now."""

    def conceal_goal(self, state: BatchState) -> None:
        """Overwrite the true goal in ``state`` with a fixed placeholder, in place.

        Planners simulate on concealed copies: ``step`` stays valid, termination no longer
        depends on the goal, and the true rewards it reports are meaningless (planners use
        :meth:`expected_reward` under their belief instead)."""

    def observe(self, state: BatchState, agent: str) -> dict[str, np.ndarray]:
        """``agent``'s observation: arrays with leading dimension B, matching
        :meth:`observation_space` row by row. Only the human's holds the goal."""

    def observation_space(self, agent: str) -> spaces.Dict:
        """The space of one game's observation for ``agent`` (built once)."""

    def observed_goal_factors(self, observation: dict[str, np.ndarray]) -> np.ndarray | None:
        """[B, F] int64: each goal factor's current value as ``observation`` (B games, any
        seat's) shows it, in games whose goal is a target state of the world (the game is
        won when every factor's current value is the goal's); None in games whose goal is
        not part of the world. Models use it as evidence: what is built is likely wanted."""

    def observed_goal_owners(self, observation: dict[str, np.ndarray]) -> np.ndarray | None:
        """[B, F] int64: who last changed each goal factor's value, as ``observation`` shows
        it: 0 nobody (its value is the start's), 1 the human, 2 the assistant (the seat's
        index + 1; :data:`OWNERS` values in all); None where :meth:`observed_goal_factors`
        is. What the assistant built is no evidence that it is wanted."""

    def expected_reward(self, transition: NamedTuple, belief: np.ndarray) -> np.ndarray:
        """[B, 2] float: each seat's expected reward for ``transition`` under ``belief``
        ([B, F, K] probabilities over goal factors)."""

    def expected_action_rewards(self, state: BatchState, agent: str, belief: np.ndarray) -> np.ndarray:
        """[B, A] float32: the expected immediate reward of each action of ``agent`` acting
        alone now, under ``belief`` ([B, F, K] probabilities, or anything indexable like
        it); ``-inf`` where illegal. Planners use it to find promising actions the policy
        prior has not learned yet."""

    def metrics(self, state: BatchState) -> dict[str, np.ndarray]:
        """Per-game episode metrics, each [B] (goal_pct, human_actions, assistant_share, length, ...)."""

    def action_names(self, agent: str) -> list[str]:
        """Short, unique, whitespace-normalized text of every action of ``agent`` (index =
        action id): the text codec's vocabulary of actions."""

    def describe_observation(self, observation: dict[str, np.ndarray], agent: str) -> str:
        """A compact prompt an LM can read, from one game's observation (no batch axis)."""

    def render_ansi(self, state: BatchState, row: int = 0, goal: bool = True) -> str:
        """A text picture of game ``row``; ``goal=False`` leaves out the goal and the
        progress or return that would reveal it (for a person in the assistant's seat)."""

    def render_rgb(self, state: BatchState, row: int = 0) -> np.ndarray:
        """An [H, W, 3] uint8 picture of game ``row``."""


class ScriptedGame(GameCore, Protocol):
    """A game core that also values actions toward a known goal: what the scripted humans
    and the oracle (``assist.players.scripted``) act on. Heuristics, not rules, so they
    are no part of :class:`GameCore`; a core may also offer ``chat_hint(state)`` ([B]
    int64, the human's most useful message action, -1 for none), which scripted humans
    then speak."""

    def goal_action_values(self, state: BatchState, agent: str, goal: np.ndarray, fix_others: bool = True) -> np.ndarray:
        """[B, A] float: how good each action is for ``agent`` pursuing ``goal`` ([B, F])
        as if acting alone; illegal actions get ``-inf``. ``fix_others``: also value
        undoing the other seat's mistakes."""


OWNERS = 3
"""How many values :meth:`GameCore.observed_goal_owners` takes: nobody, the human, the assistant."""


def check_actions(actions, batch: int) -> np.ndarray:
    """``actions`` as a [batch, 2] int64 array (human, assistant); a ValueError saying what
    was passed if it is not integers of that shape (a caller's bug: ids out of range are
    the cores' flagged no-ops instead)."""
    array = np.asarray(actions)
    if array.shape != (batch, 2) or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"actions must be an int array [B, 2] = [{batch}, 2] (human, assistant); got {array.dtype} {list(array.shape)}")
    return array.astype(np.int64, copy=False)


def one_hot_belief(goal: np.ndarray, num_values: int) -> np.ndarray:
    """[B, F, K] float32 one-hot belief of a goal array ``[B, F]`` of ints in [0, K)."""
    belief = np.zeros(goal.shape + (num_values,), dtype=np.float32)
    np.put_along_axis(belief, goal[..., None].astype(np.intp), 1.0, axis=-1)
    return belief


class ActionParseError(ValueError):
    """A text is not an action; the message says why and what would be valid."""


class IllegalActionError(ValueError):
    """Raised by ``strict`` environments when an agent takes an illegal action."""
