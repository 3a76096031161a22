"""The search's settings (:class:`SearchConfig`) and the names they choose from."""

from __future__ import annotations

import dataclasses

from envs.core import GameCore

ROOTS = ("puct", "gumbel")
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
        root, Danihelka et al. 2022, for small simulation budgets). Measured no gain on
        `build` small at 16 simulations (results/assistancezero/build_small/recipe/README.md);
        kept for budgets far below the legal actions, where PUCT's targets stay near the prior.
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
    root_min_reward: caution at the root (0: off): the root does not consider an action
        whose expected immediate reward under the root's belief
        (``core.expected_action_rewards``) is non-zero and below this. On `build`, where
        placing a block the belief gives probability ``p`` is worth ``2 p - 1``, 0.6 keeps
        only placements with ``p >= 0.8``: a wrong block costs the human far more actions
        than the +-1 of the score says. Actions worth exactly 0 (moves, the no-op) stay.
        Measured on `build` small (the recipe README, step 8): it helped one network and
        hurt another; kept for humans to whom a wrong block costs more than the score says.
    gumbel_c_visit, gumbel_c_scale: the sigma transform of Q in the Gumbel root.
    reuse_subtree: start each search from the subtree the previous search grew under the
        step the game then took (PUCT root only; :meth:`MCTS.search`'s ``previous``): the
        new root is the old child whose observation equals it, with every statistic
        below it, and the new simulations add to them. Edges keep the rewards priced when
        they were made (under the belief of the search that made them); a root given a
        ``root_belief`` with reward slots reserves them again under it. Measured on `build`
        tiny (results/assistancezero/build_tiny/README.md): no gain at 64 simulations
        (+0.21 and +0.14 human actions); kept for searches whose budget is too small to
        regrow the tree each step.
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
    root_min_reward: float = 0.0
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


SEARCH_SETTINGS = tuple(f.name for f in dataclasses.fields(SearchConfig))
"""The names of the search settings (:class:`SearchConfig`'s fields)."""


def check_search_settings(names) -> None:
    """Raise a ValueError naming those of ``names`` that are no search setting."""
    unknown = sorted(set(names) - set(SEARCH_SETTINGS))
    if unknown:
        raise ValueError(f"search settings {unknown} do not exist; the settings are {list(SEARCH_SETTINGS)}")
