"""The classic games of Shah et al. (envs/kitchen/classics.py): the solver's optima match the
cards' hand derivations, and the cards' plans, evaluated over histories, reach them."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test

import envs.kitchen as kitchen
from assist.registry import make_player
from assist.rollout import play
from envs.core import ASSISTANT, HUMAN
from envs.kitchen import make_core
from envs.kitchen.humans import human_policy
from envs.kitchen.solver import evaluate_assistant, solve_bayes, solve_known_goal
from envs.kitchen.variants import make_game
from tests.test_kitchen_env import _assert_same, rollout


def optimum(variant: str, human: str = "scripted", **params) -> tuple[float, float]:
    game = make_game(variant, **params)
    policy = human_policy(game, human)
    return solve_bayes(game, policy).value, solve_known_goal(game, policy).value


def plan_value(variant: str, plan, human: str = "scripted", **params) -> float:
    """The exact value of ``plan(t, belief) -> action name`` (an independent recursion over
    histories, not the belief DP)."""
    game = make_game(variant, **params)
    names = game.assistant_action_names

    def assistant(t, state, belief, history):
        return np.eye(len(names))[names.index(plan(t, game.state_names[state], belief))]

    return evaluate_assistant(game, human_policy(game, human), assistant)


@pytest.mark.parametrize("prior_red", [0.5, 0.7, 0.95])
@pytest.mark.parametrize("discount", [0.9, 0.5])
def test_red_blue_optimum_is_the_hand_derivation(prior_red, discount):
    bayes, oracle = optimum("classic_red_blue", "rational", prior_red=prior_red, discount=discount)
    likelier = max(prior_red, 1 - prior_red)
    assert bayes == pytest.approx(discount + max(likelier, discount**2), abs=1e-6)
    assert oracle == pytest.approx(1 + discount, abs=1e-6)


def test_red_blue_defaults_value_and_the_wait_then_copy_plan():
    assert optimum("classic_red_blue", "rational")[0] == pytest.approx(1.71, abs=1e-6)

    def copy(t, state, belief):
        if t < 2 or "robot free" not in state:
            return "wait"
        return "make red" if belief[0] > 0.5 else "make blue"

    assert plan_value("classic_red_blue", copy, "rational") == pytest.approx(1.71, abs=1e-6)


def test_red_blue_in_the_env_the_bayes_player_returns_the_optimum_every_episode():
    """The rational human makes its colour at step 1 and the Bayes player copies it at step
    2, whatever the goal: every discounted return is 0.9 + 0.81."""
    core = make_core("classic_red_blue")
    assert core.action_names(ASSISTANT) == ["wait", "make red", "make blue"]  # the peer's wait (index 2) moved first
    players = {HUMAN: make_player("model", core, HUMAN), ASSISTANT: make_player("bayes", core, ASSISTANT)}
    returns = play(core, players, np.arange(40), np.random.default_rng(0)).metrics["return"]
    assert np.allclose(returns, 1.71, atol=1e-6)


def test_meal_choice_optimum_is_asking_once_the_human_is_home():
    g = 0.99
    bayes, oracle = optimum("classic_meal_choice")
    assert bayes == pytest.approx(max(1.625 * g**2, 2 * g**5 - 0.1 * g**3), abs=1e-6)
    assert bayes == pytest.approx(1.8049502, abs=1e-6)
    assert oracle == pytest.approx(2 * g**2, abs=1e-6)

    def ask(t, state, belief):
        if t == 0:
            return "create1"
        if t == 3:
            return "query"
        if t == 4:
            return "create1" if belief[0] > 0.5 else "create2"
        return "create1" if t == 5 else "wait"

    assert plan_value("classic_meal_choice", ask) == pytest.approx(bayes, abs=1e-6)


def test_meal_choice_without_answers_serves_the_likelier_pie():
    bayes, _ = optimum("classic_meal_choice", feedback_time=6)  # the human is never home
    assert bayes == pytest.approx(1.625 * 0.99**2, abs=1e-6)


@pytest.mark.parametrize(
    "two_phase, discount, expected",
    [(False, 0.99, 1.9523196), (True, 0.99, 1.8562796), (False, 0.9, 1.7136), (True, 0.9, 1.584)],
)
def test_wormy_apples_optimum_is_the_hand_derivation(two_phase, discount, expected):
    g = discount
    ask_when_wormy = 1.6 * g + 0.2 * (2 * g**3 - 0.1 * g)
    ask_first = 1.6 * g**2 + 0.4 * g**3 - 0.1
    guess_when_wormy = 1.6 * g + 0.2 * (2 * g**2 - g)
    hand = max(ask_first, guess_when_wormy) if two_phase else max(ask_when_wormy, ask_first)
    bayes, oracle = optimum("classic_wormy_apples", two_phase=two_phase, discount=discount)
    assert bayes == pytest.approx(hand, abs=1e-6) and bayes == pytest.approx(expected, abs=1e-6)
    assert oracle == pytest.approx(1.6 * g + 0.4 * g**2, abs=1e-6)


def test_wormy_apples_plan_get_apples_then_ask_only_if_wormy():
    def plan(t, state, belief):
        if state == "start":
            return "get apples"
        if state == "wormy apples":
            return "query" if belief.max() < 1 else ("toss in compost" if belief[0] == 1 else "toss in trash")
        return "make pie"

    assert plan_value("classic_wormy_apples", plan) == pytest.approx(1.9523196, abs=1e-6)


@pytest.mark.parametrize("variant, optimum", [("classic_meal_choice", 1.8049502), ("classic_wormy_apples", 1.9523196)])
def test_assistant_first_classics_play_in_the_env_in_turns(variant, optimum):
    """The env plays them in two turns per step (envs/kitchen/turns.py): the played game's
    optimum is the game's, and the Bayes player's returns average to it."""
    core = make_core(variant, human="scripted")
    assert core.horizon == 2 * core.written.horizon
    assert solve_bayes(core.game, core.human_policy).value == pytest.approx(optimum, abs=1e-6)
    players = {HUMAN: make_player("model", core, HUMAN), ASSISTANT: make_player("bayes", core, ASSISTANT)}
    returns = play(core, players, np.arange(400), np.random.default_rng(0)).metrics["return"]
    assert abs(returns.mean() - optimum) < 4 * returns.std() / np.sqrt(len(returns)) + 1e-9


def test_a_game_without_a_scripted_human_says_so():
    with pytest.raises(ValueError, match="has no scripted_human"):
        human_policy(make_game("classic_red_blue"), "scripted")


def test_the_timing_rule_human_first_answers_a_step_later():
    """The same meal_choice tables played human-first: the human moves first, so a query
    of step t is answered at step t + 1 and must come a step earlier (at step 2), paying its
    cost one discount less: 2 g^5 - 0.1 g^2 instead of 2 g^5 - 0.1 g^3."""
    game = dataclasses.replace(make_game("classic_meal_choice"), first="human")
    g = 0.99
    assert solve_bayes(game, human_policy(game, "scripted")).value == pytest.approx(2 * g**5 - 0.1 * g**2, abs=1e-9)


@pytest.mark.filterwarnings("ignore::UserWarning")  # PettingZoo warns about dict observations: by design
@pytest.mark.parametrize("variant", ["classic_red_blue", "classic_meal_choice", "classic_wormy_apples"])
def test_the_classics_pass_pettingzoos_checks_and_replay_under_a_seed(variant):
    human = "rational" if variant == "classic_red_blue" else "scripted"
    api_test(kitchen.env(variant=variant, human=human), num_cycles=100)
    parallel_api_test(kitchen.parallel_env(variant=variant, human=human), num_cycles=100)
    first, second = (rollout(kitchen.parallel_env(variant=variant, human=human), seed=7, episodes=6) for _ in range(2))
    assert len(first) == len(second)
    for a, b in zip(first, second):
        _assert_same(a, b)


def test_a_scripted_human_follows_its_wait_when_the_wait_is_written_last():
    game = make_game("classic_meal_choice")
    order = [1, 2, 0]  # say apple, say blueberry, wait
    moved = dataclasses.replace(
        game, human_action_names=tuple(game.human_action_names[a] for a in order), human_next=game.human_next[:, order],
        human_legal=game.human_legal[:, order], human_reward=game.human_reward[:, order], scripted_human=game.scripted_human[..., order],
        human_wait=2,
    )
    assert moved.human_action_names == game.human_action_names and np.array_equal(moved.scripted_human, game.scripted_human)
    with pytest.raises(ValueError, match="scripted_human's rows must be probabilities"):
        dataclasses.replace(game, scripted_human=game.scripted_human * 0.5)


@pytest.mark.slow
@pytest.mark.parametrize(
    "pedagogic, time_cost, bayes, oracle",
    [(True, 0.01, 1.144748, 1.144748), (False, 0.01, 0.744307, 1.214336), (True, 0.0, 1.791491, 1.791491), (False, 0.0, 1.748913, 1.800266)],
)
def test_cake_or_pie_optimum_is_a_direct_recursion_over_the_peers_step(pedagogic, time_cost, bayes, oracle):
    """Our table (the human first, its plate ingredient pending; the cost of time as the
    game's time_reward) and our solver against an independent recursion over the peer's
    simultaneous step and reward (tests/cake_or_pie_reference.py)."""
    from tests.cake_or_pie_reference import bayes_value

    ours_bayes, ours_oracle = optimum("classic_cake_or_pie", pedagogic=pedagogic, time_cost=time_cost)
    reference = functools.partial(bayes_value, pedagogic, time_cost=time_cost)
    assert ours_bayes == pytest.approx(reference(), abs=1e-9)
    assert ours_oracle == pytest.approx(0.5 * reference(goals=(0,)) + 0.5 * reference(goals=(1,)), abs=1e-9)
    assert (ours_bayes, ours_oracle) == pytest.approx((bayes, oracle), abs=1e-6)


def test_cake_or_pie_the_peers_shaping_changes_no_value():
    """Why the table leaves the peer's potential shaping out: it sums to 0 over any episode."""
    from tests.cake_or_pie_reference import bayes_value

    assert bayes_value(True, time_cost=0.01, horizon=8, shaping=True) == pytest.approx(bayes_value(True, time_cost=0.01, horizon=8), abs=1e-12)


@pytest.mark.slow
def test_cake_or_pie_in_the_env_the_bayes_player_earns_each_goals_optimum():
    """The pedagogic human shows its goal with its first move and both recipes start with
    the same ingredients, so the Bayes player loses nothing to the oracle in any episode."""
    core = make_core("classic_cake_or_pie", human="scripted")
    assert core.action_names(ASSISTANT) == ["stay", "north", "south", "east", "west", "interact"]
    players = {HUMAN: make_player("model", core, HUMAN), ASSISTANT: make_player("bayes", core, ASSISTANT)}
    result = play(core, players, np.arange(16), np.random.default_rng(0))
    goals = result.metrics["goal_pct"]
    assert np.allclose(goals, 100.0, atol=1e-6)


def test_cake_or_pie_rules_follow_the_peer():
    """The rules one at a time: the pedagogic human's first move shows its goal; an
    ingredient the human adds in the step the robot makes a recipe comes too late."""
    from envs.kitchen import cake_or_pie_grid as grid

    start = grid.START
    assert grid.ACTION_NAMES[grid.human_action(start, "cake", True)] == "north"  # towards the chocolate
    assert grid.ACTION_NAMES[grid.human_action(start, "pie", True)] == "west"  # turns to the dough
    assert grid.human_action(start, "cake", False) == grid.human_action(start, "pie", False)
    human = ((1, 4), (0, 1), "C")  # at (1, 4) facing north: a wall, not the plate
    at_plate = ((2, 4), (0, 1), "")
    state = (((2, 4), (0, 1), "A"), at_plate, ("B", "D"), "")
    middle = grid.human_move(state, grid.INTERACT)
    assert middle[2] == ("A", "B", "D") and middle[3] == "A"
    assert grid.robot_move(middle, grid.INTERACT) == "made pie"  # the robot saw the plate before the sugar
    assert grid.robot_move(middle, grid.STAY)[2] == ("A", "B", "D")
    assert grid.human_move((human, at_plate, (), ""), grid.INTERACT)[0][2] == "C"  # nothing to do facing a wall


@pytest.mark.slow
def test_cake_or_pie_state_inputs_tell_every_state_apart():
    """What a trained network reads of a state (63 one-hot columns instead of 63,198 ids):
    one cell, facing and hand per player, one count per ingredient and one pending value in
    every live state, the two ends in the end states, and no two states alike."""
    from envs.kitchen import cake_or_pie_grid as grid

    game = grid.classic_cake_or_pie()
    inputs = game.state_inputs
    assert inputs.shape == (game.num_states, 63) and len(np.unique(inputs, axis=0)) == game.num_states
    live = ~game.terminal
    assert np.all(inputs[live].sum(1) == 2 * 3 + len(grid.INGREDIENTS) + 1) and np.all(inputs[~live].sum(1) == 1)
    assert inputs[game.initial_state, : len(grid.CELLS)][grid.CELLS.index((1, 3))] == 1  # the human starts at (1, 3)
