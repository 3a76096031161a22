"""Exact values of assistants in a :class:`~envs.kitchen.tabular.TabularGame`.

Given a human policy table ``pi[t, s, goal, a_h]`` (see :mod:`envs.kitchen.humans`), indexed
by the state the human acts in:

- :func:`solve_bayes`: the Bayes-optimal assistant, by dynamic programming over
  ``(t, state, belief)``. The belief is the posterior over goals given every human action
  so far: after the human takes ``a_h`` in state ``s_h`` at step ``t``,
  ``b'(k) ∝ b(k) * pi[t, s_h, k, a_h]`` (:func:`bayes_update`). With the human first
  (``s_h = s``),

      Q(t, s, b, a_r) = sum_{a_h, k} b(k) pi[t, s, k, a_h] (R_h(s, a_h, k) + E_{s1} R_r(s1, a_r, k))
                        + gamma * sum_{a_h} P(a_h | b) E_{s1, s2} V(t + 1, s2, b'_{a_h}),

  with ``s1`` drawn from the human's move, ``s2`` from the assistant's (applied as the
  wait if illegal in ``s1``). With the assistant first, ``s1`` is drawn from its move,
  the human acts in ``s_h = s1`` (so ``P(a_h | b)`` and ``b'`` depend on ``s1``) and
  ``s2`` is drawn from the human's move. ``V(t, s, b)`` is the max of ``Q`` over the
  assistant's choices, ``gamma`` the game's ``discount``, ``V = 0`` at the horizon and in
  terminal states. Chance outcomes are weighted by their probabilities; they never depend
  on the goal, so they leave the belief as it is.
- :func:`solve_known_goal`: the oracle that knows the goal (same recursion at one-hot
  beliefs); its value is the upper bound on any assistant's.
- :func:`evaluate_assistant`: the exact expected return of any assistant policy.

All values are expected returns (both seats' rewards summed, discounted by the game's
``discount``, see :mod:`envs.kitchen.tabular`) from the start of an episode, over goals
drawn from the prior.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np

from envs.kitchen.humans import TIE_TOLERANCE
from envs.kitchen.tabular import TabularGame, expect

BELIEF_DECIMALS = 9
"""Beliefs are keyed by their probabilities rounded to this many decimals: two beliefs
that agree to 1e-9 share one node of the solver (the first one seen is the one used).
The values of merged nodes then differ by at most about ``1e-9 * K * T * max|reward|``."""

History = tuple[tuple[int, int, int], ...]
"""The steps so far as ``(state the human acted in, human action, assistant action
applied)`` triples."""

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
    first_next, first_prob = game.outcomes(game.first)
    first_reward = getattr(game, f"{game.first}_reward")  # [S, A_1, K]
    second_reward, second_next, second_prob = game.second_move  # [S1, A_2, K], [S1, A_2, N]
    q = np.empty((T, S, K, game.num_assistant_actions))
    value_next = np.zeros((S, K))
    for t in reversed(range(T)):
        continuation = np.where(game.terminal[:, None], 0.0, value_next)  # [S, K]
        after = second_reward + game.discount * expect(second_prob, continuation[second_next])  # [S1, A_2, K]
        if game.first == "human":
            outcome = first_reward[:, :, None, :] + np.einsum("shn,shnak->shak", first_prob, after[first_next])  # [S, A_H, A_R, K]
            q_t = np.einsum("skh,shak->ska", human_policy[t], outcome)
        else:
            human_value = np.einsum("skh,shk->sk", human_policy[t], after)  # [S1, K]
            q_t = (first_reward + expect(first_prob, human_value[first_next])).transpose(0, 2, 1)  # [S, K, A_R]
        q[t] = np.where(game.assistant_choosable[:, None, :], q_t + game.time_reward[t], -np.inf)
        value_next = q[t].max(axis=-1)
    values = value_next[game.initial_state].copy()
    return KnownGoalSolution(q=q, values=values, value=float(game.prior @ values))


class Branch(NamedTuple):
    """One way a step can go, from :func:`step_branches`: its probability ``weight``; the
    expected ``reward`` of the step given it (both seats' actions under the posterior, and
    the step's ``time_reward``); the next
    state; the posterior [K] after the human's action; the state the human acted in, its
    action, and the assistant action applied."""

    weight: float
    reward: float
    next_state: int
    belief: np.ndarray
    human_state: int
    human_action: int
    assistant_action: int


def step_branches(game: TabularGame, human_policy: np.ndarray, t: int, state: int, belief: np.ndarray, a_r: int) -> Iterator[Branch]:
    """Every outcome with positive probability of step ``t`` from ``state`` under ``belief``
    when the assistant chooses ``a_r`` (applied as the wait where illegal): the human's
    action under ``human_policy`` and the chance outcomes of both moves, in the game's order."""
    human_next, human_prob = game.outcomes("human")
    assistant_next, assistant_prob = game.outcomes("assistant")
    if game.first == "assistant":
        applied = a_r if game.assistant_legal[state, a_r] else 0
        for s_h, p1 in _positive(assistant_next[state, applied], assistant_prob[state, applied]):
            p, posterior = bayes_update(human_policy, t, s_h, belief)
            for a_h in np.flatnonzero(p > 0):
                reward = posterior[a_h] @ (game.assistant_reward[state, applied] + game.human_reward[s_h, a_h]) + game.time_reward[t]
                for s2, p2 in _positive(human_next[s_h, a_h], human_prob[s_h, a_h]):
                    yield Branch(p1 * p[a_h] * p2, float(reward), s2, posterior[a_h], s_h, int(a_h), applied)
        return
    p, posterior = bayes_update(human_policy, t, state, belief)
    for a_h in np.flatnonzero(p > 0):
        for s1, p1 in _positive(human_next[state, a_h], human_prob[state, a_h]):
            applied = int(game.second_applied[s1, a_r])
            reward = posterior[a_h] @ (game.human_reward[state, a_h] + game.assistant_reward[s1, applied]) + game.time_reward[t]
            for s2, p2 in _positive(assistant_next[s1, applied], assistant_prob[s1, applied]):
                yield Branch(p[a_h] * p1 * p2, float(reward), s2, posterior[a_h], state, int(a_h), applied)


def _positive(outcomes: np.ndarray, probs: np.ndarray) -> Iterator[tuple[int, float]]:
    """The ``(state, probability)`` pairs of one move's outcomes [N] with probability > 0."""
    return ((int(s), float(p)) for s, p in zip(outcomes, probs) if p > 0)


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
        """Q-values of node ``(t, state, belief)``, vectorized over the assistant's actions
        where its action comes second (the module docstring's recursion; an implementation
        of its own, so that :func:`evaluate_assistant` checks it)."""
        game = self.game
        second_reward, second_next, second_prob = game.second_move  # [S1, A_2, K], [S1, A_2, N]
        first_next, first_prob = game.outcomes(game.first)
        choosable = game.assistant_choosable[state]
        q = np.zeros(game.num_assistant_actions)
        if game.first == "human":
            p, posterior = bayes_update(self.human_policy, t, state, belief)
            for a_h in np.flatnonzero(p > 0):
                b = posterior[a_h]
                for s1, p1 in _positive(first_next[state, a_h], first_prob[state, a_h]):
                    after = second_reward[s1] @ b + game.discount * self._expected_value(t + 1, second_next[s1], second_prob[s1], b)
                    q += p[a_h] * p1 * (b @ game.human_reward[state, a_h] + after)
        else:
            for a_r in np.flatnonzero(choosable):
                q[a_r] = belief @ game.assistant_reward[state, a_r]
                for s1, p1 in _positive(first_next[state, a_r], first_prob[state, a_r]):
                    p, posterior = bayes_update(self.human_policy, t, s1, belief)
                    for a_h in np.flatnonzero(p > 0):
                        b = posterior[a_h]
                        later = self._expected_value(t + 1, second_next[s1, a_h][None], second_prob[s1, a_h][None], b)[0]
                        q[a_r] += p1 * p[a_h] * (b @ second_reward[s1, a_h] + game.discount * later)
        return np.where(choosable, q + game.time_reward[t], -np.inf)

    def _expected_value(self, t: int, states: np.ndarray, probs: np.ndarray, belief: np.ndarray) -> np.ndarray:
        """[M] ``sum_n probs[m, n] V(t, states[m, n], belief)`` for outcome rows ``states``,
        ``probs`` [M, N]; ``V`` is 0 at the horizon and in terminal states."""
        values = np.zeros(probs.shape)
        if t < self.game.horizon:
            for s in np.unique(states[probs > 0]):
                if not self.game.terminal[s]:
                    values[states == s] = self._node(t, int(s), belief).max()
        return (probs * values).sum(axis=1)

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
        total = 0.0
        for a_r in np.flatnonzero(probs > 0):
            for branch in step_branches(game, human_policy, t, state, belief, int(a_r)):
                outcome = branch.reward
                if t + 1 < game.horizon and not game.terminal[branch.next_state]:
                    step = (branch.human_state, branch.human_action, branch.assistant_action)
                    outcome += game.discount * value(t + 1, branch.next_state, branch.belief, history + (step,))
                total += probs[a_r] * branch.weight * outcome
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
