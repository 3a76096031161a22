"""Subtree reuse (``SearchConfig.reuse_subtree``): the next search of a game starts from
the subtree under the step it took instead of from a bare root. Tree surgery on
:class:`~assist.search.tree.Tree` and no model calls: which child of the last root the
new root is (:func:`children_taken`), a tree made of those subtrees
(:func:`kept_subtrees`), and reused roots built again under a new belief
(:func:`rebuild_roots`); :meth:`assist.search.mcts.MCTS.search` calls them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from assist.search.tree import UNUSED, SearchOutput, Tree
from envs.core import ASSISTANT, BatchState, GameCore

NODE_OUTPUTS = ("policy_logits", "human_logits", "goal_logits")
"""The model outputs a tree keeps per node (:class:`~assist.search.tree.NodeArrays`)."""


def children_taken(core: GameCore, previous: SearchOutput, keep: np.ndarray | None, states: BatchState) -> tuple[np.ndarray, np.ndarray]:
    """([R] games, [R] nodes of ``previous.tree``): for each game of ``keep`` whose new
    root is a child of its previous root under the slot it played (the child's
    assistant observation equals the new root's), that child."""
    old, B = previous.tree, states.batch_size
    if old.batch_size != B:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    played = previous.slot_actions == previous.action[:, None]
    slot = np.argmax(played, axis=1)
    open_games = played.any(axis=1) & (np.ones(B, bool) if keep is None else keep)
    observed = core.observe(states, ASSISTANT)
    match = np.full(B, UNUSED, np.int64)
    for sample in range(old.human_samples.shape[2]):
        child = old.child[np.arange(B), 0, slot, sample].astype(np.int64)
        look = np.flatnonzero(open_games & (match < 0) & (child >= 0))
        if not len(look):
            continue
        seen = core.observe(old.states.take(old.state_rows(child[look], look)), ASSISTANT)
        same = np.ones(len(look), bool)
        for key, value in observed.items():
            same &= (np.asarray(seen[key]) == np.asarray(value)[look]).reshape(len(look), -1).all(axis=1)
        match[look[same]] = child[look[same]]
    games = np.flatnonzero(match >= 0)
    return games, match[games]


def rebuild_roots(tree: Tree, games: np.ndarray, build_nodes: Callable[[Tree, np.ndarray, np.ndarray], None]) -> None:
    """Build the reused roots of ``games`` ([G]) again (after their belief changed), each
    slot whose action stays keeping its statistics and children; the subtrees of
    dropped actions are left unreachable. ``build_nodes(tree, games, nodes)`` builds
    nodes (:meth:`MCTS._build_nodes <assist.search.mcts.MCTS._build_nodes>`)."""
    actions, visits = tree.slot_action[games, 0].copy(), tree.slot_visits[games, 0].copy()
    value_sum, child = tree.slot_value_sum[games, 0].copy(), tree.child[games, 0].copy()
    build_nodes(tree, games, np.zeros(len(games), np.int64))
    same = (tree.slot_action[games, 0][:, :, None] == actions[:, None, :]) & (actions[:, None, :] >= 0)  # [G, K new, K old]
    kept, old = same.any(axis=2), same.argmax(axis=2)
    tree.slot_visits[games, 0] = np.where(kept, np.take_along_axis(visits, old, axis=1), 0)
    tree.slot_value_sum[games, 0] = np.where(kept, np.take_along_axis(value_sum, old, axis=1), 0.0)
    tree.child[games, 0] = np.where(kept[:, :, None], np.take_along_axis(child, old[:, :, None], axis=1), UNUSED)
    tree.visits[games, 0] = 1 + tree.slot_visits[games, 0].sum(axis=1)


def kept_subtrees(old: Tree, games: np.ndarray, children: np.ndarray, states: BatchState, room: int, slots: int, samples: int, memory_size: int) -> tuple[Tree, np.ndarray]:
    """A tree whose roots are ``children`` ([R] nodes of ``old``) of ``games`` ([R]) with
    their subtrees, renumbered in creation order from 0 (so every parent still precedes
    its children), with ``room`` new nodes after the largest, and ``[B]`` the nodes kept
    per game (0: that game's root is still to be evaluated). The roots' model outputs
    are left to the caller; ``slots``, ``samples``, ``memory_size``: as :meth:`Tree.empty`."""
    B = states.batch_size
    inside = np.zeros(old.node_valid.shape, bool)
    inside[games, children] = True
    rows = np.arange(B)
    for n in range(1, old.num_nodes):  # a node is made after its parent
        parent = old.parent[:, n]
        inside[:, n] |= old.node_valid[:, n] & (parent >= 0) & inside[rows, np.maximum(parent, 0)]
    index = np.cumsum(inside, axis=1) - 1  # [B, N_old] each kept node's new number
    size = inside.sum(axis=1)
    tree = Tree.empty(states, int(size.max()) + room, slots, samples, memory_size)
    b, n = np.nonzero(inside)
    i = index[b, n]
    for field in dataclasses.fields(Tree):  # the per-node arrays that need no renumbering; the model outputs follow
        if isinstance(getattr(old, field.name), np.ndarray) and field.name not in ("parent", "child"):
            getattr(tree, field.name)[b, i] = getattr(old, field.name)[b, n]
    below = i > 0
    tree.parent[b[below], i[below]] = index[b[below], old.parent[b[below], n[below]]]
    tree.parent_slot[games, 0] = tree.human_action[games, 0] = UNUSED
    tree.reward[games, 0] = 0.0
    child = old.child[b, n].astype(np.int64)
    tree.child[b, i] = np.where(child >= 0, index[b[:, None, None], np.maximum(child, 0)], UNUSED)
    tree.states.put(tree.state_rows(i[below], b[below]), old.states.take(old.state_rows(n[below], b[below])))
    for node in range(1, int(size.max())):
        at = i == node
        for name in NODE_OUTPUTS:
            getattr(tree, name).put(b[at], node, getattr(old, name).take(b[at], n[at]))
    return tree, size
