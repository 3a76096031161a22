"""A behaviour-cloned human: a network trained on recordings by ``scripts/train_bc.py``.

    human=bc human.params.path=runs/train_bc/<run>

It reads only the human seat's own observation (which holds its goal: the person knew
it), never the state, and plays a legal action drawn from the network's masked policy
(``sample=False``: its most probable legal action).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from assist.models import bc as bc_models
from assist.players.base import BasePlayer, Turn
from assist.players.policy import masked_log_policy
from envs.core import HUMAN, GameCore


class BCHumanPlayer(BasePlayer):
    """Plays the human seat with the network saved in ``path`` (see :func:`assist.models.bc.load`)."""

    privileged: ClassVar[bool] = False

    def __init__(self, core: GameCore, seat: str, path: str, sample: bool = True):
        if seat != HUMAN:
            raise ValueError(f"a behaviour-cloned human plays the {HUMAN} seat, not {seat!r}")
        super().__init__(core, seat)
        self.net = bc_models.load(path, core)
        self.sample = bool(sample)

    def act(self, turn: Turn) -> np.ndarray:
        with torch.inference_mode():
            logits = self.net({key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in turn.observation.items()})
        log_policy = masked_log_policy(logits.numpy(), turn.legal)
        if self.sample:
            log_policy = log_policy + self.rng.gumbel(size=log_policy.shape)
        return np.argmax(log_policy, axis=1).astype(np.int64)
