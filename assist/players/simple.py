"""Players that need no goal: no-op (the human-alone baseline) and uniform random."""

from __future__ import annotations

import numpy as np

from assist.players.base import BasePlayer, Turn
from assist.players.sampling import sample_legal


class NoopPlayer(BasePlayer):
    """Always the no-op (action 0): in the assistant's seat, the human works alone."""

    def act(self, turn: Turn) -> np.ndarray:
        return np.zeros(len(turn.legal), np.int64)


class RandomPlayer(BasePlayer):
    """A uniformly random legal action."""

    def act(self, turn: Turn) -> np.ndarray:
        return sample_legal(turn.legal, self.rng)
