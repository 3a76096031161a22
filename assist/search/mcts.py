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

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from assist.models.base import Evaluator, LazyBelief, ModelOutput, masked_logits, softmax
from assist.search.tree import UNUSED, Tree
from envs.core import ASSISTANT, HUMAN, BatchState, GameCore

ROOTS = ("puct", "gumbel")
NODE_OUTPUTS = ("policy_logits", "human_logits", "goal_logits")
"""The model outputs a tree keeps per node (:class:`~assist.search.tree.NodeArrays`)."""
REWARD_BELIEFS = ("paper", "posterior", "human", "root")
DEFAULT_DISCOUNT = 0.95
"""The search's discount in a game that sets none (``GameCore.discount`` None): the paper's."""


@dataclasses.dataclass
class SearchConfig:
    """Search settings.

    num_simulations: simulations per search (each expands at most one node per game).
    max_children: K, the assistant actions kept per node (top-K legal by prior).
    human_samples: S, human actions sampled from the human model per node.
    c_puct: exploration constant of PUCT.
    discount: per-step discount of rewards in the tree (and of a trainer's value targets);
        None: the game's own (``core.discount``), or :data:`DEFAULT_DISCOUNT` for a game
        that sets none (:meth:`for_game`).
    dirichlet_alpha, dirichlet_fraction: root noise for PUCT (fraction 0 disables it).
    target_exponent: visit counts are raised to this power for the policy target (the
        paper sharpens with 1.5).
    root: ``"puct"`` or ``"gumbel"`` (Gumbel top-m sampling + sequential halving at the
        root, Danihelka et al. 2022, for small simulation budgets).
    reward_belief: which belief prices the assistant's part of an edge's reward (the
        human's part always uses the child's, which has seen the human's action).
        ``"paper"``: the parent's, as in the paper: safe for learned models, whose child
        belief also reads the assistant's own action as evidence (a model that sees a
        block gone believes it never belonged there, so breaking looks free), but biased
        where the human's move changes what the assistant's action does.
        ``"posterior"``: the child's: exact for models whose belief only updates on the
        human's actions (the exact kitchen model), and unbiased where the human's move
        changes what the assistant's action does, which the parent's belief ignores.
        ``"human"``: the belief after the human's action alone (the model is evaluated
        once more, on the parent stepped with the human's action and the assistant's
        no-op): unbiased like ``"posterior"`` without reading the assistant's own action.
        The default: on kitchen ``cake_or_pie`` a trained network searched this way
        reached 99% of the Bayes-optimal return, against 85% with ``"paper"``.
        ``"root"``: both parts of every edge under the root's belief. The tree then
        ignores what the human's simulated actions would reveal, but its rewards sum to
        the change of one expected score, so no cycle of moves can gain from beliefs
        that disagree along a path (with a learned belief on ``build``, breaking a block
        the belief doubts and rebuilding it is such a cycle). No extra model call.
    gumbel_actions: m, the root actions the Gumbel root considers.
    gumbel_scale: scale of the root's Gumbel noise (0: deterministic, for evaluation).
    reward_slots: how many of a node's K slots go to the actions with the highest
        expected immediate reward under the node's belief (``core.expected_action_rewards``)
        whatever their prior, and whether unvisited slots start from the node's mean plus
        that reward rather than the mean alone (0: off). It lets the search try what the
        belief already says is good before the policy has learned it.
    gumbel_c_visit, gumbel_c_scale: the sigma transform of Q in the Gumbel root.
    reuse_subtree: start each search from the subtree the previous search grew under the
        step the game then took (PUCT root only; :meth:`MCTS.search`'s ``previous``): the
        new root is the old child whose observation equals it, with every statistic
        below it, and the new simulations add to them. Edges keep the rewards priced when
        they were made (under the belief of the search that made them); a root given a
        ``root_belief`` with reward slots reserves them again under it.
    """

    num_simulations: int = 32
    max_children: int = 16
    human_samples: int = 8
    c_puct: float = 1.0
    discount: float | None = None
    dirichlet_alpha: float = 0.25
    dirichlet_fraction: float = 0.25
    target_exponent: float = 1.5
    root: str = "puct"
    reward_belief: str = "human"
    gumbel_actions: int = 8
    gumbel_scale: float = 1.0
    reward_slots: int = 0
    gumbel_c_visit: float = 50.0
    gumbel_c_scale: float = 0.1
    reuse_subtree: bool = False

    def __post_init__(self):
        if self.num_simulations < 1:
            raise ValueError(f"num_simulations={self.num_simulations} must be >= 1")
        if self.max_children < 1 or self.human_samples < 1 or self.gumbel_actions < 1:
            raise ValueError("max_children, human_samples and gumbel_actions must be >= 1")
        if self.discount is not None and not 0.0 < self.discount <= 1.0:
            raise ValueError(f"discount={self.discount} must be in (0, 1], or None for the game's own")
        if not 0.0 <= self.dirichlet_fraction <= 1.0 or self.dirichlet_alpha <= 0:
            raise ValueError("dirichlet_fraction must be in [0, 1] and dirichlet_alpha > 0")
        if not 0 <= self.reward_slots <= self.max_children:
            raise ValueError(f"reward_slots={self.reward_slots} must be in [0, max_children={self.max_children}]")
        if self.c_puct < 0 or self.target_exponent <= 0:
            raise ValueError("c_puct must be >= 0 and target_exponent > 0")
        if self.reward_belief not in REWARD_BELIEFS:
            raise ValueError(f"reward_belief={self.reward_belief!r}; choose one of {list(REWARD_BELIEFS)}")
        if self.root not in ROOTS:
            raise ValueError(f"root={self.root!r}; choose one of {list(ROOTS)}")
        if self.reuse_subtree and self.root != "puct":
            raise ValueError("reuse_subtree needs root='puct': the Gumbel root plans its simulations for a root without visits")

    def for_game(self, core: GameCore) -> SearchConfig:
        """This search with its discount settled for ``core``: its own when set, else the
        game's (``core.discount``, e.g. a kitchen variant's), else :data:`DEFAULT_DISCOUNT`."""
        if self.discount is not None:
            return self
        game = getattr(core, "discount", None)
        return dataclasses.replace(self, discount=DEFAULT_DISCOUNT if game is None else float(game))

    def for_evaluation(self, simulations: int = 0) -> SearchConfig:
        """This search as an evaluation plays it: no root noise (neither Dirichlet nor
        Gumbel), ``simulations`` per move when > 0 (else this config's budget)."""
        return dataclasses.replace(self, dirichlet_fraction=0.0, gumbel_scale=0.0, num_simulations=simulations or self.num_simulations)


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
        their expected immediate rewards when the search reserves reward slots) and the
        human's actions at the stored uniforms."""
        states = tree.states.take(tree.state_rows(nodes, games))
        legal = self.core.legal_mask(states, ASSISTANT)
        logits = tree.policy_logits.take(games, nodes)
        if self.config.reward_slots:
            immediate = self.core.expected_action_rewards(states, ASSISTANT, LazyBelief(tree.goal_logits.take(games, nodes)))
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
            reused, children = self._children_taken(previous, keep, states)
        if len(reused):
            tree, root_output = self._reuse(previous.tree, reused, children, states, memory, rng)
            q_min, q_max = tree.q_bounds()
        else:
            tree = Tree.empty(states, cfg.num_simulations + 1, cfg.max_children, cfg.human_samples, self.evaluator.memory_size)
            root_output = self._evaluate_nodes(tree, games, 0, states, memory, rng)
        if root_belief is not None:
            tree.goal_logits.put(games, 0, root_belief(root_output))
            reused_built = np.flatnonzero(tree.built[:, 0])
            if cfg.reward_slots and len(reused_built):  # reused roots reserve their slots under this belief
                self._rebuild_roots(tree, reused_built)
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

    # ------------------------------------------------------------ subtree reuse

    def _children_taken(self, previous: SearchOutput, keep: np.ndarray | None, states: BatchState) -> tuple[np.ndarray, np.ndarray]:
        """([R] games, [R] nodes of ``previous.tree``): for each game of ``keep`` whose new
        root is a child of its previous root under the slot it played (the child's
        assistant observation equals the new root's), that child."""
        old, B = previous.tree, states.batch_size
        if old.batch_size != B:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        played = previous.slot_actions == previous.action[:, None]
        slot = np.argmax(played, axis=1)
        open_games = played.any(axis=1) & (np.ones(B, bool) if keep is None else keep)
        observed = self.core.observe(states, ASSISTANT)
        match = np.full(B, UNUSED, np.int64)
        for sample in range(old.human_samples.shape[2]):
            child = old.child[np.arange(B), 0, slot, sample].astype(np.int64)
            look = np.flatnonzero(open_games & (match < 0) & (child >= 0))
            if not len(look):
                continue
            seen = self.core.observe(old.states.take(old.state_rows(child[look], look)), ASSISTANT)
            same = np.ones(len(look), bool)
            for key, value in observed.items():
                same &= (np.asarray(seen[key]) == np.asarray(value)[look]).reshape(len(look), -1).all(axis=1)
            match[look[same]] = child[look[same]]
        games = np.flatnonzero(match >= 0)
        return games, match[games]

    def _rebuild_roots(self, tree: Tree, games: np.ndarray) -> None:
        """Build the reused roots of ``games`` ([G]) again (after their belief changed), each
        slot whose action stays keeping its statistics and children; the subtrees of
        dropped actions are left unreachable."""
        actions, visits = tree.slot_action[games, 0].copy(), tree.slot_visits[games, 0].copy()
        value_sum, child = tree.slot_value_sum[games, 0].copy(), tree.child[games, 0].copy()
        self._build_nodes(tree, games, np.zeros(len(games), np.int64))
        same = (tree.slot_action[games, 0][:, :, None] == actions[:, None, :]) & (actions[:, None, :] >= 0)  # [G, K new, K old]
        kept, old = same.any(axis=2), same.argmax(axis=2)
        tree.slot_visits[games, 0] = np.where(kept, np.take_along_axis(visits, old, axis=1), 0)
        tree.slot_value_sum[games, 0] = np.where(kept, np.take_along_axis(value_sum, old, axis=1), 0.0)
        tree.child[games, 0] = np.where(kept[:, :, None], np.take_along_axis(child, old[:, :, None], axis=1), UNUSED)
        tree.visits[games, 0] = 1 + tree.slot_visits[games, 0].sum(axis=1)

    def _reuse(
        self, old: Tree, games: np.ndarray, children: np.ndarray, states: BatchState, memory: np.ndarray, rng: np.random.Generator
    ) -> tuple[Tree, ModelOutput]:
        """A tree whose roots are ``children`` ([R] nodes of ``old``) of ``games`` ([R])
        with their subtrees, renumbered in creation order from 0 (so every parent still
        precedes its children), and room for ``num_simulations`` new nodes after the
        largest; the other games' roots are evaluated afresh. Returns it and the roots'
        model output (B games)."""
        cfg, B = self.config, states.batch_size
        inside = np.zeros(old.node_valid.shape, bool)
        inside[games, children] = True
        rows = np.arange(B)
        for n in range(1, old.num_nodes):  # a node is made after its parent
            parent = old.parent[:, n]
            inside[:, n] |= old.node_valid[:, n] & (parent >= 0) & inside[rows, np.maximum(parent, 0)]
        index = np.cumsum(inside, axis=1) - 1  # [B, N_old] each kept node's new number
        size = inside.sum(axis=1)
        tree = Tree.empty(states, int(size.max()) + cfg.num_simulations, cfg.max_children, cfg.human_samples, self.evaluator.memory_size)
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
            getattr(tree, name).put(rows, 0, root[name])
        return tree, ModelOutput(**root)


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
