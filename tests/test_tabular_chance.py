"""Chance in a TabularGame: validated probabilities, exact expectations in the solver, draws
in the env that are reproducible per row and hidden from a search's concealed copies."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from assist.registry import make_player
from assist.rollout import play
from envs.core import ASSISTANT, HUMAN
from envs.kitchen.core import KitchenCore
from envs.kitchen.humans import human_policy
from envs.kitchen.solver import solve_bayes, solve_known_goal
from envs.kitchen.tabular import TabularGame
from tests.test_kitchen_solver import games

START, HEADS, TAILS, DONE = range(4)


def coin(p_heads: float = 0.6, discount: float = 0.9) -> TabularGame:
    """The assistant tosses a coin (heads w.p. ``p_heads``); the human keeps it if it shows
    its goal (+1, the end) and waits if not; the assistant can turn it over.

    By hand (rational human): toss at step 0; at step 1 the human keeps a match (w.p. 1/2
    under the uniform prior, whatever ``p_heads``), else waits while the assistant turns
    the coin over, and keeps it at step 2: Bayes = oracle = (g + g^2) / 2."""
    human_next = np.array([[START, START], [HEADS, DONE], [TAILS, DONE], [DONE, DONE]])
    human_legal = np.array([[True, False], [True, True], [True, True], [True, False]])
    human_reward = np.zeros((4, 2, 2))
    human_reward[HEADS, 1], human_reward[TAILS, 1] = [1.0, -1.0], [-1.0, 1.0]
    assistant_next = np.array([[[START, START], [HEADS, TAILS], [START, START]],
                               [[HEADS, HEADS], [HEADS, HEADS], [TAILS, TAILS]],
                               [[TAILS, TAILS], [TAILS, TAILS], [HEADS, HEADS]],
                               [[DONE, DONE], [DONE, DONE], [DONE, DONE]]])  # wait, toss, turn over
    assistant_prob = np.zeros((4, 3, 2))
    assistant_prob[..., 0] = 1.0
    assistant_prob[START, 1] = [p_heads, 1 - p_heads]
    assistant_legal = np.array([[True, True, False], [True, False, True], [True, False, True], [True, False, False]])
    return TabularGame(
        name="coin", state_names=("start", "heads", "tails", "done"), goal_names=("heads", "tails"), prior=np.full(2, 0.5),
        human_action_names=("wait", "keep"), assistant_action_names=("wait", "toss", "turn over"), horizon=4,
        initial_state=START, human_next=human_next, human_reward=human_reward, human_legal=human_legal,
        assistant_next=assistant_next, assistant_next_prob=assistant_prob, assistant_reward=np.zeros((4, 3, 2)),
        assistant_legal=assistant_legal, terminal=np.arange(4) == DONE, discount=discount,
    )


def test_the_solver_takes_the_expectation_over_outcomes():
    for p_heads in (0.6, 0.1):
        game = coin(p_heads)
        policy = human_policy(game)
        assert solve_bayes(game, policy).value == pytest.approx((0.9 + 0.81) / 2, abs=1e-12)
        assert solve_known_goal(game, policy).value == pytest.approx((0.9 + 0.81) / 2, abs=1e-12)


def test_the_env_draws_outcomes_with_their_probabilities_and_the_bayes_player_gets_the_value():
    core = KitchenCore(coin(0.6))
    state = core.reset(4000, np.random.default_rng(0))
    core.step(state, np.array([[0, 1]] * 4000))  # the assistant tosses
    heads = np.mean(state.s == HEADS)
    assert abs(heads - 0.6) < 4 * np.sqrt(0.6 * 0.4 / 4000) and np.all((state.s == HEADS) | (state.s == TAILS))
    players = {HUMAN: make_player("model", core, HUMAN), ASSISTANT: make_player("bayes", core, ASSISTANT)}
    returns = play(core, players, np.arange(300), np.random.default_rng(1)).metrics["return"]
    assert abs(returns.mean() - 0.855) < 4 * returns.std() / np.sqrt(len(returns))


def test_a_rows_draws_depend_on_its_reset_seed_alone_and_a_concealed_copy_draws_others():
    core = KitchenCore(coin(0.5))

    def tossed(seeds):
        states = [core.reset(1, np.random.default_rng(int(s))) for s in seeds]
        state = type(states[0]).concat(states)
        core.step(state, np.array([[0, 1]] * len(seeds)))
        return state.s

    assert tossed([3, 4, 5, 6])[1:3].tolist() == tossed([4, 5]).tolist()
    state = core.reset(64, np.random.default_rng(0))
    concealed = state.copy()
    core.conceal_goal(concealed)
    assert not np.any(concealed.chance == state.chance) and len(np.unique(concealed.chance)) == 64


def test_deterministic_games_draw_from_the_reset_rng_what_they_did_before():
    core = KitchenCore(dataclasses.replace(coin(), assistant_next=coin().assistant_next[..., 0], assistant_next_prob=None))
    rng, same = np.random.default_rng(7), np.random.default_rng(7)
    core.reset(5, rng)
    same.choice(2, size=(5, 1), p=core.game.prior)
    assert rng.random() == same.random()


@pytest.mark.parametrize(
    "toss, match",
    [
        ([0.3, 0.2], r"assistant_next_prob\[0, 1\] = \[0.3, 0.2\] \(state 'start', action 'toss'\) must be non-negative and sum to 1"),
        ([1.2, -0.2], r"assistant_next_prob\[0, 1\] = \[1.2, -0.2\] .* must be non-negative"),
    ],
)
def test_probabilities_that_are_not_a_distribution_are_refused(toss, match):
    prob = np.array(coin().assistant_next_prob)
    prob[START, 1] = toss
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(coin(), assistant_next_prob=prob)


def test_probabilities_and_outcome_lists_come_together():
    with pytest.raises(ValueError, match=r"assistant_next_prob is given, so assistant_next must be \[S, A, N\] outcomes"):
        dataclasses.replace(coin(), assistant_next=coin().assistant_next[..., 0])
    with pytest.raises(ValueError, match=r"assistant_next has N outcomes per action .* give their probabilities as assistant_next_prob"):
        dataclasses.replace(coin(), assistant_next_prob=None)


def test_a_terminal_state_must_stay_put_with_probability_one():
    game = coin()
    prob = np.array(game.assistant_next_prob)
    nxt = np.array(game.assistant_next)
    nxt[DONE, 0] = [DONE, START]
    prob[DONE, 0] = [0.5, 0.5]
    with pytest.raises(ValueError, match="terminal state 'done' must be absorbing for the assistant"):
        dataclasses.replace(game, assistant_next=nxt, assistant_next_prob=prob)


@settings(max_examples=40, deadline=None)
@given(games(), st.floats(0.0, 1.0))
def test_splitting_an_outcome_in_two_changes_no_value(game, share):
    """A deterministic move written as two copies of its outcome with probabilities
    (share, 1 - share) is the same game."""
    assume(game.deterministic)
    split = {}
    for seat in ("human", "assistant"):
        nxt = getattr(game, f"{seat}_next")
        split[f"{seat}_next"] = np.stack([nxt, nxt], axis=-1)
        split[f"{seat}_next_prob"] = np.broadcast_to([share, 1 - share], nxt.shape + (2,))
    twin = dataclasses.replace(game, **split)
    policy = human_policy(game)
    assert np.array_equal(policy, human_policy(twin))
    assert solve_bayes(twin, policy).value == pytest.approx(solve_bayes(game, policy).value, abs=1e-9)
    assert solve_known_goal(twin, policy).value == pytest.approx(solve_known_goal(game, policy).value, abs=1e-9)


def test_the_search_plays_a_chance_game_near_its_optimum():
    """exact_search from concealed copies (its own sampled outcomes) still finds the toss
    and the turn: within 4 standard errors of the exact value (0.9 + 0.81) / 2."""
    core = KitchenCore(coin(0.6))
    players = {HUMAN: make_player("model", core, HUMAN), ASSISTANT: make_player("exact_search", core, ASSISTANT, simulations=100)}
    returns = play(core, players, np.arange(200), np.random.default_rng(0)).metrics["return"]
    assert abs(returns.mean() - 0.855) < 4 * returns.std() / np.sqrt(len(returns))
