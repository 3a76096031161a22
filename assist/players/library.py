"""A Bayesian assistant over a library of goals: the reference for what goal inference
alone is worth on a goal distribution.

The library is ``samples`` goals drawn from a goal split (its distinct goals, weighted
by how often they were drawn: the prior). Each step the posterior over the library is
updated with the likelihood of the human's last action under each library goal, for a
human that is greedy on the game's goal-directed action values with probability
``1 - epsilon`` (ties broken uniformly) and otherwise picks a legal action uniformly (the
``greedy`` human; ``fix_others=True``: the ``corrective`` one), or, given ``beta``,
Boltzmann-rational on those values (the ``boltzmann`` human). The assistant then takes
the action with the largest expected score change under the posterior belief when it
exceeds ``2 * threshold - 1`` (placing a block it believes with probability above
``threshold``, breaking one it believes wrong with probability above ``threshold``),
else the move toward the work of the most probable goal, else the no-op.

It receives the game state (to simulate the human's choices) and conceals its goal first
(``core.conceal_goal``), so the true goal is never read: with the library drawn from the
split the game draws from, the player knows the goal *distribution* (an upper
reference); drawn from the training split, it knows what a trained assistant could know.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

import envs
from assist.players.base import BasePlayer, Turn
from assist.players.policy import masked_log_policy
from envs.build.core import FIRST_MOVE, FIRST_PLACE
from envs.core import ASSISTANT, HUMAN, GameCore

TILED_ROWS = 1 << 15
"""Game copies (rows x library goals) scored at once when updating the posterior."""


class GoalLibraryBayesPlayer(BasePlayer):
    """Bayes over a goal library for games whose goal is a target world (``build``).

    Args:
        split: the goal split the library is drawn from.
        samples: goals drawn for the library (its distinct ones are kept).
        epsilon: the human model's probability of a uniformly random legal action.
        fix_others: whether the human model also breaks the assistant's wrong blocks.
        beta: if given, the human model is Boltzmann-rational with this inverse
            temperature instead of greedy with noise.
        threshold: the belief a placement (or a break) needs to be taken.
        seed: the library's draw.
    """

    privileged: ClassVar[bool] = True

    def __init__(self, core: GameCore, seat: str, split: str = "train", samples: int = 20000, epsilon: float = 0.1, fix_others: bool = False, beta: float | None = None, threshold: float = 0.5, seed: int = 0):
        super().__init__(core, seat)
        if core.name != "build" or seat != ASSISTANT:
            raise ValueError(f"player 'library_bayes' plays the assistant seat of a game whose goal is a target world ('build'); got {core.name!r}, {seat!r}")
        if not 0.0 < epsilon <= 1.0 or not 0.0 <= threshold < 1.0 or (beta is not None and not beta > 0):
            raise ValueError(
                f"epsilon={epsilon} must be in (0, 1] (a zero would rule the true goal out after one noisy action), "
                f"threshold={threshold} in [0, 1) and beta={beta} None or > 0"
            )
        source = envs.make_core("build", **{**dataclasses.asdict(core.config), "goal_split": split, "goal_families": None, "goal_file": None})
        goals, counts = np.unique(source.sample_goals(samples, np.random.default_rng(seed)), axis=0, return_counts=True)
        self.library = goals  # [K, V] uint8
        self.log_prior = np.log(counts / counts.sum())  # [K]
        self.one_hot = np.eye(core.n, dtype=np.float32)[goals].reshape(len(goals), -1)  # [K, V * n]
        self.epsilon, self.fix_others, self.beta, self.threshold = epsilon, fix_others, beta, threshold
        self.log_posterior = np.zeros((0, len(goals)))
        self.previous = None

    def reset(self, batch: int, rng: np.random.Generator) -> None:
        super().reset(batch, rng)
        self.log_posterior = np.tile(self.log_prior, (batch, 1))
        self.previous = None

    def posterior(self) -> np.ndarray:
        """[B, K] the posterior over the library."""
        weights = np.exp(self.log_posterior - self.log_posterior.max(axis=1, keepdims=True))
        return weights / weights.sum(axis=1, keepdims=True)

    def belief(self) -> np.ndarray:
        """[B, V, n] the posterior's probability of each block in each voxel."""
        return (self.posterior() @ self.one_hot).reshape(len(self.log_posterior), self.core.V, self.core.n)

    def act(self, turn: Turn) -> np.ndarray:
        state = turn.state
        if self.previous is not None:
            live = ~self.previous.done
            human_action = state.recent[:, -1].astype(np.int64) - 1
            self.log_posterior[live] += self.log_likelihood(self.previous.take(np.flatnonzero(live)), human_action[live])
        self.previous = state.copy()
        self.core.conceal_goal(self.previous)
        return self.choose(self.previous, turn.legal)

    def log_likelihood(self, state, human_action: np.ndarray) -> np.ndarray:
        """[B, K] log-probability of the human's ``human_action`` ([B]) in ``state`` under each library goal."""
        B, K = len(human_action), len(self.library)
        legal = self.core.legal_mask(state, HUMAN)
        uniform = self.epsilon / legal.sum(axis=1)  # [B]
        out = np.empty((B, K))
        per_chunk = max(1, TILED_ROWS // max(B, 1))
        for first in range(0, K, per_chunk):
            goals = self.library[first : first + per_chunk]
            k = len(goals)
            tiled = state.take(np.repeat(np.arange(B), k))
            tiled.goal = np.tile(goals, (B, 1))
            values = self.core.goal_action_values(tiled, HUMAN, tiled.goal, fix_others=self.fix_others).reshape(B, k, -1)
            out[:, first : first + k] = self.log_policy(values, human_action, uniform)
        return out

    def log_policy(self, values: np.ndarray, action: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """[B, k] the human model's log-probability of ``action`` ([B], the one it took):
        ``values`` [B, k, A] its goal-directed action values (-inf where illegal) under k
        goals, ``uniform`` [B] epsilon over the number of legal actions."""
        B, k, A = values.shape
        taken = np.broadcast_to(action[:, None, None], (B, k, 1))
        if self.beta is not None:
            log_policy = masked_log_policy(self.beta * values.reshape(B * k, A), np.isfinite(values).reshape(B * k, A))
            return np.take_along_axis(log_policy.reshape(B, k, A), taken, axis=2)[:, :, 0]
        best = values.max(axis=2)
        ties = (values >= best[:, :, None] - 1e-6).sum(axis=2)
        chosen = np.take_along_axis(values, taken, axis=2)[:, :, 0]
        greedy = np.where(chosen >= best - 1e-6, (1.0 - self.epsilon) / ties, 0.0)
        return np.log(greedy + uniform[:, None])

    def choose(self, state, legal: np.ndarray) -> np.ndarray:
        """[B] the best expected-score action above the threshold, else the move toward the
        most probable goal's work, else the no-op."""
        rewards = self.core.expected_action_rewards(state, self.seat, self.belief())
        rewards[:, :FIRST_PLACE] = -np.inf
        best = rewards.argmax(axis=1)
        act = rewards[np.arange(len(best)), best] > 2 * self.threshold - 1
        likely = self.library[self.log_posterior.argmax(axis=1)]
        moves = self.core.goal_action_values(state, self.seat, likely, fix_others=True)[:, FIRST_MOVE:FIRST_PLACE]
        move = np.where(moves.max(axis=1) > 0, FIRST_MOVE + moves.argmax(axis=1), 0)
        actions = np.where(act, best, move)
        return np.where(legal[np.arange(len(actions)), actions], actions, 0).astype(np.int64)
