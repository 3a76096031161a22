"""Stage 4 of the LM pipeline, ``algo=search_loop``: the AssistanceZero loop with the LM
as the search's model. Search improves the LM (RL for LLM); the LM focuses the search
(LLM for RL).

It is :class:`~assist.learning.assistancezero.AssistanceZeroTrainer` itself (self-play
with the MCTS, the replay buffer, the periodic held-out evaluation with the search) with
the LM of ``init`` behind an :class:`~assist.llm.evaluator.LMEvaluator` (legal actions
scored by their text; value, goal belief and human model from the heads). The learner's
loss is AssistanceZero's, on the LM's outputs for the replayed steps: cross-entropy of
the LM's scores of the legal candidates to the search's visit targets over its slot
actions, value regression to the discounted returns, goal cross-entropy, human-action
cross-entropy, the goal-belief KL; and optionally

    + pg_weight * REINFORCE on the action played, advantage = return - value (detached)
    + kl_weight * KL(LM || the frozen ``init`` model), exact over the legal candidates

Logged as AssistanceZero's, plus ``losses/pg``, ``losses/kl`` (when weighted),
``perf/tokens_per_s`` of the learner, and the free-text mode's counters at evaluation.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from assist import evaluation
from assist.learning.assistancezero import PER_SEQUENCE, AssistanceZeroTrainer, output_terms, step_fields
from assist.learning.llm_configs import SearchLoopConfig
from assist.learning.llm_stage import LMModel, frozen_reference, log_free_text_eval
from assist.learning.losses import candidate_kl, chosen_log_prob, policy_gradient_loss
from assist.learning.trainer import TrainingContext
from assist.models.base import Evaluator
from assist.search.config import SearchConfig


class LMSearchTrainer(LMModel, AssistanceZeroTrainer):
    """AssistanceZero with the LM of ``config.init`` as its model (:class:`LMModel`; see the module docstring)."""

    def __init__(self, context: TrainingContext, search: SearchConfig, config: SearchLoopConfig, belief: Evaluator | None = None):
        if (belief is None) != (config.belief_run is None):
            raise ValueError(f"LMSearchTrainer: belief must be the network of config.belief_run={config.belief_run!r}, got {belief!r}")
        super().__init__(context, config, belief=belief, search=search)
        self.reference = frozen_reference(context.core, config.init, self.device) if config.kl_weight > 0 else None
        self.tokens, self.learn_seconds = 0, 0.0

    def loss_weights(self) -> dict[str, float]:
        cfg = self.config
        return {**super().loss_weights(), "pg": cfg.pg_weight, "kl": cfg.kl_weight}

    def loss_terms(self, sample: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        """AssistanceZero's terms on the LM's outputs for the sampled steps, and the
        weighted optional ones (``pg``, ``kl``)."""
        flat_numpy = {key: value.reshape((-1,) + value.shape[2:]) for key, value in sample.items() if key not in PER_SEQUENCE}
        observation = {key.split(".", 1)[1]: value for key, value in flat_numpy.items() if key.startswith("observation.")}
        out, tokens = self.policy.outputs(self.encoder, observation, flat_numpy["legal"])
        self.tokens += tokens
        flat = step_fields(self.tensors({key: value for key, value in sample.items() if not key.startswith("observation.")}))
        terms = output_terms(out, flat)
        if self.config.pg_weight > 0:
            advantage = flat["returns"] - out.value.detach()
            terms["pg"] = policy_gradient_loss(chosen_log_prob(out.policy_logits, flat["legal"], flat["action"]), advantage)
        if self.reference is not None:
            with torch.no_grad():
                reference, _ = self.reference.outputs(self.encoder, observation, flat_numpy["legal"])
            terms["kl"] = candidate_kl(out.policy_logits, reference.policy_logits, flat["legal"])
        return terms

    def update(self, trunk_grads: bool = False) -> dict[str, float]:
        tic = time.perf_counter()
        terms = super().update(trunk_grads)
        self.learn_seconds += time.perf_counter() - tic
        return terms

    def finish_iteration(self, progress=None) -> None:
        self.logger.scalars("perf", {"tokens_per_s": self.tokens / max(self.learn_seconds, 1e-9)}, self.env_steps)
        self.tokens, self.learn_seconds = 0, 0.0
        super().finish_iteration(progress)

    def evaluate(self, record: list | None = None) -> dict[str, evaluation.Summary]:
        """AssistanceZero's held-out evaluation (the search over the LM), plus the free-text mode's counters."""
        summary = super().evaluate(record)
        log_free_text_eval(self)
        return summary
