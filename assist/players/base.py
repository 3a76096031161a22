"""The player protocol (docs/design.md, contract 4): one interface for every seat.

A player acts on a batch of B games at once. Each step it gets a :class:`Turn` and
returns [B] int64 action ids. Players that may know the true state (scripted humans,
who know their own goal, and the goal-knowing oracle) set ``privileged = True`` and
then also receive the core's state; every other player sees only its observation.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple, Protocol, runtime_checkable

import numpy as np

from assist.models.base import Evaluator
from envs.core import BatchState, GameCore


class Turn(NamedTuple):
    """What a player sees for one step of B games.

    observation: the seat's observation, arrays with leading dimension B.
    legal: [B, A] bool legal actions.
    state: the game state, only for privileged players (None otherwise).
    """

    observation: dict[str, np.ndarray]
    legal: np.ndarray
    state: BatchState | None = None


@runtime_checkable
class Player(Protocol):
    """Anything that can take a seat."""

    privileged: ClassVar[bool]

    def reset(self, batch: int, rng: np.random.Generator) -> None:
        """Called at the start of a batch of episodes."""

    def act(self, turn: Turn) -> np.ndarray:
        """[B] int64 actions for ``turn``."""


class BasePlayer:
    """Shared plumbing: the core, the seat, and a random generator set by ``reset``."""

    privileged: ClassVar[bool] = False

    def __init__(self, core: GameCore, seat: str):
        self.core = core
        self.seat = seat
        self.rng = np.random.default_rng()

    def reset(self, batch: int, rng: np.random.Generator) -> None:
        self.rng = rng


class MemoryPlayer(BasePlayer):
    """A player driven by a model that carries a recurrent memory ([B, M]) across steps."""

    def __init__(self, core: GameCore, seat: str, evaluator: Evaluator):
        super().__init__(core, seat)
        self.evaluator = evaluator
        self.memory = evaluator.initial_memory(0)

    def reset(self, batch: int, rng: np.random.Generator) -> None:
        super().reset(batch, rng)
        self.memory = self.evaluator.initial_memory(batch)

    def forget(self, rows: np.ndarray) -> None:
        """Start the memory afresh for ``rows`` (their games were reset)."""
        self.memory[rows] = self.evaluator.initial_memory(len(rows))
