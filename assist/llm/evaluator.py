"""The LM assistant as the search's :class:`~assist.models.base.Evaluator`: numpy in, numpy out.

    evaluator = LMEvaluator.load(core, path=None)         # the default model
    output, memory = evaluator.evaluate(core.observe(state, "assistant_0"), memory, legal)

``policy_logits`` [B, A] are the LM's log-likelihoods of the legal actions' strings after
the prompt (illegal actions: ``-inf``; only the legal ones are scored, so the cost grows
with the legal actions, not the action space); value, goal and human logits come from
the heads. Its memory is empty (M = 0): the prompt is the memory, since the codec's
prompt already holds what the assistant needs of the past (the human's recent actions
and messages, from the observation).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from assist.llm.encoding import TextEncoder
from assist.llm.policy import LMPolicy, load_policy
from assist.llm.scoring import MAX_ROWS
from assist.models.base import ModelOutput
from assist.models.torch_evaluator import to_numpy
from envs.core import ASSISTANT, GameCore


class LMEvaluator:
    """Evaluates ``policy`` (an :class:`~assist.llm.policy.LMPolicy` on its device) on
    ``core``'s assistant observations.

    Args:
        cached: score candidates against the prompt's cached keys and values (the prompt
            is encoded once per game); False re-encodes it per candidate (the reference).
        max_rows: candidate rows per forward pass.
    """

    memory_size = 0

    def __init__(self, core: GameCore, policy: LMPolicy, tokenizer, cached: bool = True, max_rows: int = MAX_ROWS):
        self.core = core
        self.policy = policy
        self.encoder = TextEncoder(core, tokenizer, ASSISTANT)
        self.num_actions = core.num_actions(ASSISTANT)
        self.cached = cached
        self.max_rows = max_rows

    @classmethod
    def load(cls, core: GameCore, path: str | Path | None = None, device: str | torch.device = "auto", **options) -> LMEvaluator:
        """The evaluator of the model directory ``path`` (None: the default model)."""
        policy, tokenizer = load_policy(core, path, device)
        return cls(core, policy, tokenizer, **options)

    @property
    def device(self) -> torch.device:
        return next(self.policy.parameters()).device

    def initial_memory(self, batch: int) -> np.ndarray:
        return np.zeros((batch, 0), np.float32)

    def evaluate(
        self, observation: dict[str, np.ndarray], memory: np.ndarray, legal: np.ndarray | None = None
    ) -> tuple[ModelOutput, np.ndarray]:
        """Outputs for B games (``legal`` [B, A] bool: the actions to score; None: all)."""
        prompts, candidates, pairs = self.encoder.batch(observation, legal, self.device)
        self.policy.eval()
        with torch.inference_mode():
            out = self.policy(prompts, candidates, self.cached, self.max_rows)
        logits = np.full((len(prompts.ids), self.num_actions), -np.inf, np.float32)
        logits[pairs[:, 0], pairs[:, 1]] = to_numpy(out.log_prob)
        return ModelOutput(logits, to_numpy(out.value), to_numpy(out.goal_logits), to_numpy(out.human_logits)), memory
