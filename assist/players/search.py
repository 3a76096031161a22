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
    its best slot (evaluation). ``root_belief``: a belief that replaces the model's at the
    root (e.g. :class:`~assist.players.library.LibraryMixture`): it is reset with the
    player, shown every step's state, then called with the root's model output (see
    :meth:`MCTS.search`). ``last`` holds the latest :class:`SearchOutput`.
    """

    privileged: ClassVar[bool] = True

    def __init__(self, core: GameCore, seat: str, evaluator: Evaluator, config: SearchConfig, sample: bool = False, root_belief=None):
        super().__init__(core, seat, evaluator)
        self.mcts = MCTS(core, evaluator, config)
        self.sample = sample
        self.root_belief = root_belief
        self.last: SearchOutput | None = None

    def reset(self, batch: int, rng: np.random.Generator) -> None:
        super().reset(batch, rng)
        if self.root_belief is not None:
            self.root_belief.reset(batch)

    def forget(self, rows: np.ndarray) -> None:
        if self.root_belief is not None:
            raise NotImplementedError("a root belief follows whole batches of episodes; start them together (reset)")
        super().forget(rows)

    def act(self, turn: Turn) -> np.ndarray:
        if self.root_belief is not None:
            self.root_belief.observe(turn.state)
        self.last = self.mcts.search(turn.state, self.memory, self.rng, sample_action=self.sample, root_belief=self.root_belief)
        self.memory = self.last.memory
        return self.last.action
