"""Vectorized sampling over legal-action masks."""

from __future__ import annotations

import numpy as np

WORD = 64
"""Actions per 64-bit word in :func:`sample_legal`'s two-level search."""


def sample_legal(legal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """[B] int64 uniformly random legal actions of a [B, A] bool mask (each row needs one).

    Two levels over the bit-packed mask: count legal actions per 64-action word with a
    popcount, pick a word in proportion to its count, then the action inside it. The
    cost is one pass over the mask (packing) plus O(A / 64 + 64) per row.
    """
    B, A = legal.shape
    packed = np.packbits(legal, axis=1)  # [B, ceil(A / 8)] uint8, first action = high bit
    pad = -packed.shape[1] % 8
    if pad:
        packed = np.concatenate([packed, np.zeros((B, pad), np.uint8)], axis=1)
    words = packed.view(np.uint64)  # [B, W], byte order irrelevant to the count
    counts = np.bitwise_count(words).astype(np.int32)
    cumulative = np.cumsum(counts, axis=1)
    total = cumulative[:, -1]
    if np.any(total == 0):
        raise ValueError(f"rows {np.flatnonzero(total == 0).tolist()} have no legal action")
    r = (rng.random(B) * total).astype(np.int64)
    word = (cumulative <= r[:, None]).sum(axis=1)
    rows = np.arange(B)
    r -= cumulative[rows, word] - counts[rows, word]
    bits = np.unpackbits(packed.reshape(B, -1, 8)[rows, word], axis=1)  # [B, 64]
    offset = (np.cumsum(bits, axis=1) <= r[:, None]).sum(axis=1)
    return (word * WORD + offset).astype(np.int64)


def sample_softmax(values: np.ndarray, legal: np.ndarray, beta: float, rng: np.random.Generator) -> np.ndarray:
    """[B] int64 actions drawn from softmax(beta * values) over legal actions ([B, A] each)."""
    logits = np.where(legal, beta * values, -np.inf)
    gumbel = rng.gumbel(size=logits.shape)
    return np.argmax(logits + gumbel, axis=1).astype(np.int64)


def argmax_random_ties(values: np.ndarray, rng: np.random.Generator, tolerance: float = 1e-6) -> np.ndarray:
    """[B] int64 argmax of [B, A] values, ties (within ``tolerance``) broken uniformly."""
    best = values.max(axis=1, keepdims=True)
    return sample_legal(values >= best - tolerance, rng)
