"""The AssistanceZero assistant: MCTS over a policy-value model, with the model's
recurrent memory carried from step to step.

It receives the game state because the search simulates the game; the search copies the
state and conceals its goal first (``core.conceal_goal``), so the true goal is never read.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from assist.models.base import Evaluator, ModelOutput
from assist.players.base import MemoryPlayer, Turn
from assist.search.config import SearchConfig
from assist.search.mcts import MCTS
from assist.search.tree import SearchOutput
from envs.core import GameCore


class SearchPlayer(MemoryPlayer):
    """Plays the assistant seat by searching from every state.

    ``sample``: draw the action from the search target (self-play) instead of taking
    its best slot (evaluation). ``root_belief``: a belief that replaces the model's at the
    root (e.g. :class:`~assist.players.library.LibraryMixture`): it is reset with the
    player, shown every step's state, then called with the root's model output (see
    :meth:`MCTS.search`). ``last`` holds the latest :class:`SearchOutput`; with
    ``config.reuse_subtree`` the next search starts from its subtree under the step each
    game took, except in games reset since (:meth:`forget`) and after :meth:`start_afresh`.
    """

    privileged: ClassVar[bool] = True

    def __init__(self, core: GameCore, seat: str, evaluator: Evaluator, config: SearchConfig, sample: bool = False, root_belief=None):
        super().__init__(core, seat, evaluator)
        self.mcts = MCTS(core, evaluator, config)
        self.sample = sample
        self.root_belief = root_belief
        self.last: SearchOutput | None = None
        self.keep = np.zeros(0, bool)  # [B] games whose last search's subtree may be reused

    def reset(self, batch: int, rng: np.random.Generator) -> None:
        super().reset(batch, rng)
        self.start_afresh()
        self.keep = np.zeros(batch, bool)
        if self.root_belief is not None:
            self.root_belief.reset(batch)

    def start_afresh(self) -> None:
        """Grow the next search's trees from scratch (e.g. after the model changed)."""
        self.last = None

    def forget(self, rows: np.ndarray) -> None:
        if self.root_belief is not None:
            raise NotImplementedError("a root belief follows whole batches of episodes; start them together (reset)")
        super().forget(rows)
        self.keep[rows] = False

    def act(self, turn: Turn) -> np.ndarray:
        if self.root_belief is not None:
            self.root_belief.observe(turn.state)
        self.last = self.mcts.search(
            turn.state, self.memory, self.rng, sample_action=self.sample, root_belief=self.root_belief, previous=self.last, keep=self.keep
        )
        self.keep = np.ones(turn.state.batch_size, bool)
        self.memory = self.last.memory
        return self.last.action

    @property
    def last_output(self) -> ModelOutput | None:
        """The model's output at the latest search's root (``last.root_output``; what :class:`~assist.calibration.GoalScorer` reads)."""
        return None if self.last is None else self.last.root_output
