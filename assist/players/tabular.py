"""Players for games with tabular human models (the `kitchen` games).

``model``: the human seat played by the game's own human model (its policy table), so
evaluations use exactly the human the solver assumes. ``bayes``: the Bayes-optimal
assistant from the exact dynamic-programming solver, tracking its belief over goals from
the human actions it has observed. Both need a core with ``game`` and ``human_policy``
tables (:class:`envs.kitchen.core.KitchenCore`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from assist.models.exact import ExactKitchenEvaluator
from assist.players.base import BasePlayer, Turn
from assist.players.search import SearchPlayer
from assist.search.config import SearchConfig
from envs.core import GameCore
from envs.kitchen.humans import belief_from_history


def _require_tabular(core: GameCore, player: str) -> None:
    if not (hasattr(core, "human_policy") and hasattr(core, "game")):
        raise ValueError(f"player {player!r} needs a game with a tabular human model (kitchen); {core.name!r} has none")


class HumanModelPlayer(BasePlayer):
    """Samples the human's action from the game's human-model table (knows its goal)."""

    privileged: ClassVar[bool] = True

    def __init__(self, core: GameCore, seat: str):
        _require_tabular(core, "model")
        super().__init__(core, seat)

    def act(self, turn: Turn) -> np.ndarray:
        probs = self.core.human_action_probs(turn.state)  # [B, A_H]
        u = self.rng.random((len(probs), 1))
        return (probs.cumsum(axis=1) < u).sum(axis=1).clip(0, probs.shape[1] - 1).astype(np.int64)


class BayesOptimalPlayer(BasePlayer):
    """The exact Bayes-optimal assistant against the game's human model."""

    def __init__(self, core: GameCore, seat: str):
        _require_tabular(core, "bayes")
        super().__init__(core, seat)
        from envs.kitchen.solver import solve_bayes

        if core.history < core.horizon:
            raise ValueError(f"player 'bayes' needs the whole history: history={core.history} < horizon={core.horizon}")
        self.solution = solve_bayes(core.game, core.human_policy)

    def act(self, turn: Turn) -> np.ndarray:
        obs = turn.observation
        belief = belief_from_history(self.core.human_policy, self.core.game.prior, obs["t"], obs["recent_states"], obs["recent_human_actions"])
        actions = np.zeros(len(belief), np.int64)
        for b in np.flatnonzero(turn.legal[:, 1:].any(axis=1)):
            t, s = int(obs["t"][b]), int(obs["state"][b])
            if t < self.core.horizon and not self.core.game.terminal[s]:
                actions[b] = self.solution.action(t, s, belief[b])
        return actions


def exact_search(core: GameCore, seat: str, simulations: int = 200, value: str = "zero", c_puct: float = 1.0, human_samples: int = 16):
    """MCTS over the exact model of a tabular game (exact human model and belief; the
    value ``"zero"``, ``"qmdp"`` or ``"bayes"``): the check of the search against the
    Bayes optimum. The game's discount (as the solver's), no root noise, best action."""
    _require_tabular(core, "exact_search")
    config = SearchConfig(
        num_simulations=simulations, max_children=core.num_actions(seat), human_samples=human_samples,
        c_puct=c_puct, dirichlet_fraction=0.0, reward_belief="posterior",
    )
    return SearchPlayer(core, seat, ExactKitchenEvaluator(core, value=value), config)
