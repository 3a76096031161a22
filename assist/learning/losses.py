"""The AssistanceZero losses as small pure functions of tensors (each tested on its own).

Shapes: N samples (steps), A assistant actions, A_H human actions, K search slots,
F goal factors with G values each.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

NEG = -1e9
"""Logit for illegal actions (finite, so masked rows never produce NaN)."""


def masked_log_softmax(logits: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """[N, A] log-probabilities over the legal actions (``legal`` [N, A] bool)."""
    return torch.log_softmax(logits.masked_fill(~legal, NEG), dim=-1)


def policy_loss(logits: torch.Tensor, legal: torch.Tensor, slot_actions: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy to the search target, mean over samples.

    logits: [N, A]; legal: [N, A] bool; slot_actions: [N, K] int64 (-1 unused);
    target: [N, K] probabilities over those slots.
    """
    logp = masked_log_softmax(logits, legal).gather(1, slot_actions.clamp(min=0))
    return -(target * torch.where(slot_actions >= 0, logp, torch.zeros_like(logp))).sum(dim=1).mean()


def value_loss(value: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the value [N] to the discounted returns [N]."""
    return F.mse_loss(value, returns)


def goal_loss(goal_logits: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each goal factor ([N, F, G] logits) to the true goal ([N, F]
    ints, a label only), mean over factors and samples."""
    return F.cross_entropy(goal_logits.flatten(0, 1), goal.flatten().long())


def human_loss(human_logits: torch.Tensor, human_legal: torch.Tensor, human_action: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the human model ([N, A_H] logits over legal actions) to the
    human's actual actions [N]."""
    return F.nll_loss(masked_log_softmax(human_logits, human_legal), human_action.long())


def goal_kl(goal_logits: torch.Tensor, previous_probs: torch.Tensor) -> torch.Tensor:
    """KL(previous || current) per goal factor, mean over factors and samples: keeps the
    belief close to what the network predicted when the data was collected (the paper's
    regularizer). goal_logits: [N, F, G]; previous_probs: [N, F, G]."""
    logq = torch.log_softmax(goal_logits, dim=-1)
    p = previous_probs.float()
    return (p * (torch.log(p.clamp(min=1e-8)) - logq)).sum(dim=-1).mean()


def discounted_returns(rewards: torch.Tensor, ends: torch.Tensor, bootstrap: torch.Tensor, discount: float) -> torch.Tensor:
    """[T, B] returns G_t = r_t + discount * G_{t+1}, cut where an episode ended at t
    (``ends`` [T, B] bool), bootstrapped after the last step with ``bootstrap`` [B]."""
    returns = torch.empty_like(rewards)
    following = bootstrap
    for t in range(rewards.shape[0] - 1, -1, -1):
        following = rewards[t] + discount * following * (~ends[t]).float()
        returns[t] = following
    return returns
