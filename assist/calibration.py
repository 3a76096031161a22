"""How far a goal belief can be trusted: its calibration in bins of probability, the
confident figure (how often the most probable value is right where the belief gives it
at least 0.75), and a scorer that gathers them while an assistant plays.

    scorer = GoalScorer(core, assistant)       # plays as ``assistant``; reads the goal to score only
    evaluation.evaluate(core, human, scorer, episodes, batch, seed)
    scorer.figures()                           # {"goal_confident_right": ..., "goal_confident_n": ..., ...}

The training loops log :meth:`GoalScorer.figures` at each held-out evaluation (``eval/``,
docs/training.md); ``scripts/diagnose.py`` prints :func:`calibration` of a search's
root belief.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from assist.models.base import softmax
from assist.players.base import Player, Turn
from envs.core import GameCore

BINS = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)
"""Edges of the belief's probability bins (the last bin includes 1)."""
CONFIDENT = 0.75
"""The probability from which a belief counts as confident (a bin edge of :data:`BINS`)."""
OWN = 2
"""The owner value (:meth:`~envs.core.GameCore.observed_goal_owners`) of a factor the assistant changed last."""


def calibration(probability: np.ndarray, right: np.ndarray) -> list[dict]:
    """Per bin of ``probability`` [N]: how many and the fraction ``right`` [N] bool."""
    rows = []
    for low, high in zip(BINS[:-1], BINS[1:]):
        inside = (probability >= low) & ((probability < high) | (high == BINS[-1]))
        count = int(inside.sum())
        rows.append({"p": [low, high], "n": count, "right": float(right[inside].mean()) if count else None, "mean_p": float(probability[inside].mean()) if count else None})
    return rows


def confident(rows: list[dict], threshold: float = CONFIDENT) -> tuple[float, int]:
    """The fraction right and the count of the :func:`calibration` ``rows`` from
    ``threshold`` (a bin edge) up, pooled: (NaN, 0) when no probability reached it."""
    if threshold not in BINS[:-1]:
        raise ValueError(f"threshold={threshold} must be a bin edge below 1, one of {list(BINS[:-1])}")
    pooled = [row for row in rows if row["p"][0] >= threshold and row["n"]]
    count = sum(row["n"] for row in pooled)
    return (sum(row["n"] * row["right"] for row in pooled) / count if count else float("nan")), count


class GoalScorer:
    """Plays as ``player`` and scores its goal belief at every turn of the games still on:
    per goal factor, the most probable value's probability and whether it is the true
    goal's. ``player`` exposes ``last_output`` (the :class:`~assist.models.base.ModelOutput`
    of its latest turn, numpy: ``goal_logits`` [B, F, K]). The scorer is privileged, to
    read the goal after the player has acted; ``player`` gets the state only if it is
    privileged itself (a search, which conceals the goal)."""

    privileged: ClassVar[bool] = True

    def __init__(self, core: GameCore, player: Player):
        self.core, self.player = core, player
        self.scored: list[np.ndarray] = []  # [N, 3] (probability, right, owner; -1: not observed) per turn

    def reset(self, batch: int, rng: np.random.Generator) -> None:
        self.player.reset(batch, rng)

    def act(self, turn: Turn) -> np.ndarray:
        action = self.player.act(turn if self.player.privileged else turn._replace(state=None))
        belief = softmax(self.player.last_output.goal_logits)  # [B, F, K]
        live = ~turn.state.done
        owner = self.core.observed_goal_owners(turn.observation)
        owner = np.full(belief.shape[:2], -1) if owner is None else owner
        right = belief.argmax(-1) == turn.state.goal
        self.scored.append(np.stack([belief.max(-1)[live], right[live], owner[live]], -1).reshape(-1, 3))
        return action

    def figures(self) -> dict[str, float]:
        """``goal_confident_right`` and ``goal_confident_n`` (:func:`confident` over every
        factor of every turn scored), and, in games that observe who changed a factor, the
        same over the factors the assistant changed last (``..._own``)."""
        scored = np.concatenate(self.scored) if self.scored else np.zeros((0, 3))
        groups = {"": np.ones(len(scored), bool)}
        if (scored[:, 2] >= 0).any():
            groups["_own"] = scored[:, 2] == OWN
        figures = {}
        for suffix, rows in groups.items():
            right, count = confident(calibration(scored[rows, 0], scored[rows, 1].astype(bool)))
            figures |= {f"goal_confident_right{suffix}": right, f"goal_confident_n{suffix}": float(count)}
        return figures
