"""The LM assistant as one torch module: a causal LM plus its heads, differentiable.

    policy, tokenizer = load_policy(core, path)         # path None: the default model
    out = policy(prompts, candidates)                   # PolicyOutput, with gradients
    policy.save(directory, tokenizer)                   # LM + tokenizer + heads, side by side

Learning code calls :class:`LMPolicy` directly; the search and the players go through
:class:`~assist.llm.evaluator.LMEvaluator` (numpy, no gradients).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from assist.llm.encoding import TextEncoder
from assist.llm.heads import Heads, heads_for
from assist.llm.lm import ensure_default_lm, load_lm, model_dir
from assist.llm.scoring import MAX_ROWS, Candidates, Prompts, score_cached, score_uncached
from assist.models.base import ModelOutput
from assist.models.torch_evaluator import resolve_device
from envs.core import GameCore


class PolicyOutput(NamedTuple):
    """log_prob: [N] each candidate's log-likelihood (nats); value: [B]; goal_logits:
    [B, F, K]; human_logits: [B, A_H] (all float32 tensors)."""

    log_prob: torch.Tensor
    value: torch.Tensor
    goal_logits: torch.Tensor
    human_logits: torch.Tensor


class LMPolicy(nn.Module):
    """A causal LM (``lm``) and its :class:`~assist.llm.heads.Heads` (``heads``)."""

    def __init__(self, lm: PreTrainedModel, heads: Heads):
        super().__init__()
        self.lm = lm
        self.heads = heads

    def forward(
        self,
        prompts: Prompts,
        candidates: Candidates,
        cached: bool = True,
        max_rows: int = MAX_ROWS,
        current: torch.Tensor | None = None,
        owner: torch.Tensor | None = None,
    ) -> PolicyOutput:
        """Candidate log-likelihoods (with the prompt encoded once when ``cached``, else in
        full per candidate) and the heads' outputs at each prompt's last token (``current``
        and ``owner`` [B, F]: the goal factors' current values and who changed them last,
        see :class:`~assist.llm.heads.Heads`)."""
        score = score_cached if cached else score_uncached
        scores = score(self.lm, prompts, candidates, max_rows)
        return PolicyOutput(scores.log_prob, *self.heads(scores.hidden, current, owner))

    def outputs(
        self,
        encoder: TextEncoder,
        observation: dict[str, np.ndarray],
        legal: np.ndarray | None,
        cached: bool = True,
        max_rows: int = MAX_ROWS,
    ) -> tuple[ModelOutput, int]:
        """The model's outputs for B games as torch tensors (``policy_logits`` [B, A]: the
        legal actions' log-likelihoods, ``-inf`` elsewhere; ``legal`` [B, A] bool, None:
        all) and the number of tokens it read (prompts and candidates)."""
        device = next(self.parameters()).device
        prompts, candidates, pairs = encoder.batch(observation, legal, device)
        core = encoder.core
        evidence = (core.observed_goal_factors(observation), core.observed_goal_owners(observation))
        current, owner = (None if a is None else torch.from_numpy(a).to(device) for a in evidence)
        out = self(prompts, candidates, cached, max_rows, current, owner)
        logits = out.log_prob.new_full((len(prompts.ids), len(encoder.actions)), -torch.inf)
        logits = logits.index_put((torch.from_numpy(pairs[:, 0]), torch.from_numpy(pairs[:, 1])), out.log_prob)
        tokens = int(prompts.mask.sum()) + int(candidates.mask.sum())
        return ModelOutput(logits, out.value, out.goal_logits, out.human_logits), tokens

    def parameter_groups(self, head_lr: float) -> list[dict]:
        """Adam's parameter groups: the LM's (at the optimizer's learning rate) and the
        heads' at ``head_lr``: the heads start from zero and are small, so they learn at a
        probe's rate while the LM moves at a fine-tuning rate."""
        return [{"params": list(self.lm.parameters())}, {"params": list(self.heads.parameters()), "lr": head_lr}]

    def save(self, directory: str | Path, tokenizer: PreTrainedTokenizerBase | None = None) -> None:
        """Write the LM (``save_pretrained``), the ``tokenizer`` if given, and the heads
        (``heads.safetensors`` + ``heads.json``) into ``directory``."""
        self.lm.save_pretrained(directory)
        if tokenizer is not None:
            tokenizer.save_pretrained(directory)
        self.heads.save(directory)


def load_policy(
    core: GameCore, path: str | Path | None = None, device: str | torch.device = "auto"
) -> tuple[LMPolicy, PreTrainedTokenizerBase]:
    """The LM assistant in the local model directory ``path`` (or an LM training run's, see
    :func:`~assist.llm.lm.model_dir`; None: the default model, created on first use) for ``core``'s game, on ``device`` (``"auto"``: CUDA when
    available), with its tokenizer. The heads come from the directory when saved there,
    else fresh (see :func:`~assist.llm.heads.heads_for`)."""
    path = ensure_default_lm() if path is None else model_dir(path)
    device = resolve_device(device)
    lm, tokenizer = load_lm(path, device)
    heads = heads_for(core, path, lm.config.get_text_config().hidden_size)
    return LMPolicy(lm, heads).to(device).eval(), tokenizer
