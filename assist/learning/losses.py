"""Every loss term and advantage estimator of the trainers, as small pure functions of
tensors, each with its own CPU unit tests (verl's ``core_algos.py`` habit): the
AssistanceZero terms, PPO's (also RLFT's with ``advantage=gae``), the LM pipeline's
objectives, and the group advantage estimators by name (:data:`GROUP_ADVANTAGES`).

Shapes: N samples (steps), A assistant actions, A_H human actions, K search slots,
F goal factors with G values each; T steps in time and B games for returns; N x T
tokens over a V vocabulary for the LM; groups of n episodes played from the same start
state and goal. Policy logits are dense [N, A] (anything on illegal actions): every
function here normalizes over the legal actions only, exactly as the players act.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

NEG = -1e9
"""Logit for illegal actions (finite, so masked rows never produce NaN)."""


def masked_log_softmax(logits: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """[N, A] log-probabilities over the legal actions (``legal`` [N, A] bool)."""
    return torch.log_softmax(logits.masked_fill(~legal, NEG), dim=-1)


# ------------------------------------------------------------ AssistanceZero


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


# ----------------------------------------------------------------------- PPO


def gae(rewards: torch.Tensor, values: torch.Tensor, ends: torch.Tensor, bootstrap: torch.Tensor, discount: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE(lambda) advantages and value targets, both [T, B].

    rewards, values: [T, B] (values[t] is V(s_t)); ends: [T, B] bool, the episode ended
    at step t (nothing after it is counted, nor bootstrapped); bootstrap: [B] the value of
    the state after the last step. Returns (advantages, advantages + values).
    """
    advantages = torch.empty_like(rewards)
    following_value, following_advantage = bootstrap, torch.zeros_like(bootstrap)
    for t in range(rewards.shape[0] - 1, -1, -1):
        going_on = (~ends[t]).to(rewards.dtype)
        delta = rewards[t] + discount * following_value * going_on - values[t]
        following_advantage = delta + discount * lam * going_on * following_advantage
        advantages[t] = following_advantage
        following_value = values[t]
    return advantages, advantages + values


def clipped_policy_loss(log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor, clip: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate, to minimize: ``-mean(min(r A, clip(r, 1 - clip, 1 + clip) A))``
    with ``r = exp(log_prob - old_log_prob)`` (all [N]).

    Returns (loss, approx_kl, clip_fraction): the last two without gradient, approx_kl the
    ``(r - 1) - log r`` estimator of KL(old || new), clip_fraction the share of samples
    whose ratio lies outside the bounds.
    """
    log_ratio = log_prob - old_log_prob
    ratio = log_ratio.exp()
    surrogate = torch.minimum(ratio * advantages, ratio.clamp(1.0 - clip, 1.0 + clip) * advantages)
    with torch.no_grad():
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
        clip_fraction = ((ratio - 1.0).abs() > clip).float().mean()
    return -surrogate.mean(), approx_kl, clip_fraction


def masked_entropy(logits: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """Mean entropy of the softmax over the legal actions (``logits`` [N, A], ``legal`` [N, A] bool)."""
    logp = masked_log_softmax(logits, legal)
    return -torch.where(legal, logp.exp() * logp, torch.zeros_like(logp)).sum(dim=-1).mean()


# ------------------------------------------------------------ the LM pipeline


def policy_gradient_loss(log_prob: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """REINFORCE's surrogate to minimize, ``-mean(A * log pi(a))``: ``log_prob`` [N] of the
    actions taken (with gradients), ``advantages`` [N] (treated as constants)."""
    return -(advantages.detach() * log_prob).mean()


def chosen_log_prob(logits: torch.Tensor, legal: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """[N] log-probability of ``action`` [N] under the softmax of ``logits`` [N, A] over
    the legal actions ``legal`` [N, A] bool."""
    return masked_log_softmax(logits, legal).gather(1, action.long()[:, None]).squeeze(1)


def candidate_kl(logits: torch.Tensor, reference_logits: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """Exact KL(pi || pi_ref) over the legal candidate set, mean over samples: both
    policies are the softmax of their logits ([N, A] each) over ``legal`` [N, A] bool, and
    the sum runs over every legal action (no sampling estimate). The reference is a constant."""
    logp = masked_log_softmax(logits, legal)
    logq = masked_log_softmax(reference_logits.detach(), legal)
    terms = torch.where(legal, logp.exp() * (logp - logq), torch.zeros_like(logp))
    return terms.sum(dim=1).mean()


def next_token_loss(logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy (nats per token) of sequences ``ids`` [N, T] under
    ``logits`` [N, T, V] (position t predicts token t + 1); ``mask`` [N, T] is 1 on real
    tokens, so padding is neither predicted nor counted."""
    targets, real = ids[:, 1:], mask[:, 1:].bool()
    nll = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), targets.flatten(), reduction="none")
    return torch.where(real.flatten(), nll, torch.zeros_like(nll)).sum() / real.sum().clamp(min=1)


# ----------------------------------------------------- advantage estimators


def rloo(returns: torch.Tensor) -> torch.Tensor:
    """REINFORCE leave-one-out, [G, n] -> [G, n]: each return minus the mean of the
    other n - 1 returns of its group (row)."""
    n = returns.shape[1]
    return returns - (returns.sum(dim=1, keepdim=True) - returns) / (n - 1)


def grpo(returns: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """GRPO's, [G, n] -> [G, n]: each return minus its group's mean, divided by the
    group's standard deviation + ``eps`` (a group of equal returns gets zeros)."""
    centred = returns - returns.mean(dim=1, keepdim=True)
    return centred / (returns.std(dim=1, keepdim=True, unbiased=False) + eps)


GROUP_ADVANTAGES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"rloo": rloo, "grpo": grpo}
"""The group advantage estimators by name: episode returns [G, n] to advantages [G, n]."""
ADVANTAGES = (*GROUP_ADVANTAGES, "gae")
"""RLFT's advantage estimators: the group ones (:func:`group_advantages`), and PPO's
per-step GAE over the value head (:func:`gae`)."""


def group_advantages(returns: torch.Tensor, method: str = "rloo") -> torch.Tensor:
    """[G, n] advantages of [G, n] episode returns by the estimator ``method`` of
    :data:`GROUP_ADVANTAGES`, each normalized within its group (row), never across groups
    (n >= 2 episodes per group)."""
    if returns.ndim != 2 or returns.shape[1] < 2:
        raise ValueError(f"returns must be [G, n] with n >= 2 episodes per group, got shape {tuple(returns.shape)}")
    if method not in GROUP_ADVANTAGES:
        raise ValueError(f"advantage method {method!r} is not one of {list(GROUP_ADVANTAGES)}")
    return GROUP_ADVANTAGES[method](returns)
