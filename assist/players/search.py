"""The AssistanceZero assistant: MCTS over a policy-value model, with the model's
recurrent memory carried from step to step.

It receives the game state because the search simulates the game; the search copies the
state and conceals its goal first (``core.conceal_goal``), so the true goal is never read.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from assist.models.base import Evaluator
from assist.players.base import MemoryPlayer, Turn
from assist.search.mcts import MCTS, SearchConfig, SearchOutput
from envs.core import GameCore


class SearchPlayer(MemoryPlayer):
    """Plays the assistant seat by searching from every state.

    ``sample``: draw the action from the search target (self-play) instead of taking
    its best slot (evaluation). ``last`` holds the latest :class:`SearchOutput`.
    """

    privileged: ClassVar[bool] = True

    def __init__(self, core: GameCore, seat: str, evaluator: Evaluator, config: SearchConfig, sample: bool = False):
        super().__init__(core, seat, evaluator)
        self.mcts = MCTS(core, evaluator, config)
        self.sample = sample
        self.last: SearchOutput | None = None

    def act(self, turn: Turn) -> np.ndarray:
        self.last = self.mcts.search(turn.state, self.memory, self.rng, sample_action=self.sample)
        self.memory = self.last.memory
        return self.last.action
