"""Vectorized helpers of the search: Q normalization, sampling and top-K slot selection."""

from __future__ import annotations

import numpy as np

from assist.models.base import masked_logits, softmax
from assist.search.tree import UNUSED


def normalized_q(q: np.ndarray, q_min: np.ndarray, q_max: np.ndarray) -> np.ndarray:
    """[G, K] Q-values ``q`` min-max normalized per game by the bounds ``q_min``, ``q_max``
    ([G], the extremes backed up in the game's tree so far): in [0, 1], and 0.5 while a
    game's bounds do not yet span a range (MuZero's normalization)."""
    lo, hi = q_min[:, None], q_max[:, None]
    return np.where(hi > lo, (q - lo) / np.maximum(hi - lo, 1e-8), 0.5)


def sample_categorical(probs: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """[B, count] int64 draws with replacement from each row of ``probs`` [B, A]."""
    B, A = probs.shape
    cdf = np.cumsum(probs, axis=1, dtype=np.float64)
    cdf /= cdf[:, -1:]
    flat = (cdf + np.arange(B)[:, None]).ravel()
    u = rng.random((B, count)) * (1 - 1e-12) + np.arange(B)[:, None]
    index = np.searchsorted(flat, u, side="right") - np.arange(B)[:, None] * A
    return np.clip(index, 0, A - 1).astype(np.int64)


def sample_from_logits(logits: np.ndarray, legal: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """[B, count] int64 draws from the softmax of ``logits`` [B, A] over the ``legal``
    actions (each row needs one), one per uniform in ``uniforms`` ([B, count] in [0, 1),
    by the inverse of the cumulative distribution), without normalizing: one running sum
    over all rows' unnormalized weights, then each row's draws fall inside that row's
    span of it."""
    B, A = logits.shape
    weights = np.where(legal, logits, -np.inf).astype(np.float32, copy=False)
    weights -= weights.max(axis=1, keepdims=True)
    np.exp(weights, out=weights)
    running = weights.ravel().astype(np.float64)
    np.cumsum(running, out=running)
    ends = running[A - 1 :: A]
    starts = np.concatenate([[0.0], ends[:-1]])
    u = starts[:, None] + uniforms * ((ends - starts) * (1 - 1e-9))[:, None]
    index = np.searchsorted(running, u, side="right") - np.arange(B)[:, None] * A
    return np.clip(index, 0, A - 1).astype(np.int64)


def top_k_slots(
    logits: np.ndarray, legal: np.ndarray, k: int, rewards: np.ndarray | None = None, reward_slots: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The top-``k`` legal actions by prior: ([B, k] int64 actions, -1 where fewer are
    legal; [B, k] float32 priors renormalized over them, i.e. the softmax of their
    logits), best first. With ``rewards`` ([B, A], -inf where illegal), the
    ``reward_slots`` actions of highest reward come first, then the rest by prior."""
    B, A = logits.shape
    k_eff = min(k, A)
    masked = masked_logits(logits, legal)
    score = masked
    if rewards is not None and reward_slots:
        r = min(reward_slots, k_eff)
        best = np.argpartition(-rewards, r - 1, axis=1)[:, :r] if r < A else np.tile(np.arange(A), (B, 1))
        score = masked.copy()
        np.put_along_axis(score, best, np.where(np.isfinite(np.take_along_axis(rewards, best, axis=1)), np.inf, -np.inf), axis=1)
    top = np.argpartition(-score, k_eff - 1, axis=1)[:, :k_eff] if k_eff < A else np.tile(np.arange(A), (B, 1))
    order = np.argsort(-np.take_along_axis(score, top, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    top_logits = np.take_along_axis(masked, top, axis=1)
    valid = np.isfinite(top_logits)
    actions = np.full((B, k), UNUSED, np.int64)
    priors = np.zeros((B, k), np.float32)
    actions[:, :k_eff] = np.where(valid, top, UNUSED)
    priors[:, :k_eff] = softmax(top_logits)
    return actions, priors
