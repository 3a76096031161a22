"""Stage 3 of the LM pipeline, ``algo=rlft``: RL fine-tuning against the human model with
the environment's reward, in groups.

Each iteration plays ``groups`` x ``group_size`` whole episodes: every group's episodes
reset with the same seed (the same start state and goal), the LM assistant sampling its
actions from its scores of the legal actions (at ``temperature``), the human model in
the human seat. Advantages (``advantage``):

* ``rloo`` / ``grpo``: an episode's return (the shared reward, summed) normalized within
  its group (:func:`~assist.learning.losses.group_advantages`), carried by every step
  of the episode; the value head regresses to the discounted return-to-go.
* ``gae``: PPO with the value head: per-step GAE(``lam``) advantages from the value
  head's values before the iteration's updates, normalized over the iteration's steps;
  the value head regresses to the lambda-returns.

Then ``epochs`` passes over the iteration's steps, each in ``minibatches`` Adam steps
(forward passes of ``batch`` steps), minimize

    PPO's clipped surrogate over the scored legal candidates (ratio to the acting policy)
    + kl_weight * KL(LM || reference), exact over each step's legal candidates
    + value_weight * value head MSE to its targets
    + goal_weight * goal head cross-entropy to the true goal (a label only)

where the reference is the starting model (``init``, the SFT model in the pipeline),
frozen. The first Adam step is on-policy (ratio 1: the surrogate's gradient is
REINFORCE's), so ``epochs=1 minibatches=1`` is plain REINFORCE with the group baseline;
more steps reuse the episodes, and the clip keeps the policy near the one that played
them. Logged: ``losses/`` (pg, kl, kl_weight, value, goal, total, grad_norm, approx_kl,
clip_fraction, means over the Adam steps), ``charts/`` (reward: the mean episode return,
the games' metrics, group_return_std), ``perf/`` (tokens_per_s, env_steps_per_s).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np
import torch

from assist import recording
from assist.learning import losses
from assist.learning.llm_stage import LMTrainer, frozen_reference
from assist.learning.losses import candidate_kl, chosen_log_prob, clipped_policy_loss, gae, group_advantages
from assist.players.policy import PolicyPlayer
from assist.rollout import play
from envs.core import ASSISTANT, HUMAN


class RLFTTrainer(LMTrainer):
    """Fine-tunes the LM of ``config.init`` with group policy gradients against ``human``
    on ``core``; evaluates on ``eval_core`` with ``eval_human``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        core, config = self.core, self.config
        self.actor = PolicyPlayer(core, ASSISTANT, self.evaluator, sample=True, temperature=config.temperature)
        self.reference = frozen_reference(core, config.init, self.device)

    def rollouts(self) -> tuple[recording.SeatSteps, torch.Tensor, dict[str, float]]:
        """Play the iteration's groups: the assistant's steps, each episode's return
        [G * n] and the episodes' charts."""
        cfg = self.config
        seeds = np.repeat(self.rng.integers(0, 2**62, size=cfg.groups, dtype=np.int64), cfg.group_size)
        episodes = play(self.core, {HUMAN: self.human, ASSISTANT: self.actor}, seeds, self.rng)
        steps = recording.seat_steps(self.core, recording.episode_lines(episodes, episodes.state.goal), ASSISTANT)
        returns = torch.from_numpy(episodes.rewards.sum(axis=0, dtype=np.float32))  # [G * n]
        charts = {key: float(np.nanmean(value)) for key, value in episodes.metrics.items()}
        charts.update(
            reward=float(returns.mean()), group_return_std=float(returns.view(cfg.groups, cfg.group_size).std(dim=1, unbiased=False).mean())
        )
        self.env_steps += int(episodes.lengths.sum())
        return steps, returns, charts

    def acting_outputs(self, steps: recording.SeatSteps) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Before the updates, without gradients: the acting policy's log-probability of
        each step's action [N], its values [N], and the reference's logits [N, A]."""
        old_log_prob, values, reference = [], [], []
        self.policy.eval()
        with torch.no_grad():
            for rows in chunks(np.arange(len(steps.action)), self.config.batch):
                observation, legal, action = self.step_inputs(steps, rows)
                out, _ = self.policy.outputs(self.encoder, observation, steps.legal[rows])
                old_log_prob.append(chosen_log_prob(out.policy_logits, legal, action))
                values.append(out.value)
                reference.append(self.reference.outputs(self.encoder, observation, steps.legal[rows])[0].policy_logits)
        self.policy.train()
        return torch.cat(old_log_prob), torch.cat(values), torch.cat(reference)

    def step_inputs(self, steps: recording.SeatSteps, rows: np.ndarray) -> tuple[dict[str, np.ndarray], torch.Tensor, torch.Tensor]:
        """The observations of ``steps``' ``rows``, and their legal masks [n, A] and actions [n] on the device."""
        observation = {key: value[rows] for key, value in steps.observation.items()}
        return observation, torch.from_numpy(steps.legal[rows]).to(self.device), torch.from_numpy(steps.action[rows]).to(self.device)

    def targets(self, steps: recording.SeatSteps, returns: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-step advantages [N] and value targets [N] (see the module docstring);
        ``returns`` [G * n] the episodes' returns, ``values`` [N] the value head's."""
        cfg = self.config
        reward, ends = torch.from_numpy(steps.reward)[:, None].to(self.device), torch.from_numpy(steps.ends)[:, None].to(self.device)
        if cfg.advantage == "gae":
            advantages, lambda_returns = gae(reward, values[:, None], ends, torch.zeros(1, device=self.device), cfg.discount, cfg.lam)
            advantages = advantages[:, 0]
            return (advantages - advantages.mean()) / (advantages.std(unbiased=False) + 1e-8), lambda_returns[:, 0]
        group = group_advantages(returns.view(cfg.groups, cfg.group_size), cfg.advantage).reshape(-1)
        to_go = losses.discounted_returns(reward, ends, torch.zeros(1, device=self.device), cfg.discount)[:, 0]
        return group.to(self.device)[torch.from_numpy(steps.episode).to(self.device)], to_go

    def update(self, steps: recording.SeatSteps, minibatch: np.ndarray, fixed: UpdateTargets) -> tuple[dict[str, float], int]:
        """One Adam step on the steps ``minibatch`` (forward passes of ``batch`` steps): the
        minibatch's mean of each loss term (and ``grad_norm``), and the tokens read."""
        cfg = self.config
        self.optimizer.zero_grad(set_to_none=True)
        sums: dict[str, float] = {}
        tokens = 0
        for rows in chunks(minibatch, cfg.batch):
            observation, legal, action = self.step_inputs(steps, rows)
            out, read = self.policy.outputs(self.encoder, observation, steps.legal[rows])
            index = torch.from_numpy(rows).to(self.device)
            log_prob = chosen_log_prob(out.policy_logits, legal, action)
            pg, approx_kl, clip_fraction = clipped_policy_loss(log_prob, fixed.old_log_prob[index], fixed.advantages[index], cfg.clip)
            term = {
                "pg": pg,
                "kl": candidate_kl(out.policy_logits, fixed.reference[index], legal),
                "value": losses.value_loss(out.value, fixed.value_targets[index]),
                "goal": losses.goal_loss(out.goal_logits, torch.from_numpy(steps.goal[rows]).to(self.device)),
            }
            total = term["pg"] + cfg.kl_weight * term["kl"] + cfg.value_weight * term["value"] + cfg.goal_weight * term["goal"]
            (total * len(rows) / len(minibatch)).backward()  # the gradient of the minibatch's mean
            for key, value in {**term, "total": total, "approx_kl": approx_kl, "clip_fraction": clip_fraction}.items():
                sums[key] = sums.get(key, 0.0) + value.item() * len(rows) / len(minibatch)
            tokens += read
        terms = {key: torch.tensor(value) for key, value in sums.items()}
        sums["grad_norm"] = self.step_gradients(terms.pop("total"), cfg.grad_clip, terms)
        return sums, tokens

    def iterate(self) -> dict[str, dict[str, float]]:
        cfg = self.config
        tic = time.perf_counter()
        steps, returns, charts = self.rollouts()
        collect_seconds = time.perf_counter() - tic
        tic = time.perf_counter()
        old_log_prob, values, reference = self.acting_outputs(steps)
        fixed = UpdateTargets(old_log_prob, *self.targets(steps, returns, values), reference)
        count = len(steps.action)
        updates = [
            self.update(steps, minibatch, fixed)
            for _ in range(cfg.epochs)
            for minibatch in np.array_split(self.rng.permutation(count), min(cfg.minibatches, count))
        ]
        means = {key: float(np.mean([sums[key] for sums, _ in updates])) for key in updates[0][0]}
        means["kl_weight"] = cfg.kl_weight
        learn_seconds = time.perf_counter() - tic
        return {
            "losses": means,
            "charts": charts,
            "perf": {"tokens_per_s": sum(read for _, read in updates) / learn_seconds, "env_steps_per_s": count / collect_seconds},
        }


class UpdateTargets(NamedTuple):
    """What the iteration's updates hold fixed, per step [N]: the acting policy's
    ``old_log_prob`` of the action, the ``advantages``, the value head's ``value_targets``,
    and the ``reference``'s logits [N, A]."""

    old_log_prob: torch.Tensor
    advantages: torch.Tensor
    value_targets: torch.Tensor
    reference: torch.Tensor


def chunks(rows: np.ndarray, size: int) -> list[np.ndarray]:
    """``rows`` in consecutive pieces of at most about ``size`` (forward passes)."""
    return np.array_split(rows, max(1, -(-len(rows) // size)))
