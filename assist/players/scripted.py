"""Scripted players built on the game's goal-directed action values.

Every game core provides ``goal_action_values(state, seat, goal, fix_others)``
(:class:`envs.core.ScriptedGame`): how good each action is for a player pursuing
``goal`` alone. The human models here turn those values into behaviour (greedy with
noise, Boltzmann-rational, corrective, lazy) and can speak the game's chat hints; the
oracle is the same planner in the assistant's seat, handed the true goal. All act on the whole batch at once.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from assist.players.base import BasePlayer, Turn
from assist.players.sampling import argmax_random_ties, sample_legal, sample_softmax
from envs.core import ScriptedGame


class GoalDirectedPlayer(BasePlayer):
    """Greedy on the goal's action values; with probability ``epsilon`` a random legal
    action; with probability ``idle`` a no-op; says the game's chat hint (when it has
    one) with probability ``chat_prob``.

    Args:
        fix_others: also undo the other seat's mistakes (break its wrong blocks).
    """

    privileged: ClassVar[bool] = True

    def __init__(self, core: ScriptedGame, seat: str, epsilon: float = 0.0, idle: float = 0.0, chat_prob: float = 0.0, fix_others: bool = False):
        super().__init__(core, seat)
        for name, p in (("epsilon", epsilon), ("idle", idle), ("chat_prob", chat_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name}={p} must be a probability in [0, 1]")
        self.epsilon, self.idle, self.chat_prob, self.fix_others = epsilon, idle, chat_prob, fix_others

    def values(self, turn: Turn) -> np.ndarray:
        """[B, A] goal-directed action values (-inf where illegal)."""
        return self.core.goal_action_values(turn.state, self.seat, turn.state.goal, fix_others=self.fix_others)

    def choose(self, values: np.ndarray, turn: Turn) -> np.ndarray:
        """[B] the policy's pick given the values."""
        return argmax_random_ties(values, self.rng)

    def act(self, turn: Turn) -> np.ndarray:
        actions = self.choose(self.values(turn), turn)
        B = len(actions)
        if self.epsilon > 0:
            explore = self.rng.random(B) < self.epsilon
            actions = np.where(explore, sample_legal(turn.legal, self.rng), actions)
        if self.idle > 0:
            actions = np.where(self.rng.random(B) < self.idle, 0, actions)
        if self.chat_prob > 0 and hasattr(self.core, "chat_hint"):
            hint = self.core.chat_hint(turn.state)
            speak = (hint >= 0) & (self.rng.random(B) < self.chat_prob)
            actions = np.where(speak, hint, actions)
        return actions.astype(np.int64)


class BoltzmannPlayer(GoalDirectedPlayer):
    """Boltzmann-rational: actions drawn from softmax(beta * values) over legal actions."""

    def __init__(self, core: ScriptedGame, seat: str, beta: float = 5.0, **kwargs):
        super().__init__(core, seat, **kwargs)
        if not beta > 0:
            raise ValueError(f"beta={beta} must be > 0 (larger is more rational)")
        self.beta = beta

    def choose(self, values: np.ndarray, turn: Turn) -> np.ndarray:
        return sample_softmax(np.where(np.isfinite(values), values, 0.0), turn.legal & np.isfinite(values), self.beta, self.rng)


def greedy(core, seat, epsilon=0.1, chat_prob=0.0):
    """Goal-directed greedy human with noise; leaves the other seat's blocks alone."""
    return GoalDirectedPlayer(core, seat, epsilon=epsilon, chat_prob=chat_prob)


def corrective(core, seat, epsilon=0.1, chat_prob=0.0):
    """Greedy human that also breaks the assistant's wrong blocks."""
    return GoalDirectedPlayer(core, seat, epsilon=epsilon, chat_prob=chat_prob, fix_others=True)


def lazy(core, seat, idle=0.5, epsilon=0.0, chat_prob=0.0):
    """A slow human: idles (no-op) with probability ``idle``, else greedy."""
    return GoalDirectedPlayer(core, seat, epsilon=epsilon, idle=idle, chat_prob=chat_prob)


def boltzmann(core, seat, beta=5.0, chat_prob=0.0):
    """Boltzmann-rational human over the goal-directed values."""
    return BoltzmannPlayer(core, seat, beta=beta, chat_prob=chat_prob)


def oracle(core, seat):
    """The goal-knowing assistant: greedy toward the true goal, fixing mistakes (the upper bound)."""
    return GoalDirectedPlayer(core, seat, fix_others=True)
