"""The LM pipeline's settings (the ``algo`` config group's ``pretrain``, ``sft``, ``rlft``
and ``search_loop`` schemas), apart from the trainers so that composing a config never
imports ``transformers``. The stages are described in :mod:`assist.learning.llm_stage`.
"""

from __future__ import annotations

import dataclasses

from assist.checks import require_positive_ints
from assist.learning.assistancezero import AssistanceZeroConfig
from assist.learning.losses import ADVANTAGES
from assist.learning.trainer import LoopConfig
from envs.core import AGENTS, HUMAN


@dataclasses.dataclass
class LMStageConfig(LoopConfig):
    """Settings every LM stage has (the loop's: :class:`~assist.learning.trainer.LoopConfig`;
    ``name`` is the stage; the evaluation plays the LM's most likely legal action, no search).

    init: the starting model: a model directory or a previous stage's run directory
        (None: the default small LM).
    head_lr: the value, goal and human heads' learning rate (they start from zero).
    batch: samples (steps or sequences) per forward pass.
    eval_text_episodes: episodes also played in free-text mode at each evaluation (the
        LM writes its action; parse failures and illegal answers are counted); 0: none.
    owner_offsets: give the goal head offsets per owner of each goal factor (nobody, the
        human, the assistant: :class:`~assist.llm.heads.Heads`), starting from the starting
        model's one offset per value; False: its heads as they are.
    A checkpoint also updates ``<run_dir>/model``.
    """

    init: str | None = None
    owner_offsets: bool = False
    iterations: int = 20
    lr: float = 3e-4
    head_lr: float = 1e-2
    grad_clip: float = 1.0
    batch: int = 16
    eval_every: int = 10
    eval_episodes: int = 16
    eval_text_episodes: int = 4
    checkpoint_every: int = 10

    def __post_init__(self):
        super().__post_init__()
        require_positive_ints(self, "batch")
        if self.eval_text_episodes < 0:
            raise ValueError(
                f"{type(self).__name__}: eval_text_episodes={self.eval_text_episodes} must be >= 0 (0: no free-text evaluation)"
            )
        if not self.head_lr > 0:
            raise ValueError(f"{type(self).__name__}: head_lr={self.head_lr} must be > 0")

    def episode_player(self) -> str | None:
        """The player (by name) in the assistant's seat of the episodes the stage plays at
        its start, built by the caller with :meth:`episode_player_params` and handed to the
        trainer (``episode_player``); None: the stage plays none."""
        return None

    def episode_player_params(self) -> dict:
        """The parameters of :meth:`episode_player` (its constructor's keyword arguments)."""
        return {}


@dataclasses.dataclass
class PretrainConfig(LMStageConfig):
    """Pretraining settings (and :class:`LMStageConfig`'s).

    episodes: transcript episodes generated at the start. assistant: the player in the
    assistant seat while generating (a player name, e.g. ``noop`` or ``oracle``), with
    ``assistant_params``. seats: whose steps become texts. updates: gradient steps per
    iteration.
    """

    name: str = "pretrain"
    episodes: int = 64
    assistant: str = "noop"
    assistant_params: dict = dataclasses.field(default_factory=dict)
    seats: list[str] = dataclasses.field(default_factory=lambda: [HUMAN])
    updates: int = 4

    def __post_init__(self):
        super().__post_init__()
        require_positive_ints(self, "episodes", "updates")
        unknown = sorted(set(self.seats) - set(AGENTS))
        if not self.seats or unknown:
            raise ValueError(f"PretrainConfig: seats={self.seats} must be a non-empty list of {list(AGENTS)}")

    def episode_player(self) -> str | None:
        return self.assistant

    def episode_player_params(self) -> dict:
        return dict(self.assistant_params)


@dataclasses.dataclass
class SFTConfig(LMStageConfig):
    """Fine-tuning settings (and :class:`LMStageConfig`'s).

    data: recordings to learn from (a ``.jsonl`` file or a folder; None: play
    ``episodes`` episodes with the ``demonstrator`` player, with ``demonstrator_params``:
    the goal-knowing ``oracle`` by default, or one that sees only what the LM sees, e.g. a
    trained conv AssistanceZero, ``demonstrator=assistancezero
    +demonstrator_params.run=<run dir>``, or ``library_bayes``). updates: gradient steps per
    iteration. goal_weight, value_weight: the heads' loss weights (0: off). discount: of
    the value targets.
    """

    name: str = "sft"
    data: str | None = None
    episodes: int = 64
    demonstrator: str = "oracle"
    demonstrator_params: dict = dataclasses.field(default_factory=dict)
    updates: int = 4
    goal_weight: float = 1.0
    value_weight: float = 0.5
    discount: float = 0.95

    def __post_init__(self):
        super().__post_init__()
        require_positive_ints(self, "episodes", "updates")
        if not (self.goal_weight >= 0 and self.value_weight >= 0 and 0 < self.discount <= 1):
            raise ValueError(
                f"SFTConfig: goal_weight={self.goal_weight} and value_weight={self.value_weight} must be >= 0, discount={self.discount} in (0, 1]"
            )

    def episode_player(self) -> str | None:
        return None if self.data is not None else self.demonstrator

    def episode_player_params(self) -> dict:
        return dict(self.demonstrator_params)


@dataclasses.dataclass
class RLFTConfig(LMStageConfig):
    """RL fine-tuning settings (and :class:`LMStageConfig`'s; ``batch``: steps per forward pass).

    groups: start states (with their goals) per iteration; group_size: episodes from each.
    advantage: ``rloo`` or ``grpo`` (one advantage per episode, normalized within its
    group), or ``gae`` (PPO's: per step, GAE(``lam``) over the value head's values,
    normalized over the iteration's steps; the value head then regresses to the
    lambda-returns). epochs, minibatches: passes over the iteration's steps and Adam steps
    per pass (1 and 1: one on-policy gradient step, plain REINFORCE); clip: PPO's ratio
    clip for the later steps, which learn from data the policy has moved away from.
    kl_weight: of the KL penalty to the reference. value_weight, goal_weight: the heads'
    loss weights (0: off). discount: of the value targets. temperature: of the sampling
    policy (its logits are divided by it).
    """

    name: str = "rlft"
    batch: int = 64
    groups: int = 4
    group_size: int = 4
    advantage: str = "rloo"
    lam: float = 0.95
    epochs: int = 1
    minibatches: int = 1
    clip: float = 0.2
    kl_weight: float = 0.05
    value_weight: float = 0.5
    goal_weight: float = 0.0
    discount: float = 0.95
    temperature: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        require_positive_ints(self, "groups", "epochs", "minibatches")
        if isinstance(self.group_size, bool) or not isinstance(self.group_size, int) or self.group_size < 2:
            raise ValueError(f"RLFTConfig: group_size={self.group_size!r} must be an int >= 2 (advantages compare a group's episodes)")
        if self.advantage not in ADVANTAGES:
            raise ValueError(f"RLFTConfig: advantage={self.advantage!r} must be one of {list(ADVANTAGES)}")
        if not (0 <= self.lam <= 1 and self.clip > 0):
            raise ValueError(f"RLFTConfig: lam={self.lam} must be in [0, 1] and clip={self.clip} > 0")
        if not (self.kl_weight >= 0 and self.value_weight >= 0 and self.goal_weight >= 0):
            raise ValueError("RLFTConfig: kl_weight, value_weight and goal_weight must be >= 0")
        if not (0 < self.discount <= 1 and self.temperature > 0):
            raise ValueError(f"RLFTConfig: discount={self.discount} must be in (0, 1] and temperature={self.temperature} > 0")


@dataclasses.dataclass
class SearchLoopConfig(AssistanceZeroConfig):
    """AssistanceZero's settings (the network is the LM) and:

    init: the starting model (a model directory or a previous stage's run directory; None:
    the default small LM). head_lr: the heads' learning rate (the LM's: ``lr``).
    pg_weight, kl_weight: the optional policy-gradient and KL terms
    (0: off). eval_text_episodes: free-text episodes at each evaluation (0: none).
    owner_offsets: as :class:`LMStageConfig`'s. belief_run: an AssistanceZero run whose
    network (frozen) gives the value, goal belief and human model inside the loop's search,
    in self-play and evaluation, while the LM gives the prior and learns from the search's
    targets (:class:`~assist.models.composite.PriorAndModel`); None: the LM's own heads.
    """

    name: str = "search_loop"
    init: str | None = None
    belief_run: str | None = None
    owner_offsets: bool = False
    iterations: int = 20
    envs: int = 8
    rollout: int = 8
    sequence: int = 4
    batch: int = 8
    lr: float = 1e-4
    head_lr: float = 1e-2
    grad_clip: float = 1.0
    pg_weight: float = 0.0
    kl_weight: float = 0.0
    eval_every: int = 10
    eval_episodes: int = 16
    eval_simulations: int = 8
    eval_text_episodes: int = 4
    checkpoint_every: int = 10

    def __post_init__(self):
        super().__post_init__()
        if self.goal_envs:
            raise ValueError(f"SearchLoopConfig: goal_envs={self.goal_envs} must be 0 (goal games play the conv network's policy, not the LM's)")
        if not self.head_lr > 0:
            raise ValueError(f"SearchLoopConfig: head_lr={self.head_lr} must be > 0")
        if not (self.pg_weight >= 0 and self.kl_weight >= 0 and self.eval_text_episodes >= 0):
            raise ValueError(
                f"SearchLoopConfig: pg_weight={self.pg_weight}, kl_weight={self.kl_weight} and eval_text_episodes={self.eval_text_episodes} must be >= 0"
            )
