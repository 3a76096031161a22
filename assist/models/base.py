"""The policy-value model contract.

Given the assistant's observations of B games and a recurrent memory, a model returns a
:class:`ModelOutput`: action logits for the assistant, a value, goal logits (the belief,
one categorical per goal factor) and logits of the human's next action (the human model).
The search sees models only through :class:`Evaluator` (numpy in, numpy out); the learner
trains the torch modules behind it.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np


class ModelOutput(NamedTuple):
    """What a model says about B games (numpy float32 for the search, torch for learning).

    policy_logits: [B, A] the assistant's action logits (before masking).
    value: [B] expected discounted return from here.
    goal_logits: [B, F, K] logits of each goal factor (softmax over K is the belief).
    human_logits: [B, A_H] logits of the human's action this step (before masking).
    """

    policy_logits: np.ndarray
    value: np.ndarray
    goal_logits: np.ndarray
    human_logits: np.ndarray


@runtime_checkable
class Evaluator(Protocol):
    """A model as the search calls it: batched, numpy, no gradients.

    ``memory`` is the recurrent state carried through time, [B, M] float32 (M may be 0
    for a memoryless model); the search stores it per tree node.

    ``legal`` ([B, A] bool, optional) is the assistant's legal actions. Callers that know
    them pass them: a model that scores actions one by one (the LM assistant) then scores
    only these and gives the others ``-inf``; models with a fixed output layer ignore it.
    """

    memory_size: int

    def initial_memory(self, batch: int) -> np.ndarray:
        """[batch, M] float32 memory at the start of an episode."""

    def evaluate(
        self, observation: dict[str, np.ndarray], memory: np.ndarray, legal: np.ndarray | None = None
    ) -> tuple[ModelOutput, np.ndarray]:
        """Outputs for the assistant's ``observation`` (arrays with leading B) after
        ``memory``; returns them and the memory that includes this observation. The search
        keeps the returned logits without copying them until it ends: return new arrays
        (or read-only views), never a buffer that a later call overwrites."""


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax (float32); ``-inf`` logits get probability 0."""
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)


def masked_logits(logits: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """``logits`` with illegal entries (``legal`` False) set to ``-inf``."""
    return np.where(legal, logits, -np.inf).astype(np.float32)


class LazyBelief:
    """Goal probabilities computed from logits ([B, F, K]) only where they are indexed.

    ``belief[rows, factors]`` is the softmax of ``logits[rows, factors]`` over K; a planner
    that needs the belief at a few factors per game (the voxels a step changed) never pays
    for the softmax over all of them. ``np.asarray(belief)`` gives the whole array.
    """

    def __init__(self, logits: np.ndarray):
        self.logits = logits
        self.shape = logits.shape

    def __getitem__(self, index) -> np.ndarray:
        return softmax(self.logits[index])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        probs = softmax(self.logits)
        return probs if dtype is None else probs.astype(dtype)
