"""The search tree and what a search returns (:class:`SearchOutput`): pure data, structs of batched numpy arrays (docs/design.md, contract 6).

One tree per game, B games at once. Node ``n`` of game ``b`` is created by simulation
``n - 1`` (the root is node 0); a search that reuses the last one's subtree
(``SearchConfig.reuse_subtree``) keeps its nodes first, renumbered ``0 .. m_b - 1`` in
creation order, and simulation ``s`` creates node ``max_b m_b + s``. A node is an
assistant decision point; its children are compacted to at most K *slots*, the top-K
legal assistant actions by prior. Following a slot also draws the human's simultaneous
action (a chance outcome) from S samples of the model's human-action head stored at the
node; each distinct (slot, human action) pair leads to its own child node. Statistics
are kept per slot, pooled over human outcomes.

The game state of every node is kept in ``states``, one batch of B * N rows (row
``b * N + n``), so a simulation steps the game once from its parent's row: no replay
from the root.

A node's slots and human samples are *built* only when a simulation first descends from
it (the root at once): until then the node keeps its model's policy and human logits and
the uniform draws its samples will use, so most leaves never pay for the top-K and the
sampling, and the random stream is the same as if every node were built at expansion.

The model's per-node outputs (policy, human and goal logits, the largest data in the
tree) are kept as the arrays the model returned, not copied (:class:`NodeArrays`): the
nodes one evaluation creates share one node index, so each index has one array.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from assist.models.base import ModelOutput
from envs.core import BatchState

UNUSED = -1


@dataclasses.dataclass
class NodeArrays:
    """Per-node data of B games and N nodes, kept as the arrays an evaluation returned.

    One evaluation creates the same node index in several games (the roots, or node ``n``
    of the games that expanded at the same simulation; a reused subtree's nodes are put
    once per index too), so node ``n``'s data is one array for the G_n games that made
    it, with rows in the order they were put.

    arrays: N entries; entry ``n`` is the [G_n, ...] array of node ``n``'s data (None
        until a node ``n`` is made).
    row: [B, N] int64 the row of each game's node in its node index's entry (-1 if unmade).
    """

    arrays: list[np.ndarray | None]
    row: np.ndarray

    @classmethod
    def empty(cls, batch: int, nodes: int) -> NodeArrays:
        return cls(arrays=[None] * nodes, row=np.full((batch, nodes), UNUSED, np.int64))

    def put(self, games: np.ndarray, node: int, values: np.ndarray) -> None:
        """Keep ``values`` ([G, ...], not copied) as the data of node ``node`` of ``games`` [G]."""
        self.arrays[node] = values
        self.row[games, node] = np.arange(len(games))

    def take(self, games: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """[G, ...] the data of ``nodes`` of ``games`` ([G] each, every node made): one
        indexing per distinct node index."""
        rows = self.row[games, nodes]
        unique = np.unique(nodes)
        if len(unique) == 1:
            return self.arrays[unique[0]][rows]
        root = self.arrays[0]
        out = np.empty((len(nodes),) + root.shape[1:], root.dtype)
        for node in unique:
            at = nodes == node
            out[at] = self.arrays[node][rows[at]]
        return out


@dataclasses.dataclass
class Tree:
    """Search trees of B games with room for N nodes, K slots and S human samples each.

    node_valid: [B, N] bool the node exists.
    parent: [B, N] int64 parent node (-1 for the root and unused nodes).
    parent_slot: [B, N] int64 the parent's slot that leads here.
    human_action: [B, N] int64 the human's action on the edge into this node.
    reward: [B, N] float32 expected reward of that edge: the assistant's part under the
        parent's belief plus the human's part under this node's belief.
    value: [B, N] float32 the model's value of the node (0 if terminal).
    terminal: [B, N] bool the episode ends at this node.
    visits: [B, N] int32 simulations that passed through the node.
    built: [B, N] bool the node's slots and human samples exist (see the module docstring);
        the ``slot_action``, ``slot_prior``, ``slot_reward`` and ``human_samples`` of a
        node that is not built are meaningless.
    slot_action: [B, N, K] int64 the assistant action of each slot (-1 unused).
    slot_prior: [B, N, K] float32 the renormalized prior over the slots.
    slot_visits: [B, N, K] int32 visits through each slot.
    slot_value_sum: [B, N, K] float32 sum of the returns backed up through each slot.
    slot_reward: [B, N, K] float32 each slot's expected immediate reward under the node's
        belief (0 unless the search reserves reward slots).
    human_samples: [B, N, S] int64 the human's actions sampled from the model at the node.
    child: [B, N, K, S] int32 the child reached by each (slot, human sample), -1 until
        made (samples with the same action share their child).
    human_uniforms: [B, N, S] float64 uniform draws in [0, 1), taken when the node is
        evaluated, that become its human samples when it is built.
    policy_logits: [B, N] x [A] float32 the model's assistant-action logits at the node
        (:class:`NodeArrays`; read when the node is built).
    human_logits: [B, N] x [Ah] float32 the model's human-action logits at the node
        (:class:`NodeArrays`; read when the node is built).
    goal_logits: [B, N] x [F, Kg] float32 the model's goal logits at the node
        (:class:`NodeArrays`; its belief is their softmax, taken only where a reward needs
        it: :class:`~assist.models.base.LazyBelief`).
    memory: [B, N, M] float32 the model's recurrent memory after the node's observation.
    states: game states, B * N rows (row ``b * N + n``).
    """

    node_valid: np.ndarray
    parent: np.ndarray
    parent_slot: np.ndarray
    human_action: np.ndarray
    reward: np.ndarray
    value: np.ndarray
    terminal: np.ndarray
    visits: np.ndarray
    built: np.ndarray
    slot_action: np.ndarray
    slot_prior: np.ndarray
    slot_visits: np.ndarray
    slot_value_sum: np.ndarray
    slot_reward: np.ndarray
    human_samples: np.ndarray
    child: np.ndarray
    human_uniforms: np.ndarray
    policy_logits: NodeArrays
    human_logits: NodeArrays
    goal_logits: NodeArrays
    memory: np.ndarray
    states: BatchState

    @classmethod
    def empty(cls, root_states: BatchState, nodes: int, slots: int, samples: int, memory_size: int) -> Tree:
        """An empty tree whose every node row holds a copy of its game's root state."""
        B = root_states.batch_size
        return cls(
            node_valid=np.zeros((B, nodes), bool),
            parent=np.full((B, nodes), UNUSED, np.int64),
            parent_slot=np.full((B, nodes), UNUSED, np.int64),
            human_action=np.full((B, nodes), UNUSED, np.int64),
            reward=np.zeros((B, nodes), np.float32),
            value=np.zeros((B, nodes), np.float32),
            terminal=np.zeros((B, nodes), bool),
            visits=np.zeros((B, nodes), np.int32),
            built=np.zeros((B, nodes), bool),
            slot_action=np.full((B, nodes, slots), UNUSED, np.int64),
            slot_prior=np.zeros((B, nodes, slots), np.float32),
            slot_visits=np.zeros((B, nodes, slots), np.int32),
            slot_value_sum=np.zeros((B, nodes, slots), np.float32),
            slot_reward=np.zeros((B, nodes, slots), np.float32),
            human_samples=np.zeros((B, nodes, samples), np.int64),
            child=np.full((B, nodes, slots, samples), UNUSED, np.int32),
            human_uniforms=np.zeros((B, nodes, samples), np.float64),
            policy_logits=NodeArrays.empty(B, nodes),
            human_logits=NodeArrays.empty(B, nodes),
            goal_logits=NodeArrays.empty(B, nodes),
            memory=np.zeros((B, nodes, memory_size), np.float32),
            states=root_states.take(np.repeat(np.arange(B), nodes)),
        )

    @property
    def batch_size(self) -> int:
        return self.node_valid.shape[0]

    @property
    def num_nodes(self) -> int:
        return self.node_valid.shape[1]

    def state_rows(self, nodes: np.ndarray, games: np.ndarray | None = None) -> np.ndarray:
        """Rows of ``states`` holding ``nodes`` ([G]) of ``games`` ([G], default all B)."""
        games = np.arange(self.batch_size) if games is None else games
        return games * self.num_nodes + nodes

    def slot_q(self, games: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """[G, K] mean backed-up return of each slot of ``nodes`` (NaN where unvisited)."""
        visits = self.slot_visits[games, nodes]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(visits > 0, self.slot_value_sum[games, nodes] / visits, np.nan)

    def q_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """([B], [B]) the smallest and largest mean return of any visited slot in each tree
        (+inf and -inf where none is visited)."""
        visited = self.slot_visits > 0
        q = self.slot_value_sum / np.maximum(self.slot_visits, 1)
        return np.where(visited, q, np.inf).min(axis=(1, 2)), np.where(visited, q, -np.inf).max(axis=(1, 2))

    def depth(self) -> np.ndarray:
        """[B] depth of the deepest node of each tree (the root has depth 0)."""
        depth = np.zeros(self.node_valid.shape, np.int64)
        for n in range(1, self.num_nodes):
            p = self.parent[:, n]
            depth[:, n] = np.where(self.node_valid[:, n], depth[np.arange(self.batch_size), np.maximum(p, 0)] + 1, 0)
        return depth.max(axis=1)


class SearchOutput(NamedTuple):
    """The result of searching B roots.

    action: [B] int64 the action to play (the target's argmax, or a sample when asked).
    slot_actions: [B, K] int64 the root's slot actions (-1 unused).
    target: [B, K] float32 the policy target over those slots (sums to 1).
    value: [B] float32 the root's value estimate (visit-weighted Q).
    root_output: the model's outputs at the root (numpy).
    memory: [B, M] float32 the model's memory after the root observation.
    tree: the whole tree, for statistics and tests.
    """

    action: np.ndarray
    slot_actions: np.ndarray
    target: np.ndarray
    value: np.ndarray
    root_output: ModelOutput
    memory: np.ndarray
    tree: Tree
