"""The kitchen's human models and exact solver: hand-derived values, best responses, and
cross-checks of the belief DP against an independent evaluation over histories."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.kitchen.humans import HUMAN_MODELS, human_policy, solo_q
from envs.kitchen.solver import BELIEF_DECIMALS, bayes_update, evaluate_assistant, solve_bayes, solve_known_goal
from envs.kitchen.tabular import TabularGame
from envs.kitchen.variants import make_game

MODELS = {"rational": {}, "greedy": {"epsilon": 0.2}, "boltzmann": {"beta": 1.5}, "lazy": {"noop_prob": 0.3}}


def always(action: int, game: TabularGame):
    probs = np.eye(game.num_assistant_actions)[action]
    return lambda t, state, belief, history: probs


def values(game: TabularGame, model: str = "rational", **params):
    """(Bayes, oracle, wait-only) values of ``game`` against ``model``."""
    policy = human_policy(game, model, **params)
    return (
        solve_bayes(game, policy).value,
        solve_known_goal(game, policy).value,
        evaluate_assistant(game, policy, always(0, game)),
    )


# ---------------------------------------------------------------- hand-derived values


@pytest.mark.parametrize(
    "params, bayes, oracle, wait",
    [
        ({}, 2.0, 3.0, 1.0),
        ({"horizon": 4}, 4.0, 5.0, 1.0),
        ({"prior_red": 0.8}, 2.6, 3.0, 1.0),
        ({"horizon": 3, "prior_red": 0.1}, 3.8, 4.0, 1.0),
    ],
)
def test_red_blue_rational(params, bayes, oracle, wait):
    """Bayes = T + |2p - 1|, oracle = 1 + T, wait-only = 1."""
    assert values(make_game("red_blue", **params)) == pytest.approx((bayes, oracle, wait), abs=1e-12)


@pytest.mark.parametrize("discount", [1.0, 0.9, 0.5])
@pytest.mark.parametrize("horizon, prior_red", [(2, 0.5), (4, 0.5), (3, 0.1)])
def test_red_blue_discounted(discount, horizon, prior_red):
    """The human's item at step 0 (+1), the assistant's guess at step 0 (|2p - 1|), then
    its copies at steps 1..T-1, each worth discount**t: Bayes = 1 + |2p - 1| + sum_t g^t,
    the oracle 2 + sum_t g^t, wait-only 1."""
    game = dataclasses.replace(make_game("red_blue", horizon=horizon, prior_red=prior_red), discount=discount)
    copies = sum(discount**t for t in range(1, horizon))
    assert values(game) == pytest.approx((1 + abs(2 * prior_red - 1) + copies, 2 + copies, 1.0), abs=1e-12)


def test_discount_changes_what_the_human_plans():
    """One state: ``now`` is worth 1 and ends the game; ``later`` waits a step for 1.5. The
    rational human takes ``later`` undiscounted (1.5 > 1) and ``now`` at discount 0.5
    (0.75 < 1); its solo Q-values say so."""
    def game(discount):
        return TabularGame(
            name="now_or_later", state_names=("start", "waiting", "over"), goal_names=("only",), prior=np.ones(1),
            human_action_names=("wait", "now", "later"), assistant_action_names=("wait",), horizon=2, initial_state=0,
            human_next=np.array([[0, 2, 1], [1, 1, 2], [2, 2, 2]]),
            human_reward=np.array([[[0.0], [1.0], [0.0]], [[0.0], [0.0], [1.5]], [[0.0], [0.0], [0.0]]]),
            human_legal=np.array([[True, True, True], [True, False, True], [True, False, False]]),
            assistant_next=np.arange(3)[:, None], assistant_reward=np.zeros((3, 1, 1)), assistant_legal=np.ones((3, 1), bool),
            terminal=np.array([False, False, True]), discount=discount,
        )
    for discount, best, q_later in ((1.0, "later", 1.5), (0.5, "now", 0.75)):
        q = solo_q(game(discount))[0, 0, 0]
        assert q[1:].tolist() == pytest.approx([1.0, q_later])
        policy = human_policy(game(discount))[0, 0, 0]
        assert game(discount).human_action_names[int(policy.argmax())] == best and policy.max() == 1.0


def test_a_wait_written_last_is_moved_first_and_plays_the_same_game():
    """red_blue written with each seat's wait as its last action: stored with the wait
    first (the others in order), the same values; a wait index outside the actions is refused."""
    game = make_game("red_blue", horizon=3)
    last = {}
    for seat in ("human", "assistant"):
        order = [1, 2, 0]  # make red, make blue, wait
        last[f"{seat}_action_names"] = tuple(getattr(game, f"{seat}_action_names")[a] for a in order)
        for part in ("next", "legal", "reward"):
            last[f"{seat}_{part}"] = getattr(game, f"{seat}_{part}")[:, order]
    moved = dataclasses.replace(game, **last, human_wait=2, assistant_wait=2)
    assert moved.human_action_names == game.human_action_names and moved.human_wait == 0
    for field in ("human_next", "human_legal", "human_reward", "assistant_next", "assistant_legal", "assistant_reward"):
        assert np.array_equal(getattr(moved, field), getattr(game, field)), field
    assert values(moved) == pytest.approx(values(game), abs=1e-12)
    with pytest.raises(ValueError, match="human_wait=3 must be the index of one of the human's actions"):
        dataclasses.replace(game, human_wait=3)


def test_discount_is_validated():
    game = make_game("red_blue")
    for bad in (0.0, 1.5, -0.1, True, "0.9"):
        with pytest.raises(ValueError, match="discount"):
            dataclasses.replace(game, discount=bad)


@pytest.mark.parametrize("beta, horizon", [(0.5, 2), (1.0, 2), (2.0, 3)])
def test_red_blue_boltzmann_closed_form_and_below_rational(beta, horizon):
    game = make_game("red_blue", horizon=horizon)
    bayes, oracle, _ = values(game, "boltzmann", beta=beta)
    z = 1 + 2 * math.cosh(beta)
    assert bayes == pytest.approx(horizon * 2 * math.sinh(beta) / z, abs=1e-12)
    assert oracle == pytest.approx(horizon + 2 * math.sinh(beta) / z, abs=1e-12)
    assert bayes < values(game)[0]


def test_red_blue_greedy_and_lazy_closed_forms():
    game = make_game("red_blue", horizon=3)
    assert values(game, "greedy", epsilon=0.3)[0] == pytest.approx(3 * 0.7, abs=1e-12)
    assert values(game, "lazy", noop_prob=0.25)[0] == pytest.approx(3 * 0.75, abs=1e-12)


def test_red_blue_optimal_assistant_waits_then_copies():
    game = make_game("red_blue")
    solution = solve_bayes(game, human_policy(game))
    start = game.initial_state
    assert solution.action(0, start, game.prior) == 0  # wait (ties with guessing go to the no-op)
    for colour, action in (("red", 1), ("blue", 2)):
        p, posterior = bayes_update(solution.human_policy, 0, start, game.prior)
        mid = game.human_next[start, action]
        assert solution.action(1, mid, posterior[action]) == action, colour


def meal_values(P, R=10.0, c=1.0, a=0.5):
    """The docstring's closed forms: (Bayes, oracle, wait-only)."""
    m, r = divmod(P, 2)
    oracle = R - c * (m + 1)
    if r == 0:
        bayes = oracle
    else:
        bayes = R - c * (m + 1) - min(a, c) if m >= 2 else R - c * (m + 2)
    return bayes, oracle, R - c * (P + 1)


@pytest.mark.parametrize(
    "params",
    [{}, {"ask_cost": 2.0}, {"ask_cost": 0.1}, {"num_meals": 2}] + [{"prep_steps": p} for p in (1, 3, 4, 7)],
)
def test_meal_choice_rational(params):
    game = make_game("meal_choice", **params)
    expected = meal_values(params.get("prep_steps", 5), a=params.get("ask_cost", 0.5))
    assert values(game) == pytest.approx(expected, abs=1e-12)


def test_meal_choice_defaults_ask_at_step_zero():
    game = make_game("meal_choice")
    assert values(game) == pytest.approx((6.5, 7.0, 4.0), abs=1e-12)
    solution = solve_bayes(game, human_policy(game))
    assert game.assistant_action_names[solution.action(0, game.initial_state, game.prior)] == "ask"


@pytest.mark.parametrize(
    "step_cost, wrong_cost", [(0.5, 1.0), (0.1, 1.0), (1.0, 1.0), (0.2, 3.0), (1.5, 1.0), (2.0, 1.0)]
)
def test_cake_or_pie_rational(step_cost, wrong_cost):
    """Bayes = 3 - 2c - min(c, (2c + w)/3)/3, oracle = 3 - 13c/6, wait-only = 3 - 3c."""
    c, w = step_cost, wrong_cost
    game = make_game("cake_or_pie", step_cost=c, wrong_cost=w)
    expected = (3 - 2 * c - min(c, (2 * c + w) / 3) / 3, 3 - 13 * c / 6, 3 - 3 * c)
    assert values(game) == pytest.approx(expected, abs=1e-12)


def test_cake_or_pie_adds_flour_first():
    game = make_game("cake_or_pie")
    solution = solve_bayes(game, human_policy(game))
    assert values(game) == pytest.approx((3 - 7 / 6, 3 - 13 / 12, 1.5), abs=1e-12)
    assert game.assistant_action_names[solution.action(0, game.initial_state, game.prior)] == "add flour"


@pytest.mark.parametrize("variant", ["red_blue", "meal_choice", "cake_or_pie"])
@pytest.mark.parametrize("model", sorted(MODELS))
def test_bayes_strictly_between_wait_only_and_oracle(variant, model):
    bayes, oracle, wait = values(make_game(variant), model, **MODELS[model])
    assert wait < bayes < oracle


@pytest.mark.parametrize("variant", ["red_blue", "meal_choice", "cake_or_pie"])
@pytest.mark.parametrize("model", ["rational", "boltzmann"])
def test_bayes_equals_oracle_when_the_goal_is_known(variant, model):
    game = make_game(variant)
    policy = human_policy(game, model, **MODELS[model])
    oracle = solve_known_goal(game, policy)
    for goal in range(game.num_goals):
        known = _with_prior(game, np.eye(game.num_goals)[goal])
        assert solve_bayes(known, policy).value == pytest.approx(oracle.values[goal], abs=1e-9)


# ---------------------------------------------------------------- best response


@pytest.mark.parametrize("variant", ["red_blue", "meal_choice", "cake_or_pie"])
@pytest.mark.parametrize("model", ["rational", "boltzmann"])
def test_no_single_action_deviation_improves(variant, model):
    game = make_game(variant, **({"horizon": 3} if variant == "cake_or_pie" and model == "boltzmann" else {}))
    policy = human_policy(game, model, **MODELS[model])
    solution = solve_bayes(game, policy)
    visited = {}

    def recording(t, state, belief, history):
        visited[_key(t, state, belief)] = (t, state, belief)
        return solution.policy(t, state, belief)

    assert evaluate_assistant(game, policy, recording) == pytest.approx(solution.value, abs=1e-9)
    for node, (t, state, belief) in visited.items():
        for action in np.flatnonzero(game.assistant_choosable[state]):
            deviated = evaluate_assistant(game, policy, _deviate(solution, node, action))
            assert deviated <= solution.value + 1e-9
            if t == 0:  # deviating at the root, then playing optimally, is worth Q(root, action)
                assert deviated == pytest.approx(solution.q_values(t, state, belief)[action], abs=1e-9)


def _key(t, state, belief):
    return t, state, np.round(belief, BELIEF_DECIMALS).tobytes()


def _deviate(solution, node, action):
    probs = np.eye(solution.game.num_assistant_actions)[action]

    def assistant(t, state, belief, history):
        return probs if _key(t, state, belief) == node else solution.policy(t, state, belief)

    return assistant


# ---------------------------------------------------------------- random games


@st.composite
def games(draw):
    """Small random TabularGames (with absorbing terminal states and a discount), either
    seat first, with chance (two outcomes per action) or without, with a time_reward or
    without."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    S, K = draw(st.integers(2, 5)), draw(st.integers(1, 3))
    A_H, A_R, T = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    discount = draw(st.sampled_from([1.0, 0.9, 0.5]))
    chance = draw(st.booleans())
    terminal = rng.random(S) < 0.25
    terminal[0] = False
    tables = {"first": draw(st.sampled_from(["human", "assistant"]))}
    for seat, A in (("human", A_H), ("assistant", A_R)):
        legal = rng.random((S, A)) < 0.7
        legal[:, 0] = True
        legal[terminal, 1:] = False
        nxt = rng.integers(0, S, (S, A, 2) if chance else (S, A))
        nxt[terminal, 0] = np.flatnonzero(terminal)[:, None] if chance else np.flatnonzero(terminal)
        reward = rng.integers(-2, 3, (S, A, K)).astype(float)  # integers make ties common
        reward[terminal] = 0.0
        tables.update({f"{seat}_legal": legal, f"{seat}_next": nxt, f"{seat}_reward": reward})
        if chance:
            prob = rng.dirichlet(np.ones(2), (S, A))
            prob[terminal, 0] = [1.0, 0.0]
            tables[f"{seat}_next_prob"] = prob
    if draw(st.booleans()):
        tables["time_reward"] = rng.integers(-2, 2, T).astype(float)
    return TabularGame(
        name="random",
        state_names=tuple(f"s{i}" for i in range(S)),
        goal_names=tuple(f"g{i}" for i in range(K)),
        prior=rng.dirichlet(np.ones(K)),
        human_action_names=tuple(f"h{i}" for i in range(A_H)),
        assistant_action_names=tuple(f"r{i}" for i in range(A_R)),
        horizon=T,
        initial_state=0,
        terminal=terminal,
        discount=discount,
        **tables,
    )


@settings(max_examples=60, deadline=None)
@given(games(), st.sampled_from(sorted(MODELS)))
def test_random_games_bayes_is_consistent(game, model):
    policy = human_policy(game, model, **MODELS[model])
    bayes = solve_bayes(game, policy)
    oracle = solve_known_goal(game, policy)
    assert evaluate_assistant(game, policy, bayes.policy) == pytest.approx(bayes.value, abs=1e-9)
    assert evaluate_assistant(game, policy, always(0, game)) <= bayes.value + 1e-9
    assert bayes.value <= oracle.value + 1e-9
    choosable = game.assistant_choosable
    uniform = evaluate_assistant(game, policy, lambda t, s, b, h: choosable[s] / choosable[s].sum())
    assert uniform <= bayes.value + 1e-9
    goal = int(np.argmax(game.prior))
    known = _with_prior(game, np.eye(game.num_goals)[goal])
    assert solve_bayes(known, policy).value == pytest.approx(oracle.values[goal], abs=1e-9)


# ---------------------------------------------------------------- human models


@pytest.mark.parametrize("variant", ["red_blue", "meal_choice", "cake_or_pie"])
@pytest.mark.parametrize("model", sorted(HUMAN_MODELS))
def test_human_policies_are_distributions_over_legal_actions(variant, model):
    game = make_game(variant)
    policy = human_policy(game, model, **MODELS[model])
    assert policy.shape == (game.horizon, game.num_states, game.num_goals, game.num_human_actions)
    assert np.allclose(policy.sum(-1), 1.0)
    assert np.all((policy > 0) <= game.human_legal[None, :, None, :])
    assert not policy.flags.writeable


def test_rational_human_is_uniform_over_ties_and_solo_q_counts_steps():
    game = make_game("cake_or_pie")
    q = solo_q(game)
    cake = game.goal_names.index("cake")
    # From the empty bowl with cake: three steps of -c, +1 per ingredient.
    assert q[0, game.initial_state, cake].max() == pytest.approx(3 - 3 * 0.5)
    probs = human_policy(game)[0, game.initial_state, cake]
    names = game.human_action_names
    assert {names[a]: p for a, p in enumerate(probs) if p > 0} == pytest.approx({"add flour": 1 / 3, "add sugar": 1 / 3, "add eggs": 1 / 3})


def test_lazy_and_greedy_mix_as_documented():
    game = make_game("red_blue")
    rational = human_policy(game)
    lazy = human_policy(game, "lazy", noop_prob=0.4)
    greedy = human_policy(game, "greedy", epsilon=0.3)
    start = game.initial_state
    assert lazy[0, start, 0] == pytest.approx(0.4 * np.eye(3)[0] + 0.6 * rational[0, start, 0])
    assert greedy[0, start, 0] == pytest.approx(0.7 * rational[0, start, 0] + 0.1)


def test_unknown_models_and_parameters_raise_clearly():
    game = make_game("red_blue")
    with pytest.raises(ValueError, match=r"unknown human model 'noisy'.*'boltzmann'"):
        human_policy(game, "noisy")
    with pytest.raises(ValueError, match=r"takes parameters \['beta'\].*\['temperature'\]"):
        human_policy(game, "boltzmann", temperature=2.0)
    with pytest.raises(ValueError, match="epsilon"):
        human_policy(game, "greedy", epsilon=1.5)
    with pytest.raises(ValueError, match="beta"):
        human_policy(game, "boltzmann", beta=-1.0)


def test_solver_rejects_mismatched_policies_and_beliefs():
    game = make_game("red_blue")
    with pytest.raises(ValueError, match="shape"):
        solve_bayes(game, human_policy(make_game("red_blue", horizon=3)))
    solution = solve_bayes(game, human_policy(game))
    with pytest.raises(ValueError, match="belief"):
        solution.q_values(0, game.initial_state, np.array([0.3, 0.3]))
    with pytest.raises(ValueError, match="outside the episode"):
        solution.q_values(2, game.initial_state, game.prior)
    with pytest.raises(ValueError, match="probabilities"):
        evaluate_assistant(game, solution.human_policy, lambda t, s, b, h: np.ones(3))


def _with_prior(game: TabularGame, prior: np.ndarray) -> TabularGame:
    return dataclasses.replace(game, prior=prior)
