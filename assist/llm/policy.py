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

import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from assist.llm.heads import Heads, heads_for
from assist.llm.lm import ensure_default_lm, load_lm
from assist.llm.scoring import MAX_ROWS, Candidates, Prompts, score_cached, score_uncached
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

    def forward(self, prompts: Prompts, candidates: Candidates, cached: bool = True, max_rows: int = MAX_ROWS) -> PolicyOutput:
        """Candidate log-likelihoods (with the prompt encoded once when ``cached``, else in
        full per candidate) and the heads' outputs at each prompt's last token."""
        score = score_cached if cached else score_uncached
        scores = score(self.lm, prompts, candidates, max_rows)
        return PolicyOutput(scores.log_prob, *self.heads(scores.hidden))

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
    """The LM assistant in the local model directory ``path`` (None: the default model,
    created on first use) for ``core``'s game, on ``device`` (``"auto"``: CUDA when
    available), with its tokenizer. The heads come from the directory when saved there,
    else fresh (see :func:`~assist.llm.heads.heads_for`)."""
    path = ensure_default_lm() if path is None else Path(path)
    device = resolve_device(device)
    lm, tokenizer = load_lm(path, device)
    heads = heads_for(core, path, lm.config.get_text_config().hidden_size)
    return LMPolicy(lm, heads).to(device).eval(), tokenizer
