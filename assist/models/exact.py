"""An exact model of a tabular (kitchen) game: the truth the planners are checked against.

Its goal belief is the Bayes posterior from the observed history under the game's human
model, and its human-action prediction is that model's marginal under the belief; the
policy prior is uniform. Its value is one of:

* ``"zero"``: the search plans to the horizon on its own;
* ``"qmdp"``: the belief-weighted value of the goal-knowing oracle, an optimistic
  heuristic that ignores the cost of not knowing the goal;
* ``"bayes"``: the exact Bayes-optimal value from the dynamic-programming solver, so a
  search over this model must reproduce the optimum unless its mechanics (expected
  rewards, beliefs along the path, chance nodes, backups) are wrong.
"""

from __future__ import annotations

import numpy as np

from assist.models.base import ModelOutput
from envs.kitchen.humans import belief_from_history
from envs.kitchen.solver import solve_bayes

TINY = 1e-30
VALUES = ("zero", "qmdp", "bayes")


class ExactKitchenEvaluator:
    """The :class:`~assist.models.base.Evaluator` of a ``KitchenCore`` with ``history >= horizon``."""

    memory_size = 0

    def __init__(self, core, value: str = "zero"):
        if not hasattr(core, "human_policy") or core.history < core.horizon:
            raise ValueError("ExactKitchenEvaluator needs a kitchen core that shows the whole history (history >= horizon)")
        if value not in VALUES:
            raise ValueError(f"value={value!r}; choose one of {list(VALUES)}")
        self.core = core
        self.value = value
        oracle = core.oracle.q.max(axis=-1)  # [T, S, K]
        self._oracle_value = np.where(np.isfinite(oracle), oracle, 0.0)
        self._bayes = solve_bayes(core.game, core.human_policy) if value == "bayes" else None

    def initial_memory(self, batch: int) -> np.ndarray:
        return np.zeros((batch, 0), np.float32)

    def evaluate(
        self, observation: dict[str, np.ndarray], memory: np.ndarray, legal: np.ndarray | None = None
    ) -> tuple[ModelOutput, np.ndarray]:
        core, game = self.core, self.core.game
        t = observation["t"]
        belief = belief_from_history(core.human_policy, game.prior, t, observation["recent_states"], observation["recent_human_actions"])
        step = np.minimum(t, core.horizon - 1)
        human = np.einsum("bk,bka->ba", belief, core.human_policy[step, observation["state"]])  # [B, A_H]
        B = len(t)
        output = ModelOutput(
            policy_logits=np.zeros((B, game.num_assistant_actions), np.float32),
            value=self._value(t, observation["state"], belief),
            goal_logits=np.log(belief + TINY).astype(np.float32)[:, None, :],
            human_logits=np.log(human + TINY).astype(np.float32),
        )
        return output, memory

    def _value(self, t: np.ndarray, state: np.ndarray, belief: np.ndarray) -> np.ndarray:
        """[B] float32 the node value at steps ``t`` (see the module docstring)."""
        step = np.minimum(t, self.core.horizon - 1)
        if self.value == "zero":
            return np.zeros(len(step), np.float32)
        if self.value == "qmdp":
            return np.einsum("bk,bk->b", belief, self._oracle_value[step, state]).astype(np.float32)
        game = self.core.game
        values = [
            0.0 if t >= game.horizon or game.terminal[s] else self._bayes.q_values(int(t), int(s), b).max()
            for t, s, b in zip(t, state, belief)
        ]
        return np.asarray(values, np.float32)
