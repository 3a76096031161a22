"""Batched AssistanceZero MCTS over a policy-value model (docs/design.md, contract 6).

One loop in three named phases per simulation, each vectorized over the B games:

* **simulate**: from the root, pick a slot by PUCT (or, at a Gumbel root, by sequential
  halving), draw the human's action from the node's samples of the human model, and follow
  the (slot, human action) child if it exists;
* **expand**: step the game once from the parent's stored state, evaluate the new node
  with the model (one call for all B games), price the edge under the goal beliefs, and
  compact its children to the top-K legal actions;
* **backward**: add the discounted return to every slot on the path.

The true goal is never read: the root states are copied and concealed
(``core.conceal_goal``) before anything is simulated, and rewards are expectations under
the model's belief (the assistant's part under the parent's, the human's under the child's).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from assist.models.base import Evaluator, LazyBelief, ModelOutput
from assist.search.config import SearchConfig
from assist.search.gumbel import GumbelRoot
from assist.search.reuse import NODE_OUTPUTS, children_taken, kept_subtrees, rebuild_roots
from assist.search.selection import normalized_q, sample_categorical, sample_from_logits, top_k_slots
from assist.search.tree import UNUSED, SearchOutput, Tree
from envs.core import ASSISTANT, HUMAN, BatchState, GameCore


class MCTS:
    """AssistanceZero search for one game core and one model."""

    def __init__(self, core: GameCore, evaluator: Evaluator, config: SearchConfig):
        self.core = core
        self.evaluator = evaluator
        self.config = config.for_game(core)

    # ------------------------------------------------------------------ phases

    def _evaluate_nodes(
        self, tree: Tree, games: np.ndarray, node: int, states: BatchState, memory: np.ndarray, rng: np.random.Generator
    ) -> ModelOutput:
        """Evaluate node ``node`` of ``games`` ([G]), whose states are ``states`` (G rows),
        after ``memory`` [G, M]; store the node data and what building the node will need,
        and draw its human samples' uniforms now (see :class:`Tree`)."""
        legal = self.core.legal_mask(states, ASSISTANT)
        output, new_memory = self.evaluator.evaluate(self.core.observe(states, ASSISTANT), memory, legal)
        tree.policy_logits.put(games, node, output.policy_logits)
        tree.human_logits.put(games, node, output.human_logits)
        tree.goal_logits.put(games, node, output.goal_logits)
        tree.human_uniforms[games, node] = rng.random((len(games), self.config.human_samples))
        tree.memory[games, node] = new_memory
        tree.terminal[games, node] = states.done
        tree.value[games, node] = np.where(states.done, 0.0, output.value)
        tree.node_valid[games, node] = True
        return output

    def _build_nodes(self, tree: Tree, games: np.ndarray, nodes: np.ndarray) -> None:
        """Build the slots and human samples of the evaluated ``nodes`` of ``games`` ([G]
        each) from their states and stored model outputs: the top-K legal actions (and
        their expected immediate rewards when the search reserves reward slots; at a root,
        without the doubtful ones ``root_min_reward`` excludes) and the human's actions at
        the stored uniforms."""
        states = tree.states.take(tree.state_rows(nodes, games))
        legal = self.core.legal_mask(states, ASSISTANT)
        logits = tree.policy_logits.take(games, nodes)
        cfg = self.config
        if cfg.reward_slots or cfg.root_min_reward:
            immediate = self.core.expected_action_rewards(states, ASSISTANT, LazyBelief(tree.goal_logits.take(games, nodes)))
        if cfg.root_min_reward:
            doubtful = (nodes == 0)[:, None] & (immediate != 0) & (immediate < cfg.root_min_reward)
            legal = legal & ~doubtful  # the no-op is worth 0: every root keeps an action
        if cfg.reward_slots:
            actions, priors = top_k_slots(logits, legal, self.config.max_children, immediate, self.config.reward_slots)
            tree.slot_reward[games, nodes] = np.where(actions >= 0, np.take_along_axis(immediate, np.maximum(actions, 0), axis=1), 0.0)
        else:
            actions, priors = top_k_slots(logits, legal, self.config.max_children)
        tree.slot_action[games, nodes] = actions
        tree.slot_prior[games, nodes] = priors
        human_legal = self.core.legal_mask(states, HUMAN)
        tree.human_samples[games, nodes] = sample_from_logits(
            tree.human_logits.take(games, nodes), human_legal, tree.human_uniforms[games, nodes]
        )
        tree.built[games, nodes] = True

    def _select_slot(self, tree: Tree, games: np.ndarray, nodes: np.ndarray, q_min: np.ndarray, q_max: np.ndarray) -> np.ndarray:
        """[G] the PUCT slot at ``nodes``: min-max normalized Q plus
        ``c_puct * prior * sqrt(N) / (1 + n)``. Unvisited slots take the mean return backed
        up through the node so far (the model's value of the node before any visit)."""
        visits = tree.slot_visits[games, nodes]
        q = tree.slot_q(games, nodes)
        total = visits.sum(axis=1)
        mean = np.where(total > 0, tree.slot_value_sum[games, nodes].sum(axis=1) / np.maximum(total, 1), tree.value[games, nodes])
        q = np.where(np.isnan(q), mean[:, None] + tree.slot_reward[games, nodes], q)
        q_norm = normalized_q(q, q_min[games], q_max[games])
        explore = self.config.c_puct * tree.slot_prior[games, nodes] * np.sqrt(visits.sum(axis=1, keepdims=True)) / (1 + visits)
        score = np.where(tree.slot_action[games, nodes] >= 0, q_norm + explore, -np.inf)
        return np.argmax(score, axis=1)

    def _simulate(
        self, tree: Tree, root_slot: np.ndarray | None, q_min, q_max, rng
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Descend every tree to a new edge or a terminal node.

        Returns (leaf parent [B], slot [B], human action [B], reached [B]): ``reached`` is
        the existing terminal node a game stopped at (-1 where it stopped at a new edge).
        """
        B = tree.batch_size
        node = np.zeros(B, np.int64)
        slot = np.zeros(B, np.int64)
        human = np.zeros(B, np.int64)
        reached = np.full(B, UNUSED, np.int64)
        active = np.ones(B, bool)
        first = True
        while active.any():
            games = np.flatnonzero(active)
            n = node[games]
            fresh = ~tree.built[games, n]
            if fresh.any():
                self._build_nodes(tree, games[fresh], n[fresh])
            if first and root_slot is not None:
                s = root_slot[games]
            else:
                s = self._select_slot(tree, games, n, q_min, q_max)
            first = False
            pick = rng.integers(self.config.human_samples, size=len(games))
            h = tree.human_samples[games, n, pick]
            child = tree.child[games, n, s, pick].astype(np.int64)
            slot[games], human[games] = s, h
            new_edge = child < 0
            at_terminal = ~new_edge & tree.terminal[games, np.maximum(child, 0)]
            reached[games[at_terminal]] = child[at_terminal]
            active[games[new_edge | at_terminal]] = False
            descend = ~new_edge & ~at_terminal
            node[games[descend]] = child[descend]
        return node, slot, human, reached

    def _expand(self, tree: Tree, new: int, games: np.ndarray, parents: np.ndarray, slots: np.ndarray, human: np.ndarray, rng) -> None:
        """Create node ``new`` in ``games`` from (parent, slot, human action)."""
        parent_states = tree.states.take(tree.state_rows(parents, games))
        assistant = tree.slot_action[games, parents, slots]
        result = self.core.step(parent_states, np.stack([human, assistant], axis=1))
        tree.states.put(tree.state_rows(np.full(len(games), new), games), parent_states)
        tree.parent[games, new] = parents
        tree.parent_slot[games, new] = slots
        tree.human_action[games, new] = human
        same_action = tree.human_samples[games, parents] == human[:, None]
        tree.child[games, parents, slots] = np.where(same_action, new, tree.child[games, parents, slots])
        output = self._evaluate_nodes(tree, games, new, parent_states, tree.memory[games, parents], rng)
        if self.config.reward_belief == "root":
            root_belief = LazyBelief(tree.goal_logits.take(games, np.zeros_like(games)))
            tree.reward[games, new] = self.core.expected_reward(result.transition, root_belief).sum(axis=1)
            return
        child = self.core.expected_reward(result.transition, LazyBelief(output.goal_logits))
        assistant_part = self.core.expected_reward(result.transition, self._assistant_belief(tree, games, parents, human, output))[:, 1]
        tree.reward[games, new] = assistant_part + child[:, 0]

    def _assistant_belief(self, tree: Tree, games, parents, human, child: ModelOutput) -> LazyBelief:
        """[G, F, Kg] the belief that prices the assistant's part (``reward_belief``);
        ``child``: the model's outputs at the new nodes."""
        rule = self.config.reward_belief
        if rule == "paper":
            return LazyBelief(tree.goal_logits.take(games, parents))
        if rule == "posterior":
            return LazyBelief(child.goal_logits)
        after_human = tree.states.take(tree.state_rows(parents, games))
        self.core.step(after_human, np.stack([human, np.zeros_like(human)], axis=1))
        legal = self.core.legal_mask(after_human, ASSISTANT)  # only the goal logits are used; this bounds a scoring model's work
        output, _ = self.evaluator.evaluate(self.core.observe(after_human, ASSISTANT), tree.memory[games, parents], legal)
        return LazyBelief(output.goal_logits)

    def _backward(self, tree: Tree, leaf: np.ndarray, q_min: np.ndarray, q_max: np.ndarray) -> None:
        """Back the leaf values up to the roots, updating slot statistics and Q bounds."""
        B = tree.batch_size
        games = np.arange(B)
        node = leaf.copy()
        ret = tree.value[games, node].astype(np.float64)
        tree.visits[games, node] += 1
        active = node > 0
        while active.any():
            g = games[active]
            n = node[active]
            p, s = tree.parent[g, n], tree.parent_slot[g, n]
            ret[active] = tree.reward[g, n] + self.config.discount * ret[active]
            tree.slot_visits[g, p, s] += 1
            tree.slot_value_sum[g, p, s] += ret[active]
            q = tree.slot_value_sum[g, p, s] / tree.slot_visits[g, p, s]
            q_min[g] = np.minimum(q_min[g], q)
            q_max[g] = np.maximum(q_max[g], q)
            tree.visits[g, p] += 1
            node[active] = p
            active = node > 0

    # -------------------------------------------------------------------- root

    def search(
        self,
        root_states: BatchState,
        memory: np.ndarray,
        rng: np.random.Generator,
        sample_action: bool = False,
        root_belief: Callable[[ModelOutput], np.ndarray] | None = None,
        previous: SearchOutput | None = None,
        keep: np.ndarray | None = None,
    ) -> SearchOutput:
        """Search from ``root_states`` (B games; copied and concealed, never changed) with
        the model's ``memory`` [B, M] before the roots' observations. ``root_belief``, if
        given, maps the roots' model output to the goal logits [B, F, K] the search uses
        at the roots instead of the model's (which price every edge when
        ``reward_belief="root"``); ``root_output`` stays the model's. With
        ``config.reuse_subtree``, ``previous`` (the last search of these B games, whose
        chosen actions were played) lends each game in ``keep`` ([B] bool, default all)
        the subtree under the step it took, if that step's child is in its tree; the
        other games start afresh."""
        cfg = self.config
        states = root_states.copy()
        self.core.conceal_goal(states)
        B = states.batch_size
        games = np.arange(B)
        q_min = np.full(B, np.inf)
        q_max = np.full(B, -np.inf)
        reused, children = (np.zeros(0, np.int64),) * 2
        if cfg.reuse_subtree and previous is not None:
            reused, children = children_taken(self.core, previous, keep, states)
        if len(reused):
            tree, root_output = self._reuse(previous.tree, reused, children, states, memory, rng)
            q_min, q_max = tree.q_bounds()
        else:
            tree = Tree.empty(states, cfg.num_simulations + 1, cfg.max_children, cfg.human_samples, self.evaluator.memory_size)
            root_output = self._evaluate_nodes(tree, games, 0, states, memory, rng)
        if root_belief is not None:
            tree.goal_logits.put(games, 0, root_belief(root_output))
            reused_built = np.flatnonzero(tree.built[:, 0])
            if (cfg.reward_slots or cfg.root_min_reward) and len(reused_built):  # reused roots: slots again under this belief
                rebuild_roots(tree, reused_built, self._build_nodes)
        unbuilt = np.flatnonzero(~tree.built[:, 0])
        self._build_nodes(tree, unbuilt, np.zeros(len(unbuilt), np.int64))
        tree.visits[:, 0] = np.maximum(tree.visits[:, 0], 1)
        first_new = tree.num_nodes - cfg.num_simulations
        schedule = None
        if cfg.root == "gumbel":
            schedule = GumbelRoot(tree, cfg, rng)
        elif cfg.dirichlet_fraction > 0:
            self._add_root_noise(tree, rng)
        for sim in range(cfg.num_simulations):
            root_slot = schedule.next_slot(tree, q_min, q_max, sim) if schedule is not None else None
            parents, slots, human, reached = self._simulate(tree, root_slot, q_min, q_max, rng)
            expand = reached < 0
            new = first_new + sim
            if expand.any():
                self._expand(tree, new, games[expand], parents[expand], slots[expand], human[expand], rng)
            leaf = np.where(expand, new, reached)
            self._backward(tree, leaf, q_min, q_max)
        slot_actions = tree.slot_action[:, 0]
        if schedule is not None:
            target, best = schedule.result(tree, q_min, q_max)
        else:
            target = self._visit_target(tree)
            best = np.argmax(target, axis=1)
        chosen = sample_categorical(target, 1, rng)[:, 0] if sample_action else best
        visits = tree.slot_visits[:, 0].astype(np.float64)
        q = np.nan_to_num(tree.slot_q(games, np.zeros(B, np.int64)))
        value = np.where(visits.sum(axis=1) > 0, (visits * q).sum(axis=1) / np.maximum(visits.sum(axis=1), 1), tree.value[:, 0])
        return SearchOutput(
            action=slot_actions[games, chosen],
            slot_actions=slot_actions,
            target=target.astype(np.float32),
            value=value.astype(np.float32),
            root_output=root_output,
            memory=tree.memory[:, 0].copy(),
            tree=tree,
        )

    def _add_root_noise(self, tree: Tree, rng: np.random.Generator) -> None:
        valid = tree.slot_action[:, 0] >= 0
        noise = rng.gamma(self.config.dirichlet_alpha, size=valid.shape) * valid
        noise /= np.maximum(noise.sum(axis=1, keepdims=True), 1e-12)
        f = self.config.dirichlet_fraction
        tree.slot_prior[:, 0] = (1 - f) * tree.slot_prior[:, 0] + f * noise

    def _visit_target(self, tree: Tree) -> np.ndarray:
        """[B, K] visit counts at the root raised to ``target_exponent``, normalized."""
        sharpened = tree.slot_visits[:, 0].astype(np.float64) ** self.config.target_exponent
        total = sharpened.sum(axis=1, keepdims=True)
        prior = tree.slot_prior[:, 0].astype(np.float64)
        return np.where(total > 0, sharpened / np.maximum(total, 1e-12), prior)

    def _reuse(
        self, old: Tree, games: np.ndarray, children: np.ndarray, states: BatchState, memory: np.ndarray, rng: np.random.Generator
    ) -> tuple[Tree, ModelOutput]:
        """The tree of :func:`~assist.search.reuse.kept_subtrees` (the subtrees under
        ``children``, [R] nodes of ``old``, of ``games``, [R]) with room for
        ``num_simulations`` new nodes, the other games' roots evaluated afresh. Returns it
        and the roots' model output (B games)."""
        cfg, B = self.config, states.batch_size
        tree, size = kept_subtrees(old, games, children, states, cfg.num_simulations, cfg.max_children, cfg.human_samples, self.evaluator.memory_size)
        kept = {name: getattr(old, name).take(games, children) for name in NODE_OUTPUTS}
        kept["value"] = old.value[games, children]
        fresh = np.flatnonzero(size == 0)
        made = self._evaluate_nodes(tree, fresh, 0, states.take(fresh), memory[fresh], rng) if len(fresh) else None
        root = {}
        for key, values in kept.items():  # the B roots' model outputs, in game order
            root[key] = np.empty((B,) + values.shape[1:], values.dtype)
            root[key][games] = values
            if made is not None:
                root[key][fresh] = getattr(made, key)
        for name in NODE_OUTPUTS:
            getattr(tree, name).put(np.arange(B), 0, root[name])
        return tree, ModelOutput(**root)
