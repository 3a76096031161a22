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

The posterior itself is :class:`GoalLibrary`; :class:`LibraryMixture` averages it with a
trained network's belief at the root of an AssistanceZero search (``library_prior``
of the ``assistancezero`` player).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import logsumexp

from assist.models.base import ModelOutput, softmax
from assist.players.base import BasePlayer, Turn
from assist.players.policy import masked_log_policy
from envs.building.core import FIRST_MOVE, FIRST_PLACE
from envs.building.goals import GoalGenerator
from envs.core import ASSISTANT, HUMAN, GameCore

TILED_ROWS = 1 << 15
"""Game copies (rows x library goals) scored at once when updating the posterior."""
PRUNE_NATS = 30.0
"""A library goal this far (in log-probability) behind a row's most probable one leaves
that row's posterior (:meth:`GoalLibrary.observe`)."""


def last_human_action(state) -> np.ndarray:
    """[B] int64 the human's action in the step that led to ``state`` (a ``build`` state;
    the no-op before the first step and where the action was illegal)."""
    return np.maximum(state.recent[:, -1].astype(np.int64) - 1, 0)


class GoalLibrary:
    """A posterior over a library of goals of a ``build`` game, from the human's actions.

    Args:
        core: the game (its goals are target worlds).
        split: the goal split the library is drawn from.
        samples: goals drawn for the library (its distinct ones are kept, weighted by how
            often they were drawn: the prior).
        epsilon: the human model's probability of a uniformly random legal action.
        fix_others: whether the human model also breaks the assistant's wrong blocks.
        beta: if given, the human model is Boltzmann-rational with this inverse
            temperature instead of greedy with noise.
        seed: the library's draw.
    """

    def __init__(self, core: GameCore, split: str = "train", samples: int = 20000, epsilon: float = 0.1, fix_others: bool = False, beta: float | None = None, seed: int = 0):
        if core.name != "build":
            raise ValueError(f"a goal library needs a game whose goal is a target world ('build'); got {core.name!r}")
        if not 0.0 < epsilon <= 1.0 or (beta is not None and not beta > 0):
            raise ValueError(f"epsilon={epsilon} must be in (0, 1] (a zero would rule the true goal out after one noisy action) and beta={beta} None or > 0")
        self.core, self.split = core, split
        drawn = GoalGenerator(core.shape, core.n, split).sample(np.random.default_rng(seed), samples).reshape(samples, core.V)
        goals, counts = np.unique(drawn, axis=0, return_counts=True)
        self.goals = goals  # [K, V] uint8
        self.log_prior = np.log(counts / counts.sum())  # [K]
        self.one_hot = np.eye(core.n, dtype=np.float32)[goals].reshape(len(goals), -1)  # [K, V * n]
        self.epsilon, self.fix_others, self.beta = epsilon, fix_others, beta
        self.log_joint = np.zeros((0, len(goals)))
        self.previous = None

    def reset(self, batch: int) -> None:
        self.log_joint = np.tile(self.log_prior, (batch, 1))
        self.previous = None

    def observe(self, state) -> object:
        """Update with the human's action since the last observed state (B rows of
        ``state``, which is not changed); returns a concealed copy of ``state``.

        Only goals within :data:`PRUNE_NATS` of a row's most probable one are scored; the
        others drop out of that row's posterior for good (``-inf``), with a mass below
        ``K * exp(-PRUNE_NATS)`` when they do: after a few of the human's actions most of
        the library is that far behind, so an update costs a few goals, not all K."""
        if self.previous is not None:
            live = np.flatnonzero(~self.previous.done)
            joint = self.log_joint[live]
            rows, goals = np.nonzero(joint >= joint.max(axis=1, keepdims=True) - PRUNE_NATS)
            update = np.full(joint.shape, -np.inf)
            update[rows, goals] = self.log_likelihood_pairs(self.previous.take(live), last_human_action(state)[live], rows, goals)
            self.log_joint[live] = joint + update
        self.previous = state.copy()
        self.core.conceal_goal(self.previous)
        return self.previous

    def log_evidence(self) -> np.ndarray:
        """[B] log-probability of the human's actions so far under the library's goal prior."""
        return logsumexp(self.log_joint, axis=1)

    def posterior(self) -> np.ndarray:
        """[B, K] the posterior over the library."""
        return np.exp(self.log_joint - self.log_evidence()[:, None])

    def belief(self) -> np.ndarray:
        """[B, V, n] the posterior's probability of each block in each voxel."""
        return (self.posterior() @ self.one_hot).reshape(len(self.log_joint), self.core.V, self.core.n)

    def most_probable(self) -> np.ndarray:
        """[B, V] the most probable library goal."""
        return self.goals[self.log_joint.argmax(axis=1)]

    def log_likelihood(self, state, human_action: np.ndarray) -> np.ndarray:
        """[B, K] log-probability of the human's ``human_action`` ([B]) in ``state`` under each library goal."""
        B, K = len(human_action), len(self.goals)
        rows, goals = np.divmod(np.arange(B * K), K)
        return self.log_likelihood_pairs(state, human_action, rows, goals).reshape(B, K)

    def log_likelihood_pairs(self, state, human_action: np.ndarray, rows: np.ndarray, goals: np.ndarray) -> np.ndarray:
        """[N] log-probability of the human's ``human_action`` ([B]) in row ``rows[i]`` of
        ``state`` under library goal ``goals[i]`` ([N] ints each), :data:`TILED_ROWS` pairs
        at a time."""
        legal = self.core.legal_mask(state, HUMAN)
        uniform = self.epsilon / legal.sum(axis=1)  # [B]
        out = np.empty(len(rows))
        for first in range(0, len(rows), TILED_ROWS):
            r, g = rows[first : first + TILED_ROWS], goals[first : first + TILED_ROWS]
            tiled = state.take(r)
            tiled.goal = self.goals[g]
            values = self.core.goal_action_values(tiled, HUMAN, tiled.goal, fix_others=self.fix_others)
            out[first : first + len(r)] = self.log_policy(values[:, None, :], human_action[r], uniform[r])[:, 0]
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


class GoalLibraryBayesPlayer(BasePlayer):
    """Bayes over a goal library for games whose goal is a target world (``build``).

    Args (the library's: see :class:`GoalLibrary`): split, samples, epsilon, fix_others,
    beta, seed; threshold: the belief a placement (or a break) needs to be taken.
    """

    privileged: ClassVar[bool] = True

    def __init__(self, core: GameCore, seat: str, split: str = "train", samples: int = 20000, epsilon: float = 0.1, fix_others: bool = False, beta: float | None = None, threshold: float = 0.5, seed: int = 0):
        super().__init__(core, seat)
        if core.name != "build" or seat != ASSISTANT:
            raise ValueError(f"player 'library_bayes' plays the assistant seat of a game whose goal is a target world ('build'); got {core.name!r}, {seat!r}")
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"threshold={threshold} must be in [0, 1)")
        self.library = GoalLibrary(core, split, samples, epsilon, fix_others, beta, seed)
        self.threshold = threshold

    def reset(self, batch: int, rng: np.random.Generator) -> None:
        super().reset(batch, rng)
        self.library.reset(batch)

    def act(self, turn: Turn) -> np.ndarray:
        return self.choose(self.library.observe(turn.state), turn.legal)

    def choose(self, state, legal: np.ndarray) -> np.ndarray:
        """[B] the best expected-score action above the threshold, else the move toward the
        most probable goal's work, else the no-op."""
        rewards = self.core.expected_action_rewards(state, self.seat, self.library.belief())
        rewards[:, :FIRST_PLACE] = -np.inf
        best = rewards.argmax(axis=1)
        act = rewards[np.arange(len(best)), best] > 2 * self.threshold - 1
        moves = self.core.goal_action_values(state, self.seat, self.library.most_probable(), fix_others=True)[:, FIRST_MOVE:FIRST_PLACE]
        move = np.where(moves.max(axis=1) > 0, FIRST_MOVE + moves.argmax(axis=1), 0)
        actions = np.where(act, best, move)
        return np.where(legal[np.arange(len(actions)), actions], actions, 0).astype(np.int64)


class LibraryMixture:
    """A search's root belief: the Bayesian average of two models of the goal, the
    network's own belief and a goal library's posterior, each weighted by its prior
    (``prior`` for the library) times the probability it gave the human's actions so far
    (the network through its human-action head, the library through its human model).

    Where the human builds a goal the library holds, its exact posterior takes over; where
    the human's actions are improbable under every library goal (a goal of a family the
    library never drew), the network's belief does. A prior of 1 keeps the library's
    posterior alone (e.g. a privileged reference: the exact posterior over the goals an
    evaluation draws, as the search's root belief). Call :meth:`observe` with each step's
    state (B games) before the search, then the search calls the mixture with the root's
    model output.
    """

    def __init__(self, library: GoalLibrary, prior: float = 0.5):
        if not 0.0 < prior <= 1.0:
            raise ValueError(f"the library's prior weight must be in (0, 1] (1: the library's posterior alone); got {prior}")
        self.library, self.log_odds_prior = library, np.log(prior / (1.0 - prior)) if prior < 1.0 else np.inf
        self.network_log_evidence = np.zeros(0)  # [B] the network's log-probability of the human's actions so far
        self.human_log_policy: np.ndarray | None = None  # [B, A_H] the network's last prediction of the human
        self.human_legal = np.zeros((0, library.core.num_actions(HUMAN)), bool)  # [B, A_H] the human's legal actions now

    def reset(self, batch: int) -> None:
        self.library.reset(batch)
        self.network_log_evidence = np.zeros(batch)
        self.human_log_policy = None

    def observe(self, state) -> None:
        """Score the human's action since the last observed state under both models."""
        if self.human_log_policy is not None:
            live = ~self.library.previous.done
            self.network_log_evidence[live] += self.human_log_policy[np.flatnonzero(live), last_human_action(state)[live]]
        self.library.observe(state)
        self.human_legal = self.library.core.legal_mask(state, HUMAN)

    def library_weight(self) -> np.ndarray:
        """[B] the library's posterior weight (1 everywhere for a prior of 1)."""
        if self.log_odds_prior == np.inf:
            return np.ones(len(self.network_log_evidence))
        log_odds = self.log_odds_prior + self.library.log_evidence() - self.network_log_evidence
        return 1.0 / (1.0 + np.exp(-np.clip(log_odds, -50.0, 50.0)))

    def __call__(self, root: ModelOutput) -> np.ndarray:
        """[B, V, n] goal logits of the averaged belief, from the root's model output."""
        legal = self.human_legal | ~self.human_legal.any(axis=1, keepdims=True)  # finished games: any
        self.human_log_policy = masked_log_policy(root.human_logits, legal)
        network = softmax(root.goal_logits.astype(np.float64), axis=2)
        weight = self.library_weight()[:, None, None]
        return np.log(np.maximum(weight * self.library.belief() + (1.0 - weight) * network, 1e-12)).astype(np.float32)
