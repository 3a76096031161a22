"""The loss terms' pull on the shared trunk: the diagnostic itself, and the balance the
default AssistanceZero weights are chosen for."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

import envs
from assist.learning.assistancezero import AssistanceZeroConfig, goal_kl_weight_at, loss_terms, sequences_from
from assist.learning.gradients import trunk_gradient_norms
from assist.learning.selfplay import SelfPlay
from assist.models.factory import make_model
from assist.models.torch_evaluator import TorchEvaluator
from assist.players.search import SearchPlayer
from assist.registry import make_player
from assist.search.config import SearchConfig
from envs.core import ASSISTANT, HUMAN


class TwoHeads(nn.Module):
    """A trunk of one linear layer under two linear heads."""

    def __init__(self):
        super().__init__()
        self.trunk, self.left, self.right = nn.Linear(3, 4), nn.Linear(4, 1), nn.Linear(4, 1)

    def terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.trunk(x)
        return {"left": self.left(h).pow(2).mean(), "right": self.right(h).abs().mean()}


def test_trunk_norms_cover_only_the_layers_every_weighted_term_reaches():
    torch.manual_seed(0)
    net = TwoHeads()
    terms = net.terms(torch.randn(8, 3))
    norms = trunk_gradient_norms(terms, {"left": 1.0, "right": 1.0}, net.parameters())
    expected = torch.autograd.grad(terms["left"], list(net.trunk.parameters()), retain_graph=True)
    assert norms["left"] == pytest.approx(float(torch.sqrt(sum(g.pow(2).sum() for g in expected))), rel=1e-5)
    # alone, a term's trunk is everything it reaches (its own head included)
    alone = trunk_gradient_norms(terms, {"left": 1.0, "right": 0.0}, net.parameters())
    assert set(alone) == {"left"} and alone["left"] > norms["left"]


def test_trunk_norms_scale_with_the_weights_and_leave_the_graph_for_backward():
    torch.manual_seed(0)
    net = TwoHeads()
    terms = net.terms(torch.randn(8, 3))
    once = trunk_gradient_norms(terms, {"left": 1.0, "right": 1.0}, net.parameters())
    scaled = trunk_gradient_norms(terms, {"left": 3.0, "right": 0.5}, net.parameters())
    assert scaled["left"] == pytest.approx(3 * once["left"]) and scaled["right"] == pytest.approx(0.5 * once["right"])
    sum(terms.values()).backward()  # the caller can still step on the same graph
    assert all(p.grad is not None for p in net.parameters())


@pytest.fixture(scope="module")
def selfplay_batch():
    """A tiny network and a fixed batch of its own self-play sequences on `build` tiny."""
    torch.manual_seed(0)
    core = envs.make_core("build", preset="tiny")
    net = make_model(core, preset="tiny")
    assistant = SearchPlayer(core, ASSISTANT, TorchEvaluator(net), SearchConfig(num_simulations=2, max_children=4), sample=True)
    rollout = SelfPlay(core, make_player("greedy", core, HUMAN), assistant, 4, np.random.default_rng(0)).collect(8)
    batch = {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in sequences_from(rollout, 8, 0.9).items()}
    net.train()
    return net, batch


def weights_of(config: AssistanceZeroConfig) -> dict[str, float]:
    return {"policy": config.policy_weight, "value": config.value_weight, "goal": config.goal_weight, "human": config.human_weight, "goal_kl": 0.0}


def test_default_weights_let_the_goal_term_outpull_the_value_term_on_the_trunk(selfplay_batch):
    net, batch = selfplay_batch
    norms = trunk_gradient_norms(loss_terms(net, batch), weights_of(AssistanceZeroConfig()), net.parameters())
    assert norms["goal"] > 10 * norms["value"]  # with value 0.5 and goal 1 they pull about equally here
    assert norms["goal"] >= 0.5 * norms["policy"]  # the belief is not a minor auxiliary term


def test_the_goal_kl_weight_ramps_linearly_over_env_steps_to_its_full_weight():
    config = AssistanceZeroConfig(iterations=1000, goal_kl_ramp_steps=20_000)
    assert [goal_kl_weight_at(config, steps) for steps in (0, 10_000, 20_000, 30_000)] == [0.0, 15.0, 30.0, 30.0]
    assert goal_kl_weight_at(dataclasses.replace(config, goal_kl_ramp_steps=0), 0) == 30.0
    assert goal_kl_weight_at(AssistanceZeroConfig(), 8_192_000 // 2) == 15.0  # the paper's run: 8.19 M env steps
