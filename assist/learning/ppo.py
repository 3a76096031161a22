"""The PPO assistant baseline (the model-free comparison of the AssistanceZero paper).

Each iteration: play ``rollout`` steps in ``envs`` games (the human model in the human
seat, the network's masked policy sampling the assistant's actions, finished games reset
in place with a fresh memory), compute GAE(lambda) advantages with the network's value
head (bootstrapped after the rollout's last step, cut where an episode ended), then take
``epochs`` passes over the rollout in ``minibatches`` of whole per-game sequences, each
re-run through the recurrent network from the memory stored at its start (the same
``unroll`` as AssistanceZero's learner). Log, and now and then evaluate on held-out goals
and save a checkpoint.

Loss = clipped surrogate + ``value_weight`` * value MSE - ``entropy_weight`` * entropy
over the legal actions + ``goal_weight`` * goal cross-entropy (the paper's auxiliary goal
prediction loss: the true goal only as a label; 0 turns it off).

Reward: as in the paper the PPO assistant is trained on its own part of the reward by
default (``reward="own"``: ``StepResult.reward_parts[:, 1]``); ``reward="shared"`` trains
it on the shared reward. Evaluation always reports the game's metrics (the shared return).

The network runs in eval mode while it learns, so batch norm (the conv net's) uses fixed
running statistics: the log-probabilities the learner recomputes are then exactly the ones
the rollout acted with (the ratio starts at 1), which train-mode batch statistics would
break.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from assist import evaluation
from assist.checks import require_positive_ints
from assist.learning import losses
from assist.learning.assistancezero import unroll
from assist.learning.selfplay import RunningGames
from assist.learning.trainer import LoopConfig, Trainer, TrainingContext
from assist.models.torch_evaluator import TorchEvaluator
from assist.players.base import Player, Turn
from assist.players.policy import PolicyPlayer
from assist.rollout import turn_for
from envs.core import ASSISTANT, HUMAN, GameCore, StepResult

REWARDS = ("own", "shared")


@dataclasses.dataclass
class PPOConfig(LoopConfig):
    """Training settings (the loop's: :class:`~assist.learning.trainer.LoopConfig`).

    envs: games played at once; rollout: steps per game per iteration.
    epochs: passes over each rollout; minibatches: per epoch, each a set of whole games'
        rollout sequences (so at most ``envs``).
    discount, gae_lambda: GAE's gamma and lambda.
    clip: the surrogate's ratio bound epsilon (ratios outside [1 - clip, 1 + clip] earn nothing).
    value_weight, entropy_weight, goal_weight: loss weights (goal_weight = 0: no goal loss).
    normalize_advantages: standardize the advantages within each minibatch.
    reward: ``"own"`` (the assistant's part of the reward, the paper's PPO) or ``"shared"``.
    eval_sample: sample from the policy when evaluating instead of taking its best action.
    grad_terms_every: log each weighted term's gradient norm on the shared trunk
        (``losses/trunk_grad_<term>``) every so many iterations (0: never).
    """

    name: str = "ppo"
    envs: int = 16
    rollout: int = 32
    epochs: int = 4
    minibatches: int = 4
    lr: float = 3e-4
    grad_clip: float = 0.5
    discount: float = 0.95
    gae_lambda: float = 0.95
    clip: float = 0.2
    value_weight: float = 0.5
    entropy_weight: float = 0.01
    goal_weight: float = 1.0
    normalize_advantages: bool = True
    reward: str = "own"
    eval_sample: bool = False
    grad_terms_every: int = 10

    def __post_init__(self):
        if self.name != "ppo":
            raise ValueError(f"PPOConfig: name={self.name!r} must be 'ppo'")
        super().__post_init__()
        require_positive_ints(self, "envs", "rollout", "epochs", "minibatches")
        if self.grad_terms_every < 0:
            raise ValueError(f"PPOConfig: grad_terms_every={self.grad_terms_every} must be >= 0 (0: never)")
        if self.minibatches > self.envs:
            raise ValueError(f"PPOConfig: minibatches={self.minibatches} must be <= envs={self.envs} (each minibatch holds whole games' sequences)")
        if not 0.0 < self.discount <= 1.0:
            raise ValueError(f"PPOConfig: discount={self.discount} must be in (0, 1]")
        if not 0.0 <= self.gae_lambda <= 1.0:
            raise ValueError(f"PPOConfig: gae_lambda={self.gae_lambda} must be in [0, 1]")
        if not 0.0 < self.clip < 1.0:
            raise ValueError(f"PPOConfig: clip={self.clip} must be in (0, 1) (0.2 is usual)")
        for name in ("value_weight", "entropy_weight", "goal_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"PPOConfig: {name}={getattr(self, name)} must be >= 0")
        if self.reward not in REWARDS:
            raise ValueError(f"PPOConfig: reward={self.reward!r} must be one of {list(REWARDS)} ('own': the assistant's reward part, as in the paper)")


def reward_of(result: StepResult, kind: str) -> np.ndarray:
    """[B] float32 the reward PPO learns from: the assistant's part (``"own"``) or the shared reward."""
    if kind == "own":
        return np.asarray(result.reward_parts[:, 1], np.float32)
    if kind == "shared":
        return np.asarray(result.reward, np.float32)
    raise ValueError(f"reward={kind!r} must be one of {list(REWARDS)}")


# ------------------------------------------------------------------- rollouts


class PolicyRollout(NamedTuple):
    """T steps of B games ([T, B, ...] unless said).

    observation: the assistant's observations (dict of arrays).
    legal: [T, B, A] bool the assistant's legal actions.
    memory: [B, M] the network's memory before the rollout's first step.
    start: [T, B] bool the step begins an episode (memory was reset).
    action, log_prob, value: [T, B] the assistant's action, its log-probability under the
        acting policy, and the value head's estimate.
    goal: [T, B, F] the true goal (a label for the goal head only).
    reward: [T, B] float32 the reward learned from; ends: [T, B] bool the episode ended.
    bootstrap: [B] float32 the value of the states after the last step.
    """

    observation: dict[str, np.ndarray]
    legal: np.ndarray
    memory: np.ndarray
    start: np.ndarray
    action: np.ndarray
    log_prob: np.ndarray
    value: np.ndarray
    goal: np.ndarray
    reward: np.ndarray
    ends: np.ndarray
    bootstrap: np.ndarray


class PolicySelfPlay(RunningGames):
    """Keeps B games running between calls to :meth:`collect` (as :class:`SelfPlay` does
    for the searching assistant): the human model against a sampling :class:`PolicyPlayer`."""

    def __init__(self, core: GameCore, human: Player, assistant: PolicyPlayer, batch: int, rng: np.random.Generator, reward: str = "own"):
        if reward not in REWARDS:
            raise ValueError(f"reward={reward!r} must be one of {list(REWARDS)}")
        super().__init__(core, human, assistant, batch, rng)
        self.reward = reward

    def collect(self, steps: int) -> PolicyRollout:
        """Play ``steps`` steps of every game."""
        core, state = self.core, self.state
        memory = self.assistant.memory.copy()
        per_step = [key for key in PolicyRollout._fields if key not in ("observation", "memory", "bootstrap")]
        records: dict[str, list] = {key: [] for key in per_step + ["observation"]}
        rows = np.arange(state.batch_size)
        for _ in range(steps):
            observation = core.observe(state, ASSISTANT)
            legal = core.legal_mask(state, ASSISTANT)
            assistant_action = self.assistant.act(Turn(observation, legal, None))
            human_action = self.human.act(turn_for(core, self.human, state, HUMAN))
            records["observation"].append(observation)
            records["legal"].append(legal)
            records["start"].append(self.start.copy())
            records["action"].append(assistant_action)
            records["log_prob"].append(self.assistant.last_log_policy[rows, assistant_action].astype(np.float32))
            records["value"].append(self.assistant.last.value.astype(np.float32))
            records["goal"].append(state.goal.reshape(len(state.goal), -1).copy())
            result = core.step(state, np.stack([human_action, assistant_action], axis=1))
            ends = result.terminated | result.truncated
            records["reward"].append(reward_of(result, self.reward))
            records["ends"].append(ends)
            self.start = ends.copy()
            if ends.any():
                self._restart(np.flatnonzero(ends))
        bootstrap = self.assistant.evaluator.evaluate(core.observe(state, ASSISTANT), self.assistant.memory)[0].value
        stacked = {key: np.stack(records[key]) for key in per_step}
        observation = {key: np.stack([o[key] for o in records["observation"]]) for key in records["observation"][0]}
        return PolicyRollout(observation=observation, memory=memory, bootstrap=np.where(self.start, 0.0, bootstrap).astype(np.float32), **stacked)


def sequences_from(rollout: PolicyRollout, advantages: np.ndarray, returns: np.ndarray) -> dict[str, np.ndarray]:
    """The learner's fields, one sequence per game: [B, T, ...] per step, ``memory`` [B, M]."""
    fields = {f"observation.{key}": value for key, value in rollout.observation.items()}
    fields.update(legal=rollout.legal, start=rollout.start, action=rollout.action, log_prob=rollout.log_prob, goal=rollout.goal, advantages=advantages, returns=returns)
    out = {key: np.ascontiguousarray(np.swapaxes(value, 0, 1)) for key, value in fields.items()}
    out["memory"] = rollout.memory
    return out


def loss_terms(net: nn.Module, batch: dict[str, torch.Tensor], clip: float, normalize_advantages: bool) -> dict[str, torch.Tensor]:
    """Each loss (unweighted) and the diagnostics on a minibatch of [S, L] sequences."""
    out = unroll(net, batch)
    flat = {key: batch[key].flatten(0, 1) for key in ("legal", "action", "log_prob", "goal", "advantages", "returns")}
    advantages = flat["advantages"]
    if normalize_advantages and advantages.numel() > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    log_prob = losses.masked_log_softmax(out.policy_logits, flat["legal"]).gather(1, flat["action"].long()[:, None]).squeeze(1)
    policy, approx_kl, clip_fraction = losses.clipped_policy_loss(log_prob, flat["log_prob"], advantages, clip)
    return {
        "policy": policy,
        "value": losses.value_loss(out.value, flat["returns"]),
        "entropy": losses.masked_entropy(out.policy_logits, flat["legal"]),
        "goal": losses.goal_loss(out.goal_logits, flat["goal"]),
        "approx_kl": approx_kl,
        "clip_fraction": clip_fraction,
    }


# -------------------------------------------------------------------- trainer


class PPOTrainer(Trainer):
    """Trains ``net`` with PPO on ``core`` against ``human``; evaluates on ``eval_core``
    (held-out goals) with ``eval_human``. The same surface as
    :class:`~assist.learning.assistancezero.AssistanceZeroTrainer`."""

    def __init__(self, context: TrainingContext, net: nn.Module, config: PPOConfig):
        super().__init__(context, net, config)
        core, human = context.core, context.human
        self.selfplay = PolicySelfPlay(core, human, PolicyPlayer(core, ASSISTANT, self.evaluator, sample=True), config.envs, self.rng, config.reward)

    def advantages(self, rollout: PolicyRollout) -> tuple[np.ndarray, np.ndarray]:
        """GAE advantages and value targets of a rollout, [T, B] each."""
        cfg = self.config
        advantages, returns = losses.gae(
            torch.from_numpy(rollout.reward), torch.from_numpy(rollout.value), torch.from_numpy(rollout.ends), torch.from_numpy(rollout.bootstrap), cfg.discount, cfg.gae_lambda
        )
        return advantages.numpy(), returns.numpy()

    def loss_weights(self) -> dict[str, float]:
        """The weight of each loss term in the total (the entropy's is negative: a bonus)."""
        cfg = self.config
        return {"policy": 1.0, "value": cfg.value_weight, "entropy": -cfg.entropy_weight, "goal": cfg.goal_weight}

    def update(self, batch: dict[str, torch.Tensor], trunk_grads: bool = False) -> dict[str, float]:
        """One gradient step on a minibatch of sequences; the losses as floats (with
        ``trunk_grads``, also each weighted term's gradient norm on the shared trunk,
        ``trunk_grad_<term>``, measured before the step)."""
        cfg = self.config
        self.net.eval()  # fixed batch-norm statistics: see the module docstring
        terms = loss_terms(self.net, batch, cfg.clip, cfg.normalize_advantages)
        return self.weighted_step(terms, self.loss_weights(), cfg.grad_clip, trunk_grads)

    def learn(self, rollout: PolicyRollout) -> list[dict[str, float]]:
        """``epochs`` passes over the rollout in minibatches of whole games' sequences."""
        cfg = self.config
        advantages, returns = self.advantages(rollout)
        data = {key: torch.from_numpy(value).to(self.device) for key, value in sequences_from(rollout, advantages, returns).items()}
        terms = []
        due = cfg.grad_terms_every > 0 and self.iteration % cfg.grad_terms_every == 0
        for _ in range(cfg.epochs):
            for games in np.array_split(self.rng.permutation(cfg.envs), cfg.minibatches):
                index = torch.from_numpy(games).to(self.device)
                terms.append(self.update({key: value[index] for key, value in data.items()}, trunk_grads=due and not terms))
        variance = float(np.var(returns))
        terms[-1]["explained_variance"] = float(1.0 - np.var(returns - rollout.value) / variance) if variance > 0 else 0.0
        return terms

    def evaluate(self, record: list | None = None) -> dict[str, evaluation.Summary]:
        """Held-out evaluation: the policy's best action (or a sample, ``eval_sample``), no search."""
        assistant = PolicyPlayer(self.eval_core, ASSISTANT, TorchEvaluator(self.net, device=self.device), sample=self.config.eval_sample)
        return self.evaluate_assistant(assistant, "ppo", record)

    def train(self, progress=None) -> dict[str, Any]:
        """Run the remaining iterations (until :meth:`running` says stop); the latest evaluation's means."""
        cfg = self.config
        while self.running():
            tic = time.perf_counter()
            rollout = self.selfplay.collect(cfg.rollout)
            collect_seconds = time.perf_counter() - tic
            self.env_steps += cfg.rollout * cfg.envs * self.group.world_size  # every rank's games
            tic = time.perf_counter()
            terms = self.learn(rollout)
            learn_seconds = time.perf_counter() - tic
            self.iteration += 1
            step = self.env_steps
            means = {key: float(np.mean([t[key] for t in terms if key in t])) for key in set().union(*terms)}
            self.logger.scalars("losses", means, step)
            self.logger.scalars("perf", {"env_steps_per_s": cfg.rollout * cfg.envs / collect_seconds, "updates_per_s": len(terms) / learn_seconds}, step)
            self.finish_iteration(progress)
        self.logger.flush()
        return self.latest
