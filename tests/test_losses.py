"""The loss terms and advantage estimators (assist/learning/losses.py), each a small pure
function with a hand-checked case: AssistanceZero's, PPO's, the LM pipeline's."""

import math

import numpy as np
import pytest
import torch

from assist.learning import losses
from assist.learning.losses import (
    candidate_kl,
    chosen_log_prob,
    clipped_policy_loss,
    discounted_returns,
    gae,
    group_advantages,
    masked_entropy,
    next_token_loss,
    policy_gradient_loss,
)


def test_policy_loss_is_cross_entropy_over_legal_actions_at_the_slots():
    logits = torch.tensor([[0.0, 1.0, 2.0, 50.0]])
    legal = torch.tensor([[True, True, True, False]])
    slots = torch.tensor([[2, 1, -1]])
    target = torch.tensor([[0.75, 0.25, 0.0]])
    logz = math.log(1 + math.e + math.e**2)
    expected = -(0.75 * (2 - logz) + 0.25 * (1 - logz))
    assert losses.policy_loss(logits, legal, slots, target).item() == pytest.approx(expected, rel=1e-5)


def test_policy_gradient_is_zero_when_the_policy_already_matches_the_target():
    logits = torch.log(torch.tensor([[0.2, 0.8]])).requires_grad_()
    loss = losses.policy_loss(logits, torch.ones(1, 2, dtype=torch.bool), torch.tensor([[1, 0]]), torch.tensor([[0.8, 0.2]]))
    loss.backward()
    assert torch.allclose(logits.grad, torch.zeros(1, 2), atol=1e-6)


def test_illegal_actions_get_no_probability_mass():
    logp = losses.masked_log_softmax(torch.zeros(1, 3), torch.tensor([[True, False, True]]))
    assert torch.allclose(logp.exp(), torch.tensor([[0.5, 0.0, 0.5]]), atol=1e-6)


def test_human_loss_is_the_negative_log_likelihood_of_the_humans_action():
    loss = losses.human_loss(torch.zeros(2, 4), torch.tensor([[True, True, False, False]] * 2), torch.tensor([0, 1]))
    assert loss.item() == pytest.approx(math.log(2))


def test_goal_loss_averages_over_factors():
    logits = torch.zeros(1, 3, 4)
    assert losses.goal_loss(logits, torch.tensor([[0, 1, 3]])).item() == pytest.approx(math.log(4))


def test_goal_kl_is_zero_against_itself_and_positive_otherwise():
    logits = torch.randn(5, 7, 3)
    assert losses.goal_kl(logits, torch.softmax(logits, -1)).item() == pytest.approx(0.0, abs=1e-6)
    assert losses.goal_kl(logits, torch.softmax(torch.randn(5, 7, 3), -1)).item() > 0


def test_value_loss_is_mean_squared_error():
    assert losses.value_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0])).item() == pytest.approx(5.0)


def test_discounted_returns_cut_at_episode_ends_and_bootstrap_after_the_last_step():
    rewards = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    ends = torch.tensor([[False], [True], [False], [False]])
    returns = losses.discounted_returns(rewards, ends, torch.tensor([10.0]), discount=0.5)
    assert returns[:, 0].tolist() == pytest.approx([1 + 0.5 * 2, 2, 3 + 0.5 * (4 + 0.5 * 10), 4 + 0.5 * 10])


# ----------------------------------------------------------------------- PPO


def test_gae_matches_a_hand_computed_case_with_an_episode_end():
    # one game, 3 steps; the episode ends at step 1, a new one starts at step 2
    rewards = torch.tensor([[1.0], [2.0], [3.0]])
    values = torch.tensor([[0.5], [1.0], [2.0]])
    ends = torch.tensor([[False], [True], [False]])
    bootstrap = torch.tensor([4.0])
    g, lam = 0.9, 0.8
    d2 = 3.0 + g * 4.0 - 2.0  # bootstrapped after the rollout
    d1 = 2.0 - 1.0  # the episode ended: no value after it
    d0 = 1.0 + g * 1.0 - 0.5
    expected = torch.tensor([[d0 + g * lam * d1], [d1], [d2]])
    advantages, returns = gae(rewards, values, ends, bootstrap, g, lam)
    assert torch.allclose(advantages, expected)
    assert torch.allclose(returns, expected + values)


def test_gae_with_lambda_one_gives_the_discounted_returns():
    rewards, values = torch.rand(6, 3), torch.rand(6, 3)
    ends = torch.rand(6, 3) < 0.3
    bootstrap = torch.rand(3)
    _, returns = gae(rewards, values, ends, bootstrap, 0.95, 1.0)
    assert torch.allclose(returns, discounted_returns(rewards, ends, bootstrap, 0.95), atol=1e-6)


def test_zero_advantage_gives_zero_policy_gradient():
    log_prob = torch.log(torch.tensor([0.2, 0.5, 0.9])).requires_grad_()
    loss, _, _ = clipped_policy_loss(log_prob, torch.log(torch.tensor([0.3, 0.5, 0.6])), torch.zeros(3), 0.2)
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(log_prob.grad, torch.zeros(3))


def test_clipping_engages_beyond_the_ratio_bounds():
    old = torch.zeros(4)
    # ratios 1.5 and 0.5 (outside [0.8, 1.2]) and 1.1, 0.9 (inside)
    log_prob = torch.log(torch.tensor([1.5, 0.5, 1.1, 0.9])).requires_grad_()
    advantages = torch.tensor([1.0, -1.0, 1.0, -1.0])
    loss, approx_kl, clip_fraction = clipped_policy_loss(log_prob, old, advantages, 0.2)
    loss.backward()
    # clipped: a positive advantage gains nothing above 1 + eps, a negative one below 1 - eps
    assert log_prob.grad[0] == 0 and log_prob.grad[1] == 0
    # inside the bounds the gradient is -A * ratio / N
    assert torch.allclose(log_prob.grad[2:], torch.tensor([-1.1 / 4, 0.9 / 4]))
    assert loss.item() == pytest.approx(-(1.2 - 0.8 + 1.1 - 0.9) / 4)
    assert clip_fraction.item() == 0.5 and approx_kl.item() > 0


def test_the_pessimistic_side_is_never_clipped():
    # ratio 0.5 with a positive advantage (and 1.5 with a negative one) keep their gradient
    log_prob = torch.log(torch.tensor([0.5, 1.5])).requires_grad_()
    loss, _, _ = clipped_policy_loss(log_prob, torch.zeros(2), torch.tensor([1.0, -1.0]), 0.2)
    loss.backward()
    assert torch.allclose(log_prob.grad, torch.tensor([-0.5 / 2, 1.5 / 2]))


def test_entropy_counts_only_the_legal_actions():
    legal = torch.tensor([[True, True, False, False], [True, False, False, False]])
    entropy = masked_entropy(torch.tensor([[0.0, 0.0, 9.0, 9.0], [1.0, 2.0, 3.0, 4.0]]), legal)
    assert entropy.item() == pytest.approx(np.log(2) / 2)


# ------------------------------------------------------------ the LM pipeline

LEGAL = torch.tensor([[True, True, False, True], [False, True, True, False]])


def test_zero_advantage_gives_zero_gradient():
    logits = torch.randn(2, 4, requires_grad=True)
    policy_gradient_loss(chosen_log_prob(logits, LEGAL, torch.tensor([0, 2])), torch.zeros(2)).backward()
    assert torch.equal(logits.grad, torch.zeros(2, 4))


def test_a_positive_advantage_makes_the_action_taken_more_likely():
    logits = torch.zeros(2, 4, requires_grad=True)
    action = torch.tensor([3, 1])
    policy_gradient_loss(chosen_log_prob(logits, LEGAL, action), torch.tensor([1.0, -1.0])).backward()
    after = logits.detach() - 0.1 * logits.grad
    assert chosen_log_prob(after, LEGAL, action)[0] > chosen_log_prob(logits, LEGAL, action)[0]
    assert chosen_log_prob(after, LEGAL, action)[1] < chosen_log_prob(logits, LEGAL, action)[1]


def test_the_advantages_are_constants():
    log_prob = torch.tensor([-1.0, -2.0], requires_grad=True)
    advantages = torch.tensor([0.5, 1.0], requires_grad=True)
    policy_gradient_loss(log_prob, advantages).backward()
    assert advantages.grad is None and torch.allclose(log_prob.grad, torch.tensor([-0.25, -0.5]))


def test_kl_is_zero_against_an_identical_reference_with_zero_gradient():
    logits = torch.randn(2, 4, requires_grad=True)
    kl = candidate_kl(logits, logits.detach().clone(), LEGAL)
    kl.backward()
    assert kl.item() == pytest.approx(0.0, abs=1e-7)
    assert torch.allclose(logits.grad, torch.zeros(2, 4), atol=1e-7)


def test_kl_is_exact_over_the_legal_candidates_only():
    logits, reference = torch.randn(2, 4), torch.randn(2, 4)
    expected = []
    for row in range(2):
        p = torch.softmax(logits[row][LEGAL[row]], dim=0)
        q = torch.softmax(reference[row][LEGAL[row]], dim=0)
        expected.append((p * (p.log() - q.log())).sum())
    assert candidate_kl(logits, reference, LEGAL).item() == pytest.approx(torch.stack(expected).mean().item(), rel=1e-5)
    illegal_changed = torch.where(LEGAL, reference, torch.tensor(50.0))
    assert candidate_kl(logits, illegal_changed, LEGAL).item() == pytest.approx(torch.stack(expected).mean().item(), rel=1e-5)
    assert candidate_kl(logits, reference, LEGAL).item() > 0


def test_kl_accepts_minus_infinity_on_illegal_actions():
    logits = torch.where(LEGAL, torch.randn(2, 4), torch.tensor(-torch.inf)).requires_grad_()
    kl = candidate_kl(logits, torch.where(LEGAL, torch.randn(2, 4), torch.tensor(-torch.inf)), LEGAL)
    kl.backward()
    assert torch.isfinite(kl) and torch.isfinite(logits.grad).all()


def test_rloo_subtracts_the_mean_of_the_rest_of_the_group():
    returns = torch.tensor([[1.0, 2.0, 6.0]])
    assert torch.allclose(group_advantages(returns, "rloo"), torch.tensor([[1 - 4.0, 2 - 3.5, 6 - 1.5]]))


@pytest.mark.parametrize("method", ["rloo", "grpo"])
def test_advantages_are_normalized_per_group_not_per_batch(method):
    returns = torch.tensor([[1.0, 3.0], [10.0, 30.0]])
    advantages = group_advantages(returns, method)
    assert torch.allclose(advantages.sum(dim=1), torch.zeros(2), atol=1e-5)  # each group centred on its own mean
    shifted = returns + torch.tensor([[0.0], [100.0]])  # one group's returns all higher: nothing changes
    assert torch.allclose(group_advantages(shifted, method), advantages)
    alone = group_advantages(returns[:1], method)  # a group's advantages ignore the other groups
    assert torch.allclose(alone, advantages[:1])


def test_grpo_scales_each_group_to_unit_spread_and_equal_returns_to_zero():
    advantages = group_advantages(torch.tensor([[1.0, 3.0], [10.0, 30.0], [5.0, 5.0]]), "grpo")
    assert torch.allclose(advantages[:2].abs(), torch.ones(2, 2), atol=1e-4)
    assert torch.equal(advantages[2], torch.zeros(2))


def test_bad_groups_and_methods_are_clear_errors():
    with pytest.raises(ValueError, match="n >= 2"):
        group_advantages(torch.ones(3, 1))
    with pytest.raises(ValueError, match="rloo"):
        group_advantages(torch.ones(2, 2), "ppo")


def test_next_token_loss_is_the_cross_entropy_of_real_tokens_only():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 7)
    ids = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    targets = [(0, 0, 2), (0, 1, 3), (1, 0, 5)]  # (row, position, next token) of every real pair
    expected = -torch.stack([torch.log_softmax(logits[r, t], dim=0)[token] for r, t, token in targets]).mean()
    assert next_token_loss(logits, ids, mask).item() == pytest.approx(expected.item(), rel=1e-6)
    changed = logits.clone()
    changed[0, 2:], changed[1, 1:] = 9.0, -9.0  # predictions of padding, and the pad ids themselves, do not count
    assert next_token_loss(changed, torch.where(mask.bool(), ids, 6), mask).item() == pytest.approx(expected.item(), rel=1e-6)


def test_the_clipped_surrogate_on_policy_has_reinforces_gradient():
    logits = torch.randn(3, 4, requires_grad=True)
    action, advantages = torch.tensor([0, 2, 1]), torch.tensor([1.5, -0.5, 2.0])
    log_prob = chosen_log_prob(logits, torch.ones(3, 4, dtype=torch.bool), action)
    (reinforce,) = torch.autograd.grad(policy_gradient_loss(log_prob, advantages), logits, retain_graph=True)
    (clipped,) = torch.autograd.grad(clipped_policy_loss(log_prob, log_prob.detach(), advantages, 0.2)[0], logits)
    assert torch.allclose(reinforce, clipped)
