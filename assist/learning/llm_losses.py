"""The LM pipeline's objectives as small pure functions of tensors (each tested on its own).

Shapes: N samples (steps), A assistant actions, T tokens, V vocabulary; G groups of n
episodes played from the same start state and goal. Policy logits are dense [N, A]
(the legal actions' scores, anything elsewhere): every function here normalizes over
the legal candidates only, exactly as the LM assistant acts.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from assist.learning.losses import masked_log_softmax

GROUP_ADVANTAGES = ("rloo", "grpo")
"""The estimators of :func:`group_advantages`."""
ADVANTAGES = (*GROUP_ADVANTAGES, "gae")
"""RLFT's advantage estimators: the group ones of :func:`group_advantages`, and PPO's
per-step GAE over the value head (:func:`assist.learning.ppo.gae`)."""


def group_advantages(returns: torch.Tensor, method: str = "rloo", eps: float = 1e-6) -> torch.Tensor:
    """[G, n] advantages of [G, n] episode returns, each normalized within its group (row),
    never across groups.

    ``"rloo"``: each return minus the mean of the other n - 1 in its group (REINFORCE
    leave-one-out; n >= 2). ``"grpo"``: each return minus its group's mean, divided by the
    group's standard deviation + ``eps`` (a group of equal returns gets zeros).
    """
    if returns.ndim != 2 or returns.shape[1] < 2:
        raise ValueError(f"returns must be [G, n] with n >= 2 episodes per group, got shape {tuple(returns.shape)}")
    if method == "rloo":
        n = returns.shape[1]
        return returns - (returns.sum(dim=1, keepdim=True) - returns) / (n - 1)
    if method == "grpo":
        centred = returns - returns.mean(dim=1, keepdim=True)
        return centred / (returns.std(dim=1, keepdim=True, unbiased=False) + eps)
    raise ValueError(f"advantage method {method!r} is not one of {list(GROUP_ADVANTAGES)}")


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
