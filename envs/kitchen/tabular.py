"""Finite two-seat assistance games as tables: the rules every kitchen variant is written in.

Sizes: ``S`` states, ``K`` goals, ``A_H`` human actions, ``A_R`` assistant actions,
``T`` the horizon (steps), ``N`` the most outcomes of one action (1 without chance),
``F`` display features.

One step ``t``. Both seats choose at its start, each knowing what was there to see by then;
the *first mover* (``first``: ``"human"``, the default, or ``"assistant"``) is applied first,
the second mover in the state the first one left:

1. The first mover takes its action ``a`` in ``s`` (an illegal one becomes its wait, 0):
   reward ``<first>_reward[s, a, goal]``, intermediate state ``s1`` drawn from
   ``<first>_next[s, a]`` (see *Chance*).
2. The second mover's action is applied in ``s1`` if legal there (``<second>_legal[s1]``),
   else as its wait: reward ``<second>_reward[s1, a, goal]``, next state ``s2`` drawn
   from ``<second>_next[s1, a]``.
3. The episode ends when ``terminal[s2]`` or after ``T`` steps.

What each seat knows when it chooses at step ``t``: the human knows the goal. The assistant
never does; it has seen the state ``s`` and every human action of the steps before ``t``,
each with the state it was taken in (so the human's action of step ``t`` only from step
``t + 1`` on). With ``first="human"`` the assistant chooses before seeing what the human
does in this step. With ``first="assistant"`` the human *responds within the step*: its
model is evaluated in ``s1``, the state after the assistant's action, so a game whose
``s1`` records that action (an ``asked`` state) lets the human answer a query at once, and
the human conditions on the assistant's action of this step as in the simultaneous-move
formulation of Shah et al. (2020), where the human's policy takes the robot's action of
the same step and the robot sees the human's action at the next one. Human models
(:mod:`envs.kitchen.humans`) index their tables by the state the human acts in: ``s``
human-first, ``s1`` assistant-first. The env plays an assistant-first game in two turns per
step (:mod:`envs.kitchen.turns`), with the same values.

Chance: ``<seat>_next`` [S, A] names one next state (the simple, deterministic case), or,
with ``<seat>_next_prob`` given, ``<seat>_next`` [S, A, N] names N outcomes and
``<seat>_next_prob`` [S, A, N] their probabilities (non-negative, summing to 1 over N;
repeat an outcome or give it probability 0 to pad). Players of the env draw the outcome
from the episode's chance stream (:mod:`envs.kitchen.core`); the solvers take the
expectation. Rewards are those of the action (they do not depend on the outcome).

A game may also pay a reward for the step itself, ``time_reward[t]`` at every step ``t``
the episode is still on, whatever the seats do (a cost of time: ``classic_cake_or_pie``'s
``-0.01 t``); it counts in the assistant's part of the return.

The return is ``sum_t discount**t * (human reward + assistant reward + time_reward[t])`` over
the steps ``t = 0, 1, ...`` (both rewards of one step share its ``t``): what the exact solvers
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
no-op is legal there, it stays put (with probability 1) and is worth 0.

A game may bring its own human, a rule rather than a plan (the classic games' humans
answer when asked): ``scripted_human`` [T, S, K, A_H], the probabilities of the human's
actions at step ``t`` in the state it acts in, per goal; the human model ``scripted``
(:mod:`envs.kitchen.humans`) plays it.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

SEATS = ("human", "assistant")
"""The seats by their table prefixes, in the default order of a step."""


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
        human_next: [S, A_H] int64 next state after the human's action, or [S, A_H, N]
            its possible outcomes when ``human_next_prob`` is given (module docstring).
        human_reward: [S, A_H, K] float64 reward of the human's action per goal.
        human_legal: [S, A_H] bool; column 0 all True.
        assistant_next / assistant_reward / assistant_legal: the same for the assistant,
            indexed by the state it acts in (the intermediate one when the human is first).
        human_next_prob / assistant_next_prob: [S, A, N] float64 probabilities of the
            outcomes in ``<seat>_next``; None (the default): deterministic.
        first: ``"human"`` (the default) or ``"assistant"``, the seat applied first in a
            step (module docstring: the second one acts in the state the first one left).
        scripted_human: [T, S, K, A_H] float64, the game's own human (module docstring);
            None: the game has none.
        terminal: [S] bool; None means no terminal states.
        feature_names: [F] names of the display features.
        features: [S, F] int64 >= 0 per-state counts drawn as bars by renders
            (e.g. items made, ingredients in the bowl); None means no features.
        time_reward: [T] float64, the reward of step ``t`` itself (module docstring);
            None (the default): 0.
        state_inputs: [S, E] float64, what a learned model reads of each state: any
            finite features, e.g. one-hot parts of a factored state (positions, hands,
            contents), so that a network generalizes across states and its input does
            not grow with S; None (the default): the state's one-hot id.
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
    human_next_prob: np.ndarray | None = None
    assistant_next_prob: np.ndarray | None = None
    first: str = "human"
    scripted_human: np.ndarray | None = None
    time_reward: np.ndarray | None = None
    state_inputs: np.ndarray | None = None

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
        if self.first not in SEATS:
            raise ValueError(f"{self.name}: first={self.first!r} must be one of {list(SEATS)} (the seat applied first in a step)")
        for seat, A in (("human", A_H), ("assistant", A_R)):
            self._check_next(seat, S, A)
            legal = _table(self.name, f"{seat}_legal", getattr(self, f"{seat}_legal"), (S, A), np.bool_)
            if not legal[:, 0].all():
                bad = self.state_names[int(np.argmin(legal[:, 0]))]
                raise ValueError(f"{self.name}: the {seat}'s no-op (action 0) must be legal in every state; it is not in {bad!r}")
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
        if self.scripted_human is not None:
            self._check_scripted_human(K)
        time_reward = np.zeros(self.horizon) if self.time_reward is None else self.time_reward
        set_("time_reward", _table(self.name, "time_reward", time_reward, (self.horizon,), np.float64))
        if self.state_inputs is not None:
            inputs = np.asarray(self.state_inputs)
            if inputs.ndim != 2 or inputs.shape[1] < 1:
                raise ValueError(f"{self.name}: state_inputs must be [S, E] with E >= 1 (S = {S}), got shape {inputs.shape}")
            set_("state_inputs", _table(self.name, "state_inputs", inputs, (S, inputs.shape[1]), np.float64))

    def _check_next(self, seat: str, S: int, A: int) -> None:
        """Validate and store ``<seat>_next`` (and ``<seat>_next_prob``)."""
        set_ = functools.partial(object.__setattr__, self)
        nxt, prob = getattr(self, f"{seat}_next"), getattr(self, f"{seat}_next_prob")
        if prob is None:
            if np.ndim(nxt) == 3:
                raise ValueError(f"{self.name}: {seat}_next has N outcomes per action (shape {np.shape(nxt)}); give their probabilities as {seat}_next_prob")
            nxt = _table(self.name, f"{seat}_next", nxt, (S, A), np.int64)
        else:
            nxt = np.asarray(nxt)
            if nxt.ndim != 3:
                raise ValueError(
                    f"{self.name}: {seat}_next_prob is given, so {seat}_next must be [S, A, N] outcomes "
                    f"(N the most outcomes of one action), got shape {nxt.shape}"
                )
            nxt = _table(self.name, f"{seat}_next", nxt, (S, A, nxt.shape[2]), np.int64)
            prob = _table(self.name, f"{seat}_next_prob", prob, nxt.shape, np.float64)
            bad = np.argwhere((prob < 0).any(axis=-1) | ~np.isclose(prob.sum(axis=-1), 1.0, rtol=0, atol=1e-9))
            if len(bad):
                s, a = bad[0]
                raise ValueError(
                    f"{self.name}: {seat}_next_prob[{s}, {a}] = {prob[s, a].tolist()} (state {self.state_names[s]!r}, "
                    f"action {getattr(self, f'{seat}_action_names')[a]!r}) must be non-negative and sum to 1"
                )
            set_(f"{seat}_next_prob", prob)
        if np.any((nxt < 0) | (nxt >= S)):
            raise ValueError(f"{self.name}: {seat}_next holds states outside [0, {S})")
        set_(f"{seat}_next", nxt)

    def _check_scripted_human(self, K: int) -> None:
        shape = (self.horizon, self.num_states, K, self.num_human_actions)
        policy = _table(self.name, "scripted_human", self.scripted_human, shape, np.float64)
        if np.any(policy < 0) or not np.allclose(policy.sum(axis=-1), 1.0, rtol=0, atol=1e-9):
            raise ValueError(f"{self.name}: scripted_human's rows must be probabilities summing to 1 over the human's actions")
        if np.any((policy > 0) & ~self.human_legal[None, :, None, :]):
            raise ValueError(f"{self.name}: scripted_human puts probability on actions that are illegal for the human")
        object.__setattr__(self, "scripted_human", policy)

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
        for part in ("next", "legal", "reward", "next_prob"):
            table = getattr(self, f"{seat}_{part}")
            if table is None:
                continue
            table = np.asarray(table)
            if table.ndim < 2 or table.shape[1] != len(names):
                raise ValueError(f"{self.name}: {seat}_{part} has shape {table.shape}; its axis 1 must be the {len(names)} {seat} actions")
            set_(f"{seat}_{part}", table[:, order])
        if seat == "human" and self.scripted_human is not None:
            set_("scripted_human", np.asarray(self.scripted_human)[..., order])
        set_(f"{seat}_wait", 0)

    def _check_terminal_absorbing(self) -> None:
        ends = np.flatnonzero(self.terminal)
        for seat in SEATS:
            legal, reward = getattr(self, f"{seat}_legal"), getattr(self, f"{seat}_reward")
            outcomes, probs = self.outcomes(seat)
            for s in ends:
                stays = np.all((outcomes[s, 0] == s) | (probs[s, 0] == 0))
                if legal[s, 1:].any() or not stays or np.any(reward[s, 0] != 0):
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

    @property
    def second(self) -> str:
        """The seat applied second in a step (the other one than :attr:`first`)."""
        return SEATS[1 - SEATS.index(self.first)]

    @property
    def deterministic(self) -> bool:
        """True when no action of either seat has more than one outcome."""
        return self.human_next_prob is None and self.assistant_next_prob is None

    def outcomes(self, seat: str) -> tuple[np.ndarray, np.ndarray]:
        """``(next [S, A, N] int64, prob [S, A, N] float64)``: the outcomes of ``seat``'s
        actions and their probabilities (N = 1, probability 1, for a deterministic table)."""
        return self._outcomes[seat]

    @functools.cached_property
    def _outcomes(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        tables = {}
        for seat in SEATS:
            nxt, prob = getattr(self, f"{seat}_next"), getattr(self, f"{seat}_next_prob")
            tables[seat] = (nxt, prob) if prob is not None else (_readonly(nxt[:, :, None]), _readonly(np.ones(nxt.shape + (1,))))
        return tables

    @functools.cached_property
    def second_applied(self) -> np.ndarray:
        """[S, A] int64: the second mover's action actually applied in intermediate state
        ``s1`` (the action itself if legal there, else the wait 0)."""
        legal = getattr(self, f"{self.second}_legal")
        return _readonly(np.where(legal, np.arange(legal.shape[1])[None, :], 0))

    @functools.cached_property
    def assistant_choosable(self) -> np.ndarray:
        """[S, A_R] bool: the assistant's choices in state ``s``, its action mask. Assistant
        first: its legal actions. Human first: the actions legal after at least one outcome
        of one of the human's legal moves from ``s`` (the wait always is); one that turns out
        illegal after the human's actual move is applied as the wait."""
        if self.first == "assistant":
            return self.assistant_legal
        outcomes, probs = self.outcomes("human")
        after = self.assistant_legal[outcomes] & (probs > 0)[..., None]  # [S, A_H, N, A_R]
        return _readonly((after.any(axis=2) & self.human_legal[:, :, None]).any(axis=1))

    @functools.cached_property
    def second_move(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The second mover's action ``a`` chosen, applied in intermediate state ``s1``:
        ``(reward [S, A, K], next [S, A, N], prob [S, A, N])``, those of the applied action."""
        applied = self.second_applied[:, :, None]
        outcomes, probs = self.outcomes(self.second)
        reward = np.take_along_axis(getattr(self, f"{self.second}_reward"), applied, axis=1)
        return tuple(_readonly(np.take_along_axis(table, applied, axis=1)) for table in (reward, outcomes, probs))

def expect(prob: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``sum_n prob[..., n] * values[..., n, :]``: the expectation over a move's N outcomes
    (``prob`` [..., N], ``values`` [..., N, K]; leading axes broadcast)."""
    return np.einsum("...n,...nk->...k", prob, values)


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
