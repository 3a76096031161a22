"""The AssistanceZero training loop, visible in one place.

Each iteration: self-play ``rollout`` steps in ``envs`` games (the human model in the
human seat, MCTS over the current network in the assistant's), cut the steps into
sequences for the replay buffer, take ``updates`` Adam steps on sampled sequences
(unrolling the network's memory through each sequence), log, and now and then evaluate
on held-out goals and save a checkpoint.

Losses: cross-entropy to the search's policy target, value regression to discounted
returns (bootstrapped at the rollout's end), per-factor goal cross-entropy (the true goal
only as a label), human-action cross-entropy, and the paper's KL regularizer that keeps
the goal head near its predictions at collection time (weight ramped up linearly).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from assist import evaluation
from assist.checks import require_positive_ints
from assist.learning import losses
from assist.learning.replay import SequenceReplay, to_sequences
from assist.learning.selfplay import GoalGames, Rollout, SelfPlay
from assist.learning.trainer import LoopConfig, Stateful, Trainer, TrainingContext
from assist.models.base import Evaluator
from assist.players.policy import PolicyPlayer
from assist.players.search import SearchPlayer
from assist.search.config import SearchConfig
from envs.core import ASSISTANT


@dataclasses.dataclass
class AssistanceZeroConfig(LoopConfig):
    """Training settings (the loop's: :class:`~assist.learning.trainer.LoopConfig`; the
    search's: a :class:`SearchConfig`).

    envs: games played at once in self-play.
    rollout: steps per game per iteration (a multiple of ``sequence``).
    sequence: steps per replayed sequence (the network's memory is unrolled through them).
    replay: buffer capacity in sequences.
    batch: sequences per gradient step; updates: gradient steps per iteration.
    *_weight: loss weights, by default the AssistanceZero paper's (policy 1, value 0.01,
        goal 3, human 1, goal KL ramped from 0 to 30): a value weight near 1 lets the
        value's gradient drown the goal head's on the shared trunk (see
        ``losses/trunk_grad_*``), and the goal belief is what the search needs most.
    goal_kl_ramp_steps: env steps over which goal_kl_weight rises linearly from 0 (0: the
        full weight from the start). The default is the paper's: its ramp spans its whole
        run, 8.19 M env steps (2,000 iterations of 4,096), so within an hour on a CPU the
        KL hardly pulls. Squeezed into a short run it anchors a still-learning goal head
        to its own early doubts: on `small`, the full 30 reached by 123k env steps slowed
        the belief (human actions at 61k env steps 48.0 and 41.0 with it, 32.6 and 27.6
        without, seeds 0-1; results/assistancezero/build_small/recipe). Counted in env
        steps, the schedule stays the same when a resume extends ``iterations``.
    grad_terms_every: log each loss term's gradient norm on the shared trunk
        (``losses/trunk_grad_<term>``) every so many iterations (0: never).
    goal_envs: games played beside self-play only for their goal labels, by the
        network's own policy without search (:class:`~assist.learning.selfplay.GoalGames`:
        one model call per step instead of a search's dozens), ``rollout`` steps each per
        iteration (counted in the env steps); 0: none. Their sequences go to a buffer of
        ``goal_replay`` sequences, and every update adds the goal cross-entropy on
        ``goal_batch`` of them (``losses/goal_games``, weighted ``goal_weight``): the goal
        belief learns from many more goals than self-play alone can afford.
    eval_simulations: the search budget when evaluating (no root noise, best action).
    """

    name: str = "assistancezero"
    envs: int = 32
    rollout: int = 16
    sequence: int = 8
    replay: int = 2048
    batch: int = 32
    updates: int = 4
    policy_weight: float = 1.0
    value_weight: float = 0.01
    goal_weight: float = 3.0
    human_weight: float = 1.0
    goal_kl_weight: float = 30.0
    goal_kl_ramp_steps: int = 8_192_000
    grad_terms_every: int = 10
    goal_envs: int = 0
    goal_replay: int = 8192
    goal_batch: int = 32
    eval_simulations: int = 16

    def __post_init__(self):
        super().__post_init__()
        require_positive_ints(self, "envs", "rollout", "sequence", "replay", "batch", "eval_simulations", "goal_replay", "goal_batch")
        if self.goal_envs < 0:
            raise ValueError(f"goal_envs={self.goal_envs} must be >= 0 (0: no goal games)")
        if self.rollout % self.sequence:
            raise ValueError(f"rollout={self.rollout} must be a multiple of sequence={self.sequence}")
        if self.goal_kl_ramp_steps < 0 or self.grad_terms_every < 0:
            raise ValueError(f"goal_kl_ramp_steps={self.goal_kl_ramp_steps} and grad_terms_every={self.grad_terms_every} must be >= 0")


def goal_kl_weight_at(config: AssistanceZeroConfig, env_steps: int) -> float:
    """The goal-KL weight after ``env_steps`` env steps: linear from 0 to
    ``config.goal_kl_weight`` over ``config.goal_kl_ramp_steps``."""
    ramp = config.goal_kl_ramp_steps
    return config.goal_kl_weight * (1.0 if ramp == 0 else min(1.0, env_steps / ramp))


PER_SEQUENCE = ("memory",)
"""Rollout fields kept once per sequence (at its first step)."""


def sequences_from(rollout: Rollout, length: int, discount: float) -> dict[str, np.ndarray]:
    """The replay fields of a rollout: [S, L, ...] per step, [S, ...] per sequence, with
    the discounted returns as the value targets."""
    returns = losses.discounted_returns(
        torch.from_numpy(rollout.reward), torch.from_numpy(rollout.ends), torch.from_numpy(rollout.bootstrap), discount
    ).numpy()
    fields = {f"observation.{k}": v for k, v in rollout.observation.items()}
    fields.update({k: v for k, v in rollout._asdict().items() if k not in ("observation", "bootstrap", "reward", "ends")})
    fields["returns"] = returns
    out = {key: to_sequences(value, length) for key, value in fields.items()}
    for key in PER_SEQUENCE:
        out[key] = out[key][:, 0]
    return out


def unroll(net: nn.Module, batch: dict[str, torch.Tensor]):
    """The network's outputs over [S, L] sequences, flattened to [S * L, ...]."""
    observation = {key.split(".", 1)[1]: value for key, value in batch.items() if key.startswith("observation.")}
    memory = batch["memory"]
    outputs = []
    for step in range(batch["start"].shape[1]):
        memory = torch.where(batch["start"][:, step, None], torch.zeros_like(memory), memory)
        output, memory = net({key: value[:, step] for key, value in observation.items()}, memory)
        outputs.append(output)
    return type(outputs[0])(*(torch.stack(field, dim=1).flatten(0, 1) for field in zip(*outputs)))


def loss_terms(net: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each loss (unweighted) on a batch of sequences."""
    return output_terms(unroll(net, batch), step_fields(batch))


def step_fields(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The per-step fields of a batch of [S, L] sequences but the observation, flattened to [S * L, ...]."""
    return {key: value.flatten(0, 1) for key, value in batch.items() if key not in PER_SEQUENCE and not key.startswith("observation.")}


def output_terms(out, flat: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each loss (unweighted) of a model's outputs (a ModelOutput of tensors, [N, ...]) on
    the per-step fields ``flat`` (:func:`step_fields`)."""
    return {
        "policy": losses.policy_loss(out.policy_logits, flat["legal"], flat["slot_actions"], flat["target"]),
        "value": losses.value_loss(out.value, flat["returns"]),
        "goal": losses.goal_loss(out.goal_logits, flat["goal"]),
        "human": losses.human_loss(out.human_logits, flat["human_legal"], flat["human_action"]),
        "goal_kl": losses.goal_kl(out.goal_logits, flat["belief"]),
    }


class AssistanceZeroTrainer(Trainer):
    """Trains ``net`` on ``core`` against ``human``; evaluates on ``eval_core`` (held-out goals).

    ``evaluator``: how the search calls ``net`` (default: a :class:`TorchEvaluator` of it);
    a subclass whose net is another kind of model passes its own and overrides
    :meth:`loss_terms`.
    """

    def __init__(self, context: TrainingContext, net: nn.Module, search: SearchConfig, config: AssistanceZeroConfig, evaluator: Evaluator | None = None):
        super().__init__(context, net, config, evaluator)
        core, human = context.core, context.human
        self.search = search = search.for_game(core)  # discount None: the game's (it also discounts the value targets)
        self.selfplay = SelfPlay(core, human, SearchPlayer(core, ASSISTANT, self.evaluator, search, sample=True), config.envs, self.rng)
        self.replay = SequenceReplay(config.replay)
        self.goal_games = None
        if config.goal_envs:
            goal_human = copy.deepcopy(human, memo={id(core): core})  # its own per-game state, the same rules
            goal_player = PolicyPlayer(core, ASSISTANT, self.evaluator, sample=True)
            self.goal_games = GoalGames(core, goal_human, goal_player, config.goal_envs, self.rng)
            self.goal_replay = SequenceReplay(config.goal_replay)

    def parts(self) -> dict[str, Stateful]:
        goal_parts = {"goal_games": self.goal_games, "goal_replay": self.goal_replay} if self.goal_games is not None else {}
        return {**super().parts(), "replay": self.replay, **goal_parts}

    def kl_weight(self) -> float:
        return goal_kl_weight_at(self.config, self.env_steps)

    def loss_weights(self) -> dict[str, float]:
        """The weight of each term of :meth:`loss_terms`."""
        cfg = self.config
        weights = {"policy": cfg.policy_weight, "value": cfg.value_weight, "goal": cfg.goal_weight, "human": cfg.human_weight, "goal_kl": self.kl_weight()}
        return {**weights, "goal_games": cfg.goal_weight} if self.goal_games is not None else weights

    def tensors(self, sample: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        """Sampled replay arrays as tensors on the learner's device."""
        return {key: torch.from_numpy(np.ascontiguousarray(value)).to(self.device) for key, value in sample.items()}

    def loss_terms(self, sample: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        """Each loss (unweighted) on ``sample``, sequences drawn from the replay buffer."""
        return loss_terms(self.net, self.tensors(sample))

    def goal_games_loss(self, sample: dict[str, np.ndarray]) -> torch.Tensor:
        """The goal cross-entropy on sequences of the goal games (unweighted)."""
        batch = self.tensors(sample)
        return losses.goal_loss(unroll(self.net, batch).goal_logits, step_fields(batch)["goal"])

    def update(self, trunk_grads: bool = False) -> dict[str, float]:
        """One gradient step on a sampled batch of sequences; the losses as floats (with
        ``trunk_grads``, also each weighted term's gradient norm on the shared trunk,
        ``trunk_grad_<term>``, measured before the step)."""
        cfg = self.config
        self.net.train()
        terms = self.loss_terms(self.replay.sample(cfg.batch, self.rng))
        if self.goal_games is not None:
            terms["goal_games"] = self.goal_games_loss(self.goal_replay.sample(cfg.goal_batch, self.rng))
        return self.weighted_step(terms, self.loss_weights(), cfg.grad_clip, trunk_grads)

    def evaluate(self, record: list | None = None) -> dict[str, evaluation.Summary]:
        """Held-out evaluation: best-action search without root noise."""
        assistant = SearchPlayer(self.eval_core, ASSISTANT, self.evaluator, self.search.for_evaluation(self.config.eval_simulations))
        return self.evaluate_assistant(assistant, "assistancezero", record)

    def train(self, progress=None) -> dict[str, Any]:
        """Run the remaining iterations (until :meth:`running` says stop); the latest evaluation's means."""
        cfg = self.config
        while self.running():
            tic = time.perf_counter()
            search_before = self.selfplay.search_seconds
            rollout = self.selfplay.collect(cfg.rollout)
            self.replay.add(sequences_from(rollout, cfg.sequence, self.search.discount))
            if self.goal_games is not None:
                self.goal_replay.add(self.goal_games.collect(cfg.rollout, cfg.sequence))
                self.goal_games.pop_finished()  # their episodes are not the assistant's (charts/ is self-play's)
            collect_seconds = time.perf_counter() - tic
            self.env_steps += cfg.rollout * (cfg.envs + cfg.goal_envs) * self.group.world_size  # every rank's games
            tic = time.perf_counter()
            due = cfg.grad_terms_every > 0 and self.iteration % cfg.grad_terms_every == 0
            terms = [self.update(trunk_grads=due and not i) for i in range(cfg.updates)]
            learn_seconds = time.perf_counter() - tic
            self.iteration += 1
            step = self.env_steps
            self.logger.scalars("losses", {key: float(np.mean([t[key] for t in terms if key in t])) for key in terms[0]}, step)
            self.logger.scalars("losses", {"goal_kl_weight": self.kl_weight()}, step)
            search_seconds = self.selfplay.search_seconds - search_before
            self.logger.scalars(
                "search",
                {
                    "simulations_per_s": self.search.num_simulations * cfg.envs * cfg.rollout / max(search_seconds, 1e-9),
                    "depth": float(np.mean(self.selfplay.depths)),
                    "root_entropy": float(np.mean(self.selfplay.entropies)),
                },
                step,
            )
            self.logger.scalars("perf", {"env_steps_per_s": cfg.rollout * (cfg.envs + cfg.goal_envs) / collect_seconds, "updates_per_s": cfg.updates / learn_seconds}, step)
            self.finish_iteration(progress)
        self.logger.flush()
        return self.latest
