"""Finite two-seat assistance games as tables: the rules every kitchen variant is written in.

Sizes: ``S`` states, ``K`` goals, ``A_H`` human actions, ``A_R`` assistant actions,
``T`` the horizon (steps), ``F`` display features.

One step, in processing order (the human first, docs/design.md, contract 1):

1. The human takes ``a_h`` in state ``s`` (an illegal one is replaced by the no-op 0):
   reward ``human_reward[s, a_h, goal]``, intermediate state ``s1 = human_next[s, a_h]``.
2. The assistant's ``a_r`` was chosen *before* seeing ``a_h`` (it has seen every earlier
   human action). It is applied in ``s1`` if ``assistant_legal[s1, a_r]``, else replaced
   by the no-op 0: reward ``assistant_reward[s1, a_r, goal]``, next state
   ``s2 = assistant_next[s1, a_r]``.
3. The episode ends when ``terminal[s2]`` or after ``T`` steps.

The return is ``sum_t discount**t * (human reward + assistant reward)`` over the steps
``t = 0, 1, ...`` (both rewards of one step share its ``t``): what the exact solvers
(:mod:`envs.kitchen.solver`), the human models' planning (:mod:`envs.kitchen.humans`), the
``return`` metric and, by default, the search (:meth:`SearchConfig.for_game`) use.
``discount`` 1 (the default) is the plain sum.

Action 0 of each seat is its no-op ("wait"): always legal, and what an illegal action
becomes. It usually leaves the state unchanged, but a game may let time pass on it
(``red_blue``: the human's one chance to make an item passes when it waits). A table may
write its wait at another index (``human_wait`` / ``assistant_wait``): the game then
stores that seat's actions with the wait moved to index 0 and the others after it in their
order, so every player, recording and solver keeps the one rule that 0 waits.
Transitions never depend on the goal; rewards do. Terminal states are absorbing: only the
no-op is legal there, it stays put and is worth 0.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class TabularGame:
    """A finite assistance game (see the module docstring for one step's semantics).

    Tables are converted to read-only numpy arrays on construction and validated; an
    inconsistent table raises ``ValueError`` naming the table, what was found and what
    was expected.

    Attributes:
        name: the variant's name, e.g. ``"red_blue"``.
        state_names: [S] short descriptions of the states (used in prompts and renders).
        goal_names: [K] names of the goals.
        prior: [K] float64 probabilities of the goals (sums to 1).
        human_action_names / assistant_action_names: [A_H] / [A_R] unique action texts;
            index 0 is the no-op (after the reordering ``*_wait`` asks for).
        horizon: T >= 1 steps.
        discount: the per-step discount of the return, in (0, 1] (see the module docstring).
        initial_state: the state every episode starts in (not terminal).
        human_next: [S, A_H] int64 next state after the human's action.
        human_reward: [S, A_H, K] float64 reward of the human's action per goal.
        human_legal: [S, A_H] bool; column 0 all True.
        assistant_next: [S, A_R] int64, indexed by the intermediate state.
        assistant_reward: [S, A_R, K] float64, indexed by the intermediate state.
        assistant_legal: [S, A_R] bool; column 0 all True.
        terminal: [S] bool; None means no terminal states.
        feature_names: [F] names of the display features.
        features: [S, F] int64 >= 0 per-state counts drawn as bars by renders
            (e.g. items made, ingredients in the bowl); None means no features.
        human_wait / assistant_wait: the index, in the tables as given, of the seat's wait
            (default 0); the stored tables have it moved to 0 (module docstring).
    """

    name: str
    state_names: tuple[str, ...]
    goal_names: tuple[str, ...]
    prior: np.ndarray
    human_action_names: tuple[str, ...]
    assistant_action_names: tuple[str, ...]
    horizon: int
    initial_state: int
    human_next: np.ndarray
    human_reward: np.ndarray
    human_legal: np.ndarray
    assistant_next: np.ndarray
    assistant_reward: np.ndarray
    assistant_legal: np.ndarray
    terminal: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()
    features: np.ndarray | None = None
    discount: float = 1.0
    human_wait: int = 0
    assistant_wait: int = 0

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        for field in ("state_names", "goal_names", "human_action_names", "assistant_action_names", "feature_names"):
            set_(field, _names(self.name, field, getattr(self, field), allow_empty=field == "feature_names"))
        for seat in ("human", "assistant"):
            self._move_wait_first(seat)
        S, K = len(self.state_names), len(self.goal_names)
        A_H, A_R = len(self.human_action_names), len(self.assistant_action_names)
        F = len(self.feature_names)
        if not isinstance(self.horizon, (int, np.integer)) or self.horizon < 1:
            raise ValueError(f"{self.name}: horizon={self.horizon!r} must be an int >= 1")
        set_("horizon", int(self.horizon))
        if isinstance(self.discount, bool) or not isinstance(self.discount, (int, float, np.floating)) or not 0.0 < self.discount <= 1.0:
            raise ValueError(f"{self.name}: discount={self.discount!r} must be a number in (0, 1] (1: the plain sum of rewards)")
        set_("discount", float(self.discount))
        set_("prior", _table(self.name, "prior", self.prior, (K,), np.float64))
        if np.any(self.prior < 0) or not np.isclose(self.prior.sum(), 1.0, rtol=0, atol=1e-9):
            raise ValueError(f"{self.name}: prior={self.prior.tolist()} must be non-negative and sum to 1")
        for seat, A in (("human", A_H), ("assistant", A_R)):
            nxt = _table(self.name, f"{seat}_next", getattr(self, f"{seat}_next"), (S, A), np.int64)
            if np.any((nxt < 0) | (nxt >= S)):
                raise ValueError(f"{self.name}: {seat}_next holds states outside [0, {S})")
            legal = _table(self.name, f"{seat}_legal", getattr(self, f"{seat}_legal"), (S, A), np.bool_)
            if not legal[:, 0].all():
                bad = self.state_names[int(np.argmin(legal[:, 0]))]
                raise ValueError(f"{self.name}: the {seat}'s no-op (action 0) must be legal in every state; it is not in {bad!r}")
            set_(f"{seat}_next", nxt)
            set_(f"{seat}_legal", legal)
            set_(f"{seat}_reward", _table(self.name, f"{seat}_reward", getattr(self, f"{seat}_reward"), (S, A, K), np.float64))
        terminal = np.zeros(S, bool) if self.terminal is None else self.terminal
        set_("terminal", _table(self.name, "terminal", terminal, (S,), np.bool_))
        features = np.zeros((S, 0), np.int64) if self.features is None else self.features
        set_("features", _table(self.name, "features", features, (S, F), np.int64))
        if np.any(self.features < 0):
            raise ValueError(f"{self.name}: features must be >= 0 (they are drawn as bar heights)")
        if not isinstance(self.initial_state, (int, np.integer)) or not 0 <= self.initial_state < S:
            raise ValueError(f"{self.name}: initial_state={self.initial_state!r} must be a state index in [0, {S})")
        set_("initial_state", int(self.initial_state))
        if self.terminal[self.initial_state]:
            raise ValueError(f"{self.name}: the initial state {self.state_names[self.initial_state]!r} is terminal")
        self._check_terminal_absorbing()

    def _move_wait_first(self, seat: str) -> None:
        """Reorder ``seat``'s actions so that its wait (``<seat>_wait``) is action 0, the
        others after it in their order; ``<seat>_wait`` is then 0."""
        names = getattr(self, f"{seat}_action_names")
        wait = getattr(self, f"{seat}_wait")
        if isinstance(wait, bool) or not isinstance(wait, (int, np.integer)) or not 0 <= wait < len(names):
            raise ValueError(f"{self.name}: {seat}_wait={wait!r} must be the index of one of the {seat}'s actions {list(names)}")
        if wait == 0:
            return
        order = [int(wait), *(a for a in range(len(names)) if a != wait)]
        set_ = functools.partial(object.__setattr__, self)
        set_(f"{seat}_action_names", tuple(names[a] for a in order))
        for part in ("next", "legal", "reward"):
            table = np.asarray(getattr(self, f"{seat}_{part}"))
            if table.ndim < 2 or table.shape[1] != len(names):
                raise ValueError(f"{self.name}: {seat}_{part} has shape {table.shape}; its axis 1 must be the {len(names)} {seat} actions")
            set_(f"{seat}_{part}", table[:, order])
        set_(f"{seat}_wait", 0)

    def _check_terminal_absorbing(self) -> None:
        ends = np.flatnonzero(self.terminal)
        for seat in ("human", "assistant"):
            legal, nxt, reward = (getattr(self, f"{seat}_{part}") for part in ("legal", "next", "reward"))
            for s in ends:
                if legal[s, 1:].any() or nxt[s, 0] != s or np.any(reward[s, 0] != 0):
                    raise ValueError(
                        f"{self.name}: terminal state {self.state_names[s]!r} must be absorbing for the {seat}: "
                        "only the no-op legal, the no-op staying in the state, and worth 0"
                    )

    @property
    def num_states(self) -> int:
        return len(self.state_names)

    @property
    def num_goals(self) -> int:
        return len(self.goal_names)

    @property
    def num_human_actions(self) -> int:
        return len(self.human_action_names)

    @property
    def num_assistant_actions(self) -> int:
        return len(self.assistant_action_names)

    @functools.cached_property
    def assistant_choosable(self) -> np.ndarray:
        """[S, A_R] bool: the assistant's choices in state ``s``: the actions legal after
        at least one of the human's legal moves from ``s`` (the no-op always is). The
        assistant's action mask; one that turns out illegal after the human's actual move is
        applied as the no-op."""
        after = self.assistant_legal[self.human_next]  # [S, A_H, A_R]
        return _readonly((after & self.human_legal[:, :, None]).any(axis=1))

    @functools.cached_property
    def assistant_applied(self) -> np.ndarray:
        """[S, A_R] int64: the assistant action actually applied in intermediate state
        ``s1`` (the action itself if legal there, else the no-op 0)."""
        actions = np.arange(self.num_assistant_actions)[None, :]
        return _readonly(np.where(self.assistant_legal, actions, 0))

    @functools.cached_property
    def assistant_next_applied(self) -> np.ndarray:
        """[S, A_R] int64: the next state after choosing ``a_r`` in intermediate state ``s1``."""
        return _readonly(np.take_along_axis(self.assistant_next, self.assistant_applied, axis=1))

    @functools.cached_property
    def assistant_reward_applied(self) -> np.ndarray:
        """[S, A_R, K] float64: the reward of choosing ``a_r`` in intermediate state ``s1``."""
        return _readonly(np.take_along_axis(self.assistant_reward, self.assistant_applied[:, :, None], axis=1))


def _names(game: str, field: str, names, allow_empty: bool) -> tuple[str, ...]:
    names = tuple(names)
    if not names and not allow_empty:
        raise ValueError(f"{game}: {field} is empty; give at least one name")
    if not all(isinstance(n, str) and n.strip() for n in names):
        raise ValueError(f"{game}: {field} must be non-empty strings, got {names!r}")
    normalized = [" ".join(n.lower().split()) for n in names]
    if len(set(normalized)) != len(names):
        raise ValueError(f"{game}: {field} must be unique (ignoring case and spacing), got {names!r}")
    return names


def _table(game: str, field: str, value, shape: tuple[int, ...], dtype) -> np.ndarray:
    array = np.asarray(value)
    if array.shape != shape:
        raise ValueError(f"{game}: {field} has shape {array.shape}, expected {shape}")
    if dtype is np.float64:
        if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
            raise ValueError(f"{game}: {field} must hold finite numbers")
    elif dtype is np.int64:
        if not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"{game}: {field} must hold integers, got dtype {array.dtype}")
    elif array.dtype != np.bool_:
        raise ValueError(f"{game}: {field} must be a bool array, got dtype {array.dtype}")
    return _readonly(array.astype(dtype))


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.array(array)
    array.setflags(write=False)
    return array
