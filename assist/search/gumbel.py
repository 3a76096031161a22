"""The Gumbel root of the search: top-m sampling and sequential halving."""

from __future__ import annotations

import numpy as np

from assist.models.base import softmax
from assist.search.config import SearchConfig
from assist.search.selection import normalized_q
from assist.search.tree import Tree


class GumbelRoot:
    """Gumbel top-m root action sampling with sequential halving (Danihelka et al., 2022).

    The root considers the m slots with the largest ``g + logit`` (g ~ Gumbel), splits
    the simulation budget into ``ceil(log2 m)`` phases, visits each remaining slot equally
    in a phase, then keeps the better half by ``g + logit + sigma(Q)``. The target is the
    improved policy softmax(logit + sigma(completed Q)); the action is the survivor.
    """

    def __init__(self, tree: Tree, config: SearchConfig, rng: np.random.Generator):
        self.config = config
        valid = tree.slot_action[:, 0] >= 0
        self.logits = np.where(valid, np.log(np.maximum(tree.slot_prior[:, 0], 1e-12)), -np.inf)
        self.gumbel = config.gumbel_scale * rng.gumbel(size=self.logits.shape)
        B, K = self.logits.shape
        m = min(config.gumbel_actions, K)
        order = np.argsort(-(self.logits + self.gumbel), axis=1)
        self.alive = np.zeros((B, K), bool)
        np.put_along_axis(self.alive, order[:, :m], True, axis=1)
        self.alive &= valid
        self.phases = max(1, int(np.ceil(np.log2(max(m, 2)))))
        self.phase_end = np.zeros(0)
        self._plan(m)

    def _plan(self, m: int) -> None:
        """Split the simulations into phases, each ending with a halving."""
        n = self.config.num_simulations
        ends, done, alive = [], 0, m
        for phase in range(self.phases):
            per = max(1, n // (self.phases * max(alive, 1)))
            done = min(n, done + per * alive) if phase < self.phases - 1 else n
            ends.append(done)
            alive = max(1, alive // 2)
        self.phase_end = np.array(ends)

    def _sigma(self, tree: Tree, q_min, q_max) -> np.ndarray:
        """[B, K] sigma(completed Q): (c_visit + max visits) * c_scale * normalized Q."""
        B = tree.batch_size
        q = tree.slot_q(np.arange(B), np.zeros(B, np.int64))
        q = np.where(np.isnan(q), tree.value[:, :1], q)
        q_norm = normalized_q(q, q_min, q_max)
        max_visits = tree.slot_visits[:, 0].max(axis=1, keepdims=True)
        return (self.config.gumbel_c_visit + max_visits) * self.config.gumbel_c_scale * q_norm

    def next_slot(self, tree: Tree, q_min, q_max, sim: int) -> np.ndarray:
        """[B] the root slot for simulation ``sim``: the least-visited surviving slot."""
        if len(self.phase_end) > 1 and sim in self.phase_end[:-1]:
            self._halve(tree, q_min, q_max)
        visits = np.where(self.alive, tree.slot_visits[:, 0], np.iinfo(np.int32).max)
        return np.argmin(visits, axis=1)

    def _halve(self, tree: Tree, q_min, q_max) -> None:
        score = np.where(self.alive, self.gumbel + self.logits + self._sigma(tree, q_min, q_max), -np.inf)
        keep = np.maximum(self.alive.sum(axis=1) // 2, 1)
        rank = np.argsort(np.argsort(-score, axis=1), axis=1)
        self.alive &= rank < keep[:, None]

    def result(self, tree: Tree, q_min, q_max) -> tuple[np.ndarray, np.ndarray]:
        """([B, K] improved-policy target, [B] the chosen slot)."""
        sigma = self._sigma(tree, q_min, q_max)
        improved = softmax(np.where(np.isfinite(self.logits), self.logits + sigma, -np.inf)).astype(np.float64)
        score = np.where(self.alive, self.gumbel + self.logits + sigma, -np.inf)
        return improved, np.argmax(score, axis=1)
