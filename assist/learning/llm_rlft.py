"""Stage 3 of the LM pipeline, ``algo=rlft``: RL fine-tuning against the human model with
the environment's reward, in groups.

Each iteration plays ``groups`` x ``group_size`` whole episodes: every group's episodes
reset with the same seed (the same start state and goal), the LM assistant sampling its
actions from its scores of the legal actions (at ``temperature``), the human model in
the human seat. An episode's return (the shared reward, summed) gets an advantage
normalized within its group (:func:`~assist.learning.llm_losses.group_advantages`:
RLOO or GRPO), and every step of the episode carries it. One Adam step then minimizes,
over all the iteration's steps (in forward passes of ``batch`` steps):

    policy-gradient loss over the scored legal candidates (REINFORCE with the group advantage)
    + kl_weight * KL(LM || reference), exact over each step's legal candidates
    + value_weight * value head MSE to the discounted return-to-go
    + goal_weight * goal head cross-entropy to the true goal (a label only)

where the reference is the starting model (``init``, the SFT model in the pipeline),
frozen. The steps are those the acting policy played (one gradient step per batch of
episodes: on-policy, no importance ratio). Logged: ``losses/`` (pg, kl, kl_weight,
value, goal, total, grad_norm), ``charts/`` (reward: the mean episode return, the
games' metrics, group_return_std), ``perf/`` (tokens_per_s, env_steps_per_s).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from assist import recording
from assist.learning import losses
from assist.learning.llm_losses import candidate_kl, chosen_log_prob, group_advantages, policy_gradient_loss
from assist.learning.llm_stage import LMTrainer, frozen_reference
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

    def rollouts(self) -> tuple[recording.SeatSteps, torch.Tensor, torch.Tensor, dict[str, float]]:
        """Play the iteration's groups: the assistant's steps, each episode's advantage
        [G * n] and return-to-go per step [N], and the episodes' charts."""
        cfg = self.config
        seeds = np.repeat(self.rng.integers(0, 2**62, size=cfg.groups, dtype=np.int64), cfg.group_size)
        episodes = play(self.core, {HUMAN: self.human, ASSISTANT: self.actor}, seeds, self.rng)
        steps = recording.seat_steps(self.core, recording.episode_lines(episodes, episodes.state.goal), ASSISTANT)
        returns = torch.from_numpy(episodes.rewards.sum(axis=0, dtype=np.float32))  # [G * n]
        advantages = group_advantages(returns.view(cfg.groups, cfg.group_size), cfg.advantage).reshape(-1)
        to_go = losses.discounted_returns(torch.from_numpy(steps.reward)[:, None], torch.from_numpy(steps.ends)[:, None], torch.zeros(1), cfg.discount)[:, 0]
        charts = {key: float(np.nanmean(value)) for key, value in episodes.metrics.items()}
        charts.update(reward=float(returns.mean()), group_return_std=float(returns.view(cfg.groups, cfg.group_size).std(dim=1, unbiased=False).mean()))
        self.env_steps += int(episodes.lengths.sum())
        return steps, advantages, to_go, charts

    def iterate(self) -> dict[str, dict[str, float]]:
        cfg = self.config
        tic = time.perf_counter()
        steps, advantages, to_go, charts = self.rollouts()
        collect_seconds = time.perf_counter() - tic
        self.policy.train()
        tic = time.perf_counter()
        count, tokens = len(steps.action), 0
        sums: dict[str, float] = {}
        self.optimizer.zero_grad(set_to_none=True)
        for start in range(0, count, cfg.batch):
            rows = np.arange(start, min(start + cfg.batch, count))
            observation = {key: value[rows] for key, value in steps.observation.items()}
            out, read = self.policy.outputs(self.encoder, observation, steps.legal[rows])
            with torch.no_grad():
                reference, _ = self.reference.outputs(self.encoder, observation, steps.legal[rows])
            legal, action = torch.from_numpy(steps.legal[rows]).to(self.device), torch.from_numpy(steps.action[rows]).to(self.device)
            term = {
                "pg": policy_gradient_loss(chosen_log_prob(out.policy_logits, legal, action), advantages[steps.episode[rows]].to(self.device)),
                "kl": candidate_kl(out.policy_logits, reference.policy_logits, legal),
                "value": losses.value_loss(out.value, to_go[rows].to(self.device)),
                "goal": losses.goal_loss(out.goal_logits, torch.from_numpy(steps.goal[rows]).to(self.device)),
            }
            total = term["pg"] + cfg.kl_weight * term["kl"] + cfg.value_weight * term["value"] + cfg.goal_weight * term["goal"]
            (total * len(rows) / count).backward()  # the gradient of the mean over all steps
            for key, value in {**term, "total": total}.items():
                sums[key] = sums.get(key, 0.0) + value.item() * len(rows) / count
            tokens += read
        means = {key: torch.tensor(value) for key, value in sums.items()}  # the losses over all steps
        sums["grad_norm"] = self.step_gradients(means.pop("total"), cfg.grad_clip, means)
        sums["kl_weight"] = cfg.kl_weight
        learn_seconds = time.perf_counter() - tic
        return {
            "losses": sums,
            "charts": charts,
            "perf": {"tokens_per_s": tokens / learn_seconds, "env_steps_per_s": count / collect_seconds},
        }
