"""Two models as one :class:`~assist.models.base.Evaluator`: the policy of one, everything
else of the other.

    evaluator = PriorAndModel(prior=lm_evaluator, model=conv_evaluator)

The search then takes its prior (``policy_logits``) from ``prior``, e.g. the LM's scores of
the legal actions' texts, and its value, goal belief and human model from ``model``, e.g.
a conv AssistanceZero network whose belief is calibrated on the game. Both see the same
observation and legal actions; their memories ride side by side in one ``[B, M_prior +
M_model]`` memory, the prior's first.
"""

from __future__ import annotations

import numpy as np

from assist.models.base import Evaluator, ModelOutput


class PriorAndModel:
    """The Evaluator whose ``policy_logits`` are ``prior``'s and whose ``value``,
    ``goal_logits`` and ``human_logits`` are ``model``'s (two Evaluators of one game)."""

    def __init__(self, prior: Evaluator, model: Evaluator):
        self.prior, self.model = prior, model
        self.memory_size = prior.memory_size + model.memory_size

    @property
    def device(self):
        """The prior's device: in the search loop, the model being trained."""
        return self.prior.device

    def initial_memory(self, batch: int) -> np.ndarray:
        return np.concatenate([self.prior.initial_memory(batch), self.model.initial_memory(batch)], axis=1)

    def evaluate(self, observation: dict[str, np.ndarray], memory: np.ndarray, legal: np.ndarray | None = None) -> tuple[ModelOutput, np.ndarray]:
        """Both models on ``observation`` (``memory`` [B, M_prior + M_model] split between
        them); the prior's policy logits with the model's other outputs, and both new memories."""
        split = self.prior.memory_size
        prior, prior_memory = self.prior.evaluate(observation, memory[:, :split], legal)
        output, model_memory = self.model.evaluate(observation, memory[:, split:], legal)
        return output._replace(policy_logits=prior.policy_logits), np.concatenate([prior_memory, model_memory], axis=1)
