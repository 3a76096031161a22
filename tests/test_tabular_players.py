"""The kitchen's exact players: the human model and the Bayes-optimal assistant."""

import numpy as np
import pytest

import envs.building
import envs.kitchen
from assist.registry import make_player
from assist.rollout import play
from envs.core import ASSISTANT, HUMAN
from envs.kitchen.humans import belief_from_history
from envs.kitchen.solver import solve_bayes


def returns(core, assistant, episodes=2000, seed=0):
    players = {HUMAN: make_player("model", core, HUMAN), ASSISTANT: make_player(assistant, core, ASSISTANT)}
    return play(core, players, np.arange(episodes) + 10_000 * seed, np.random.default_rng(seed)).metrics["return"]


@pytest.mark.parametrize("variant", ["red_blue", "meal_choice", "cake_or_pie"])
@pytest.mark.parametrize("human", ["rational", "boltzmann"])
def test_bayes_player_achieves_the_solvers_value(variant, human):
    core = envs.kitchen.make_core(variant, human=human)
    value = solve_bayes(core.game, core.human_policy).value
    got = returns(core, "bayes")
    assert abs(got.mean() - value) < 4 * got.std() / np.sqrt(len(got)) + 1e-9


def test_bayes_on_red_blue_with_a_rational_human_returns_exactly_two():
    assert np.all(returns(envs.kitchen.make_core("red_blue"), "bayes", episodes=50) == 2.0)


def test_bayes_beats_waiting_and_trails_the_oracle_on_cake_or_pie():
    core = envs.kitchen.make_core("cake_or_pie")
    wait, bayes, oracle = (returns(core, a).mean() for a in ("noop", "bayes", "oracle"))
    assert wait < bayes < oracle


def test_belief_from_history_is_the_posterior():
    policy = np.zeros((2, 1, 2, 2))
    policy[:, 0, 0] = [0.9, 0.1]  # goal 0 mostly takes action 0
    policy[:, 0, 1] = [0.2, 0.8]
    belief = belief_from_history(policy, np.array([0.5, 0.5]), np.array([2]), np.array([[0, 0]]), np.array([[1, 1]]))
    expected = np.array([0.5 * 0.01, 0.5 * 0.64])
    assert np.allclose(belief[0], expected / expected.sum())


def test_tabular_players_refuse_games_without_tables():
    core = envs.building.make_core("tiny")
    for name, seat in (("bayes", ASSISTANT), ("model", HUMAN)):
        with pytest.raises(ValueError, match="tabular human model"):
            make_player(name, core, seat)
