"""The LM pipeline's objectives (assist/learning/llm_losses.py), each on its own."""

import pytest
import torch

from assist.learning.llm_losses import candidate_kl, chosen_log_prob, group_advantages, next_token_loss, policy_gradient_loss
from assist.learning.ppo import clipped_policy_loss

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
