"""envs/kitchen/turns.py: an assistant-first game written in turns is the same game."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from envs.kitchen.humans import human_policy
from envs.kitchen.solver import solve_bayes, solve_known_goal
from envs.kitchen.turns import in_turns, policy_in_turns
from envs.kitchen.variants import make_game
from tests.test_kitchen_solver import MODELS, games


@settings(max_examples=40, deadline=None)
@given(games(), st.sampled_from(sorted(MODELS)))
def test_the_game_in_turns_has_the_games_values(game, model):
    """Bayes and oracle values (and the oracle's per goal) of G' are G's, for any human."""
    assume(game.first == "assistant")
    policy = human_policy(game, model, **MODELS[model])
    turns, turn_policy = in_turns(game), policy_in_turns(game, policy)
    assert turns.first == "human" and turns.horizon == 2 * game.horizon
    assert solve_bayes(turns, turn_policy).value == pytest.approx(solve_bayes(game, policy).value, abs=1e-9)
    assert np.allclose(solve_known_goal(turns, turn_policy).values, solve_known_goal(game, policy).values, atol=1e-9)


def test_the_human_sees_the_assistants_move_in_its_turn():
    """classic_meal_choice: after the robot's query (turn 6 = step 3) the human's turn is in
    the asked state, where it answers."""
    game = make_game("classic_meal_choice")
    turns = in_turns(game)
    start = turns.initial_state
    query = game.assistant_action_names.index("query")
    asked = int(turns.assistant_next[start, query, 0])
    assert turns.state_names[asked] == "flour; the robot asked (human's turn)"
    policy = policy_in_turns(game, human_policy(game, "scripted"))
    assert policy[7, asked, 1].tolist() == [0.0, 0.0, 1.0] and policy[5, asked, 1].tolist() == [1.0, 0.0, 0.0]


def test_only_assistant_first_games_are_written_in_turns():
    with pytest.raises(ValueError, match="in_turns writes an assistant-first game"):
        in_turns(make_game("classic_red_blue"))


@pytest.mark.parametrize("variant", ["classic_red_blue", "classic_meal_choice"])
def test_the_env_pays_each_steps_time_reward_in_the_assistants_part(variant):
    """Both seats waiting every step (human-first red_blue, assistant-first meal_choice in
    turns): the return is the discounted sum of the time rewards alone, all the assistant's."""
    import dataclasses

    from envs.kitchen import KitchenCore

    game = make_game(variant)
    costs = -1.0 - np.arange(game.horizon)
    core = KitchenCore(dataclasses.replace(game, time_reward=costs), human="scripted" if game.scripted_human is not None else "rational")
    state = core.reset(3, np.random.default_rng(0))
    while not state.done.all():
        core.step(state, np.zeros((3, 2), np.int64))
    expected = sum(game.discount**t * c for t, c in enumerate(costs))
    assert np.allclose(state.ret, expected) and np.allclose(state.assistant_ret, expected)
