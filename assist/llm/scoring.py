"""Log-likelihoods of candidate token sequences after prompts, with any causal LM.

A batch holds B prompts (left-padded, :class:`Prompts`) and N candidates
(right-padded, :class:`Candidates`), each candidate belonging to one prompt. A
candidate's score is ``sum_j log p(c_j | prompt, c_<j)`` over its real tokens, each term
a ``log_softmax`` over the whole vocabulary; padded positions add exactly zero.

- :func:`score_cached` runs each prompt once (``use_cache=True``) and then only the
  candidate tokens against its cached keys and values: the prompt is encoded once,
  however many candidates it has. Up to ``group`` candidates of one prompt share one row
  (their tokens side by side, each attending to the prompt and to its own earlier tokens
  only, through a 4-D attention mask, with positions counted from the prompt's end), so
  the cache is copied once per group rather than once per candidate.
- :func:`score_uncached` runs every (prompt + candidate) sequence in full: the reference
  the cached path must match (``tests/test_llm_scoring.py``: to 1e-5).

Both are differentiable (wrap them in ``torch.inference_mode`` to score without
gradients) and both return the LM's final hidden state at each prompt's last token, the
input of the value / goal / human heads. They need a model whose ``forward`` takes
``attention_mask`` (2-D, and 4-D additive masks: the ``sdpa`` and ``eager`` attention
implementations), ``position_ids``, ``cache`` and ``logits_to_keep`` and whose cache is a
:class:`~transformers.DynamicCache` (the decoder-only models of transformers 5).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from transformers import DynamicCache, PreTrainedModel

MAX_ROWS = 1024
"""Default candidates per forward pass (bounds the activation memory)."""
GROUP = 32
"""Default candidates per row in :func:`score_cached`."""


class Prompts(NamedTuple):
    """B prompts, left-padded to a common length P.

    ids: [B, P] int64 token ids (padding: any id). mask: [B, P] int64, 1 on real tokens.
    """

    ids: torch.Tensor
    mask: torch.Tensor


class Candidates(NamedTuple):
    """N candidate continuations, right-padded to a common length L >= 1.

    ids: [N, L] int64 token ids (padding: any id). mask: [N, L] int64, 1 on real tokens
    (each candidate has at least one). prompt: [N] int64, the prompt row each belongs to.
    """

    ids: torch.Tensor
    mask: torch.Tensor
    prompt: torch.Tensor


class Scores(NamedTuple):
    """log_prob: [N] float32 each candidate's log-likelihood (nats).
    hidden: [B, H] the final hidden state at each prompt's last token."""

    log_prob: torch.Tensor
    hidden: torch.Tensor


def pad_prompts(sequences: list[list[int]], pad_id: int, device: torch.device | str = "cpu") -> Prompts:
    """Left-pad token-id lists (each non-empty) into :class:`Prompts` on ``device``."""
    length = max(map(len, sequences))
    ids = torch.full((len(sequences), length), pad_id, dtype=torch.int64)
    mask = torch.zeros((len(sequences), length), dtype=torch.int64)
    for row, sequence in enumerate(sequences):
        if sequence:
            ids[row, length - len(sequence) :] = torch.tensor(sequence)
            mask[row, length - len(sequence) :] = 1
    return Prompts(ids.to(device), mask.to(device))


def pad_candidates(sequences: list[list[int]], prompt: list[int], pad_id: int, device: torch.device | str = "cpu") -> Candidates:
    """Right-pad token-id lists (each non-empty) into :class:`Candidates`; ``prompt[n]`` is
    the prompt row of sequence ``n``."""
    length = max(map(len, sequences))
    ids = torch.full((len(sequences), length), pad_id, dtype=torch.int64)
    mask = torch.zeros((len(sequences), length), dtype=torch.int64)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.tensor(sequence)
        mask[row, : len(sequence)] = 1
    return Candidates(ids.to(device), mask.to(device), torch.as_tensor(prompt, dtype=torch.int64).to(device))


def token_log_probs(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[N] sum over positions of ``log_softmax(logits)[target]`` where ``mask`` is 1
    (``logits`` [N, T, V], ``targets`` and ``mask`` [N, T]); masked positions add zero."""
    picked = torch.gather(F.log_softmax(logits.float(), dim=-1), -1, targets.unsqueeze(-1)).squeeze(-1)
    return torch.where(mask.bool(), picked, torch.zeros_like(picked)).sum(dim=-1)


def positions(mask: torch.Tensor) -> torch.Tensor:
    """[B, T] int64 position of each token: the number of real tokens before it (0 on left padding)."""
    return (mask.cumsum(dim=-1) - 1).clamp(min=0)


def check_positions(model: PreTrainedModel, length: int) -> None:
    """A ValueError naming the fix when sequences of ``length`` tokens do not fit ``model``'s
    positions (``max_position_embeddings`` in its config, GPT-2's ``n_positions``): past them
    a learned position embedding has no row, and rotary ones were never trained."""
    limit = getattr(model.config.get_text_config(), "max_position_embeddings", None)
    if limit is not None and length > limit:
        raise ValueError(
            f"a prompt and its action take {length} tokens but the model has {limit} positions (max_position_embeddings "
            "in its config.json); play a smaller game configuration, or use a model with more positions "
            "(TinyLMConfig.max_positions for a created one)"
        )


def score_cached(model: PreTrainedModel, prompts: Prompts, candidates: Candidates, max_rows: int = MAX_ROWS, group: int = GROUP) -> Scores:
    """Candidate log-likelihoods with each prompt encoded once (see the module docstring),
    ``group`` candidates per row and about ``max_rows`` candidates per forward pass."""
    check_positions(model, prompts.ids.shape[1] + candidates.ids.shape[1])
    out = model(
        input_ids=prompts.ids,
        attention_mask=prompts.mask,
        position_ids=positions(prompts.mask),
        use_cache=True,
        output_hidden_states=True,
        logits_to_keep=1,
    )
    first = F.log_softmax(out.logits[:, -1].float(), dim=-1)  # [B, V]: the next token after each prompt
    log_prob = first[candidates.prompt, candidates.ids[:, 0]]
    if candidates.ids.shape[1] > 1:
        layout = _pack(candidates.prompt, len(prompts.ids), group)
        step = max(1, max_rows // group)
        for start in range(0, len(layout.game), step):
            rows = torch.arange(start, min(start + step, len(layout.game)), device=log_prob.device)
            members, part = _continue(model, out.cache, prompts, candidates, layout, rows)
            log_prob = log_prob.index_add(0, members, part)
    return Scores(log_prob, out.hidden_states[-1][:, -1])


class _Layout(NamedTuple):
    """Candidates packed into rows: row [N] and slot [N] of each candidate; game [R] of each row."""

    row: torch.Tensor
    slot: torch.Tensor
    game: torch.Tensor


def _pack(prompt: torch.Tensor, batch: int, group: int) -> _Layout:
    """Each prompt's candidates (``prompt`` [N], any order) in rows of at most ``group`` slots."""
    counts = torch.bincount(prompt, minlength=batch)
    order = torch.argsort(prompt, stable=True)
    rank = torch.empty_like(prompt)
    rank[order] = torch.arange(len(prompt), device=prompt.device) - (counts.cumsum(0) - counts)[prompt[order]]
    rows_per_prompt = (counts + group - 1) // group
    first_row = rows_per_prompt.cumsum(0) - rows_per_prompt
    game = torch.repeat_interleave(torch.arange(batch, device=prompt.device), rows_per_prompt)
    return _Layout(first_row[prompt] + rank // group, rank % group, game)


def _continue(
    model: PreTrainedModel, cache: DynamicCache, prompts: Prompts, candidates: Candidates, layout: _Layout, rows: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The candidates in packed ``rows`` ([M] int64 indices) and the log-likelihood of
    their tokens 1.. given their prompts' ``cache``."""
    members = torch.nonzero((layout.row >= rows[0]) & (layout.row <= rows[-1]))[:, 0]  # [n]
    width = candidates.ids.shape[1] - 1  # tokens fed per candidate: all but the last
    slots = int(layout.slot[members].max()) + 1
    where = layout.slot[members, None] * width + torch.arange(width, device=rows.device)  # [n, width] columns in the row
    local = layout.row[members, None] - rows[0]
    ids = torch.zeros((len(rows), slots * width), dtype=torch.int64, device=rows.device)
    ids[local, where] = candidates.ids[members, :-1]
    game = layout.game[rows]
    copy = DynamicCache(ddp_cache_data=[(layer.keys[game], layer.values[game]) for layer in cache.layers], config=model.config)
    logits = model(
        input_ids=ids,
        attention_mask=_slot_mask(prompts.mask[game], slots, width, next(model.parameters()).dtype),
        position_ids=prompts.mask.sum(dim=-1)[game, None] + torch.arange(slots * width, device=rows.device) % width,
        cache=copy,
    ).logits  # [M, Q, V]
    return members, token_log_probs(logits[local, where], candidates.ids[members, 1:], candidates.mask[members, 1:])


def _slot_mask(prompt_mask: torch.Tensor, slots: int, width: int, dtype: torch.dtype) -> torch.Tensor:
    """[M, 1, Q, P + Q] additive attention mask (0: attend, dtype's min: not) of M rows of
    ``slots`` candidates of ``width`` tokens (Q = slots * width) after prompts whose real
    tokens are ``prompt_mask`` [M, P]: each token sees its prompt and its own candidate's
    tokens up to itself."""
    column = torch.arange(slots * width, device=prompt_mask.device)
    own = (column[:, None] // width == column[None, :] // width) & (column[None, :] <= column[:, None])  # [Q, Q]
    sees_prompt = prompt_mask.bool()[:, None, None, :].expand(-1, 1, len(column), -1)
    allowed = torch.cat([sees_prompt, own.expand(len(prompt_mask), 1, -1, -1)], dim=-1)
    return torch.zeros(allowed.shape, dtype=dtype, device=prompt_mask.device).masked_fill(~allowed, torch.finfo(dtype).min)


def score_uncached(model: PreTrainedModel, prompts: Prompts, candidates: Candidates, max_rows: int = MAX_ROWS) -> Scores:
    """Candidate log-likelihoods from full (prompt + candidate) sequences, ``max_rows`` at a time."""
    P = prompts.ids.shape[1]
    check_positions(model, P + candidates.ids.shape[1])
    parts = []
    for i in range(0, len(candidates.prompt), max_rows):
        rows = slice(i, i + max_rows)
        owner = candidates.prompt[rows]
        ids = torch.cat([prompts.ids[owner], candidates.ids[rows]], dim=1)
        mask = torch.cat([prompts.mask[owner], candidates.mask[rows]], dim=1)
        logits = model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], position_ids=positions(mask[:, :-1])).logits
        parts.append(token_log_probs(logits[:, P - 1 :], candidates.ids[rows], candidates.mask[rows]))
    out = model(
        input_ids=prompts.ids,
        attention_mask=prompts.mask,
        position_ids=positions(prompts.mask),
        output_hidden_states=True,
        logits_to_keep=1,
    )
    return Scores(torch.cat(parts), out.hidden_states[-1][:, -1])
