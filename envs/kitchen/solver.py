"""Exact values of assistants in a :class:`~envs.kitchen.tabular.TabularGame`.

Given a human policy table ``pi[t, s, goal, a_h]`` (see :mod:`envs.kitchen.humans`):

- :func:`solve_bayes`: the Bayes-optimal assistant, by dynamic programming over
  ``(t, state, belief)``. The belief is the posterior over goals given every human action
  so far: after the human takes ``a_h`` in ``(t, s)``,
  ``b'(k) ∝ b(k) * pi[t, s, k, a_h]`` (:func:`bayes_update`). Then

      Q(t, s, b, a_r) = sum_{a_h, k} b(k) pi[t, s, k, a_h] (R_h(s, a_h, k) + R_r(s1, a_r, k))
                        + gamma * sum_{a_h} P(a_h | b) V(t + 1, s2, b'_{a_h})
      V(t, s, b) = max over the assistant's choices of Q(t, s, b, a_r),

  with ``s1`` the state after the human's action, ``s2`` after the assistant's (applied as
  the no-op if illegal in ``s1``), ``gamma`` the game's ``discount``, and ``V = 0`` at the
  horizon and in terminal states.
- :func:`solve_known_goal`: the oracle that knows the goal (same recursion at one-hot
  beliefs); its value is the upper bound on any assistant's.
- :func:`evaluate_assistant`: the exact expected return of any assistant policy.

All values are expected returns (both seats' rewards summed, discounted by the game's
``discount``, see :mod:`envs.kitchen.tabular`) from the start of an episode, over goals
drawn from the game's prior.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from envs.kitchen.humans import TIE_TOLERANCE
from envs.kitchen.tabular import TabularGame

BELIEF_DECIMALS = 9
"""Beliefs are keyed by their probabilities rounded to this many decimals: two beliefs
that agree to 1e-9 share one node of the solver (the first one seen is the one used).
The values of merged nodes then differ by at most about ``1e-9 * K * T * max|reward|``."""

History = tuple[tuple[int, int, int], ...]
"""The steps so far as ``(state, human action, assistant action applied)`` triples."""

AssistantFn = Callable[[int, int, np.ndarray, History], np.ndarray]
"""``(t, state, belief [K], history) -> [A_R]`` probabilities of the assistant's choices."""


def bayes_update(human_policy: np.ndarray, t: int, state: int, belief: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The human's next action under ``belief`` and the posterior after each one.

    Returns ``p`` [A_H] (``P(a_h) = sum_k b(k) pi[t, s, k, a_h]``) and ``posterior``
    [A_H, K] (row ``a_h`` is ``b'`` after seeing ``a_h``; zeros where ``p`` is 0).
    """
    joint = belief[None, :] * human_policy[t, state].T  # [A_H, K]
    p = joint.sum(axis=1)
    posterior = np.divide(joint, p[:, None], out=np.zeros_like(joint), where=p[:, None] > 0)
    return p, posterior


@dataclasses.dataclass(frozen=True)
class KnownGoalSolution:
    """The oracle assistant that knows the goal, against a given human policy.

    q: [T, S, K, A_R] float64, the oracle's Q-values (``-inf`` for actions it cannot choose).
    values: [K] float64, the expected return from the initial state per goal.
    value: the prior-weighted expected return (the upper bound on any assistant's).
    """

    q: np.ndarray
    values: np.ndarray
    value: float


def solve_known_goal(game: TabularGame, human_policy: np.ndarray) -> KnownGoalSolution:
    """Backward induction over ``(t, state)`` for every goal at once (vectorized)."""
    _check_policy(game, human_policy)
    T, S, K = game.horizon, game.num_states, game.num_goals
    q = np.empty((T, S, K, game.num_assistant_actions))
    value_next = np.zeros((S, K))
    for t in reversed(range(T)):
        continuation = np.where(game.terminal[:, None], 0.0, value_next)  # [S, K]
        after = game.assistant_reward_applied + game.discount * continuation[game.assistant_next_applied]  # [S1, A_R, K]
        outcome = game.human_reward[:, :, None, :] + after[game.human_next]  # [S, A_H, A_R, K]
        q_t = np.einsum("skh,shak->ska", human_policy[t], outcome)
        q[t] = np.where(game.assistant_choosable[:, None, :], q_t, -np.inf)
        value_next = q[t].max(axis=-1)
    values = value_next[game.initial_state].copy()
    return KnownGoalSolution(q=q, values=values, value=float(game.prior @ values))


class BayesSolution:
    """The Bayes-optimal assistant against ``human_policy`` (built by :func:`solve_bayes`).

    ``value`` is the Bayes-optimal expected return from the initial state and the prior.

    Nodes ``(t, state, belief)`` are solved on demand by a memoized depth-first recursion:
    it visits exactly the nodes reachable from the queried one (the forward enumeration of
    beliefs by Bayes updates) and computes their Q-values on return (backward induction).
    Beliefs are merged as described in :data:`BELIEF_DECIMALS`.
    """

    def __init__(self, game: TabularGame, human_policy: np.ndarray):
        _check_policy(game, human_policy)
        self.game = game
        self.human_policy = human_policy
        self._q: dict[tuple[int, int, bytes], np.ndarray] = {}
        self.value = float(self.q_values(0, game.initial_state, game.prior).max())

    @property
    def num_nodes(self) -> int:
        """How many ``(t, state, belief)`` nodes have been solved so far."""
        return len(self._q)

    def q_values(self, t: int, state: int, belief: np.ndarray) -> np.ndarray:
        """[A_R] float64 Q-values at step ``t`` (0 <= t < T) in a non-terminal ``state``
        with ``belief`` [K]; ``-inf`` for actions the assistant cannot choose there."""
        if not 0 <= t < self.game.horizon:
            raise ValueError(f"t={t} is outside the episode's steps [0, {self.game.horizon})")
        if self.game.terminal[state]:
            raise ValueError(f"state {self.game.state_names[state]!r} is terminal: the episode is over")
        belief = np.asarray(belief, dtype=np.float64)
        if belief.shape != (self.game.num_goals,) or np.any(belief < 0) or not np.isclose(belief.sum(), 1.0):
            raise ValueError(f"belief must be [K={self.game.num_goals}] probabilities summing to 1, got {belief!r}")
        return self._node(t, state, belief).copy()

    def action(self, t: int, state: int, belief: np.ndarray) -> int:
        """A Bayes-optimal action; ties go to the lowest id (so the no-op is preferred)."""
        q = self.q_values(t, state, belief)
        best = q.max()
        return int(np.flatnonzero(q >= best - TIE_TOLERANCE * max(1.0, abs(best)))[0])

    def policy(self, t: int, state: int, belief: np.ndarray, history: History = ()) -> np.ndarray:
        """:data:`AssistantFn` form of :meth:`action`: one-hot [A_R] probabilities."""
        probs = np.zeros(self.game.num_assistant_actions)
        probs[self.action(t, state, belief)] = 1.0
        return probs

    def _node(self, t: int, state: int, belief: np.ndarray) -> np.ndarray:
        key = (t, state, np.round(belief, BELIEF_DECIMALS).tobytes())
        q = self._q.get(key)
        if q is None:
            q = self._backup(t, state, belief)
            self._q[key] = q
        return q

    def _backup(self, t: int, state: int, belief: np.ndarray) -> np.ndarray:
        game = self.game
        p, posterior = bayes_update(self.human_policy, t, state, belief)
        joint = p[:, None] * posterior  # [A_H, K] = b(k) pi(a_h | k)
        mid = game.human_next[state]  # [A_H]
        human_part = float(np.sum(joint * game.human_reward[state]))
        assistant_part = np.einsum("hk,hak->ha", joint, game.assistant_reward_applied[mid])  # [A_H, A_R]
        after = game.assistant_next_applied[mid]  # [A_H, A_R]
        q = np.full(game.num_assistant_actions, -np.inf)
        for a_r in np.flatnonzero(game.assistant_choosable[state]):
            total = human_part
            for a_h in np.flatnonzero(p > 0):
                total += assistant_part[a_h, a_r]
                nxt = after[a_h, a_r]
                if t + 1 < game.horizon and not game.terminal[nxt]:
                    total += game.discount * p[a_h] * self._node(t + 1, nxt, posterior[a_h]).max()
            q[a_r] = total
        return q


def solve_bayes(game: TabularGame, human_policy: np.ndarray) -> BayesSolution:
    """The Bayes-optimal assistant against ``human_policy`` [T, S, K, A_H], solved from
    the initial state and the prior (other nodes are solved when queried)."""
    return BayesSolution(game, human_policy)


def evaluate_assistant(game: TabularGame, human_policy: np.ndarray, assistant: AssistantFn) -> float:
    """The exact expected return of ``assistant`` against ``human_policy``.

    ``assistant(t, state, belief, history)`` returns [A_R] probabilities of its choice at
    step ``t`` in ``state``; ``belief`` [K] is the Bayes posterior over goals given the
    human's actions so far under ``human_policy``, and ``history`` is a :data:`History`.
    A chosen action that is illegal after the human's move is applied as the no-op, as in
    play. The recursion enumerates every history with positive probability, so its cost
    grows with the number of such histories: meant for small games and short horizons.
    """
    _check_policy(game, human_policy)

    def value(t: int, state: int, belief: np.ndarray, history: History) -> float:
        probs = np.asarray(assistant(t, state, belief, history), dtype=np.float64)
        if probs.shape != (game.num_assistant_actions,) or np.any(probs < 0) or not np.isclose(probs.sum(), 1.0):
            raise ValueError(
                f"the assistant returned {probs!r} at t={t}, state {game.state_names[state]!r}: "
                f"expected [A_R={game.num_assistant_actions}] probabilities summing to 1"
            )
        p, posterior = bayes_update(human_policy, t, state, belief)
        joint = p[:, None] * posterior
        total = float(np.sum(joint * game.human_reward[state]))
        for a_r in np.flatnonzero(probs > 0):
            for a_h in np.flatnonzero(p > 0):
                mid = game.human_next[state, a_h]
                applied = game.assistant_applied[mid, a_r]
                nxt = game.assistant_next[mid, applied]
                outcome = joint[a_h] @ game.assistant_reward[mid, applied]
                if t + 1 < game.horizon and not game.terminal[nxt]:
                    outcome += game.discount * p[a_h] * value(t + 1, nxt, posterior[a_h], history + ((state, int(a_h), int(applied)),))
                total += probs[a_r] * outcome
        return total

    return value(0, game.initial_state, game.prior, ())


def _check_policy(game: TabularGame, human_policy: np.ndarray) -> None:
    shape = (game.horizon, game.num_states, game.num_goals, game.num_human_actions)
    if human_policy.shape != shape:
        raise ValueError(f"human_policy has shape {human_policy.shape}, expected [T, S, K, A_H] = {shape}")
    if not np.allclose(human_policy.sum(axis=-1), 1.0):
        raise ValueError("human_policy's rows must be probabilities summing to 1 over the human's actions")
    if np.any((human_policy > 0) & ~game.human_legal[None, :, None, :]):
        raise ValueError("human_policy puts probability on actions that are illegal for the human")
