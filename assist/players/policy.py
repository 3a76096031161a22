"""The raw network as a player: act from the model's masked policy, no search.

    player = PolicyPlayer(core, "assistant_0", TorchEvaluator(net), sample=False)
    player.reset(B, rng)
    actions = player.act(turn_for(core, player, state, "assistant_0"))

It carries the network's recurrent memory from step to step (``reset`` starts every game
afresh, ``forget(rows)`` the games that were reset in place) and needs only its
observation: it is not privileged and never sees the state or the goal. PPO acts and is
evaluated with it; anyone can use it to see what a trained network does without search.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from assist.models.base import Evaluator, ModelOutput
from assist.players.base import MemoryPlayer, Turn
from envs.core import GameCore


def masked_log_policy(logits: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """[B, A] float64 log-probabilities of the softmax over the legal actions (``legal``
    [B, A] bool, at least one per row); illegal actions get ``-inf``."""
    if not legal.any(axis=1).all():
        raise ValueError(f"rows {np.flatnonzero(~legal.any(axis=1)).tolist()} have no legal action")
    masked = np.where(legal, logits.astype(np.float64), -np.inf)
    shifted = masked - masked.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


class PolicyPlayer(MemoryPlayer):
    """Acts from ``evaluator``'s policy over the legal actions.

    sample: draw each action from the masked policy (self-play); otherwise take its most
        probable legal action (evaluation).
    temperature: when sampling, draw from the masked policy's logits divided by this (> 0).

    After each :meth:`act`: ``last`` is the model's :class:`ModelOutput` for the turn
    (numpy, [B, ...]) and ``last_log_policy`` the [B, A] masked log-probabilities the
    action was drawn from (``-inf`` for illegal actions).
    """

    privileged: ClassVar[bool] = False

    def __init__(self, core: GameCore, seat: str, evaluator: Evaluator, sample: bool = False, temperature: float = 1.0):
        super().__init__(core, seat, evaluator)
        if not temperature > 0:
            raise ValueError(f"temperature={temperature!r} must be > 0 (use sample=False for the most probable action)")
        self.sample = bool(sample)
        self.temperature = float(temperature)
        self.last: ModelOutput | None = None
        self.last_log_policy: np.ndarray | None = None

    def act(self, turn: Turn) -> np.ndarray:
        if len(self.memory) != len(turn.legal):
            raise ValueError(f"PolicyPlayer has memory for {len(self.memory)} games but the turn has {len(turn.legal)}; call reset(B, rng) first")
        output, self.memory = self.evaluator.evaluate(turn.observation, self.memory, turn.legal)
        log_policy = masked_log_policy(output.policy_logits / self.temperature if self.sample else output.policy_logits, turn.legal)
        if self.sample:
            action = np.argmax(log_policy + self.rng.gumbel(size=log_policy.shape), axis=1)
        else:
            action = np.argmax(log_policy, axis=1)
        self.last, self.last_log_policy = output, log_policy
        return action.astype(np.int64)

    @property
    def last_output(self) -> ModelOutput | None:
        """The model's output of the latest turn (``last``; the interface :class:`~assist.calibration.GoalScorer` reads)."""
        return self.last
