"""The learning losses, each a small pure function with a hand-checked case."""

import math

import pytest
import torch

from assist.learning import losses


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
