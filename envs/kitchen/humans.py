"""Human models as tables, computed from a :class:`~envs.kitchen.tabular.TabularGame`, and the
posterior over goals that a table implies from the human's observed actions
(:func:`belief_from_history`).

Every model is built on the human's *solo* Q-values: the finite-horizon (discounted by the
game's ``discount``) return of each action when the human pursues its goal and the assistant only no-ops (time-indexed,
because the horizon makes values depend on the steps left). A model turns them into a
policy table ``[T, S, K, A_H]`` of probabilities over the human's legal actions:

- ``rational``: uniform over the solo-optimal actions (ties within :data:`TIE_TOLERANCE`).
- ``greedy(epsilon=0.1)``: rational with probability ``1 - epsilon``, else uniform over
  the legal actions.
- ``boltzmann(beta=1.0)``: ``softmax(beta * Q)`` over the legal actions.
- ``lazy(noop_prob=0.5)``: the no-op with probability ``noop_prob``, else rational.

``scripted`` is not built on them: it is the game's own human table
(:attr:`~envs.kitchen.tabular.TabularGame.scripted_human`), for games whose human follows a
rule (the classic games' humans answer when asked).
"""

from __future__ import annotations

import inspect

import numpy as np

from envs.core import by_name_or_path
from envs.kitchen.tabular import TabularGame, expect

TIE_TOLERANCE = 1e-9
"""Q-values within this (times max(1, |best|)) of the best one count as optimal."""


def solo_q(game: TabularGame) -> np.ndarray:
    """[T, S, K, A_H] float64: the human's Q-values acting alone (the assistant waits).

    ``Q[t, s, k, a]`` is the expected return (discounted to step ``t`` by the game's
    ``discount``, over chance outcomes) from taking ``a`` at step ``t`` in the state ``s``
    the human acts in (after the assistant's wait when the assistant is first), with goal
    ``k``, counting the assistant's wait rewards and the step's ``time_reward``; illegal actions are ``-inf``. Terminal
    states are worth 0.
    """
    T, S, K = game.horizon, game.num_states, game.num_goals
    q = np.empty((T, S, K, game.num_human_actions))
    human_next, human_prob = game.outcomes("human")
    wait_next, wait_prob = (table[:, 0] for table in game.outcomes("assistant"))  # [S, N]
    wait_reward = game.assistant_reward[:, 0, :]  # [S, K]
    value_next = np.zeros((S, K))  # the value of being in s at the start of step t + 1
    for t in reversed(range(T)):
        continuation = np.where(game.terminal[:, None], 0.0, value_next)  # [S, K]
        if game.first == "human":
            after = wait_reward + game.discount * expect(wait_prob, continuation[wait_next])  # [S1, K]
            q_t = game.human_reward + expect(human_prob, after[human_next])  # [S, A_H, K]
        else:
            q_t = game.human_reward + game.discount * expect(human_prob, continuation[human_next])  # [S1, A_H, K]
        q[t] = np.where(game.human_legal[:, :, None], q_t + game.time_reward[t], -np.inf).transpose(0, 2, 1)
        best = q[t].max(axis=-1)  # [S, K]
        value_next = best if game.first == "human" else wait_reward + expect(wait_prob, best[wait_next])
    return q


def rational(q: np.ndarray) -> np.ndarray:
    """Uniform over the actions within :data:`TIE_TOLERANCE` of the best."""
    best = q.max(axis=-1, keepdims=True)
    optimal = q >= best - TIE_TOLERANCE * np.maximum(1.0, np.abs(best))
    return optimal / optimal.sum(axis=-1, keepdims=True)


def greedy(q: np.ndarray, epsilon: float = 0.1) -> np.ndarray:
    """Rational with probability ``1 - epsilon``, else uniform over the legal actions."""
    _check_probability("greedy", "epsilon", epsilon)
    legal = np.isfinite(q)
    return (1 - epsilon) * rational(q) + epsilon * legal / legal.sum(axis=-1, keepdims=True)


def boltzmann(q: np.ndarray, beta: float = 1.0) -> np.ndarray:
    """``softmax(beta * Q)`` over the legal actions (``beta`` >= 0; 0 is uniform)."""
    if not (np.isfinite(beta) and beta >= 0):
        raise ValueError(f"boltzmann: beta={beta!r} must be a finite number >= 0")
    legal = np.isfinite(q)
    logits = np.where(legal, beta * np.where(legal, q, 0.0), -np.inf)
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


def lazy(q: np.ndarray, noop_prob: float = 0.5) -> np.ndarray:
    """The no-op (action 0) with probability ``noop_prob``, else rational."""
    _check_probability("lazy", "noop_prob", noop_prob)
    policy = (1 - noop_prob) * rational(q)
    policy[..., 0] += noop_prob
    return policy


HUMAN_MODELS = {"rational": rational, "greedy": greedy, "boltzmann": boltzmann, "lazy": lazy}
"""Model name -> function from solo Q-values ``[..., A_H]`` (and the model's keyword
parameters) to probabilities ``[..., A_H]``."""

SCRIPTED = "scripted"
"""The model name of the game's own human (:attr:`TabularGame.scripted_human`); no parameters."""


def model_parameters(model: str) -> tuple[str, ...]:
    """The keyword parameters of human model ``model``."""
    return () if model == SCRIPTED else tuple(inspect.signature(_model(model)).parameters)[1:]


def human_policy(game: TabularGame, model: str = "rational", **params) -> np.ndarray:
    """[T, S, K, A_H] float64 read-only: ``P(a_h | t, s, goal)`` under ``model``.

    ``model``: a name in :data:`HUMAN_MODELS`, :data:`SCRIPTED` (the game's own human), or the import path ``package.module:function``
    of a function of the user's own taking the solo Q-values ``[T, S, K, A_H]`` (``-inf``
    where illegal) and its keyword ``params`` to probabilities of the same shape.
    """
    unknown = sorted(set(params) - set(model_parameters(model)))
    if unknown:
        raise ValueError(f"human model {model!r} takes parameters {list(model_parameters(model))}, got unknown {unknown}")
    if model == SCRIPTED:
        if game.scripted_human is None:
            raise ValueError(f"human model {SCRIPTED!r}: game {game.name!r} has no scripted_human; choose one of {sorted(HUMAN_MODELS)}")
        return game.scripted_human
    function = _model(model)
    q = solo_q(game)
    policy = np.asarray(function(q, **params), dtype=np.float64)
    if policy.shape != q.shape or not np.all(policy >= 0) or not np.allclose(policy.sum(axis=-1), 1.0, atol=1e-6):
        raise ValueError(f"human model {model!r} must return probabilities of shape {list(q.shape)} (the solo Q-values'), summing to 1 over the last axis")
    if np.any(policy[np.isneginf(q)] > 0):
        raise ValueError(f"human model {model!r} gives an illegal action (solo Q-value -inf) a probability above 0")
    policy.setflags(write=False)
    return policy


def _model(model: str):
    return by_name_or_path(HUMAN_MODELS, model, "human model")


def _check_probability(model: str, name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{model}: {name}={value!r} must be a probability in [0, 1]")


def belief_from_history(human_policy: np.ndarray, prior: np.ndarray, t: np.ndarray, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """[B, K] posterior over goals after the observed human actions.

    human_policy: [T, S, K, A_H]; prior: [K]; t: [B] the current step; states, actions:
    [B, h] the recent (state, human action) pairs, oldest first, -1 padded. The pairs
    must cover the whole episode (history >= horizon). An impossible history (probability
    0 under the model) falls back to the prior.
    """
    B, h = actions.shape
    belief = np.broadcast_to(prior, (B, len(prior))).copy()
    for j in range(h):
        valid = actions[:, j] >= 0
        step = t - (h - j)  # the step at which pair j was taken
        likelihood = human_policy[np.maximum(step, 0), np.maximum(states[:, j], 0), :, np.maximum(actions[:, j], 0)]  # [B, K]
        belief = np.where(valid[:, None], belief * likelihood, belief)
    total = belief.sum(axis=1, keepdims=True)
    return np.where(total > 0, belief / np.where(total > 0, total, 1.0), prior)
