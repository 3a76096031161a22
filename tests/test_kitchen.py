"""The kitchen's tables and batched core: validation, rules, observations, rewards,
metrics against the exact solver, the text codec and rendering."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from assist.search.config import SearchConfig
from envs.codec import TextCodec
from envs.core import ASSISTANT, HUMAN, ActionParseError, GameCore, one_hot_belief
from envs.kitchen import make_core
from envs.kitchen.core import KitchenCore
from envs.kitchen.solver import bayes_update, solve_bayes
from envs.kitchen.variants import VARIANTS, make_game

VARIANT_NAMES = sorted(VARIANTS)


def action(core: KitchenCore, agent: str, name: str) -> int:
    return core.action_names(agent).index(name)


def run(core: KitchenCore, state, pairs):
    """Step ``state`` through (human action name, assistant action name) pairs, same for every row."""
    results = []
    for human, assistant in pairs:
        joint = [[action(core, HUMAN, human), action(core, ASSISTANT, assistant)]] * state.batch_size
        results.append(core.step(state, np.array(joint)))
    return results


# ---------------------------------------------------------------- tables


def test_table_validation_says_what_is_wrong():
    game = make_game("red_blue")
    legal = np.array(game.human_legal)
    legal[3, 0] = False
    with pytest.raises(ValueError, match="no-op .* must be legal"):
        dataclasses.replace(game, human_legal=legal)
    with pytest.raises(ValueError, match="prior"):
        dataclasses.replace(game, prior=np.array([0.5, 0.6]))
    with pytest.raises(ValueError, match=r"human_next has shape \(24, 2\), expected \(24, 3\)"):
        dataclasses.replace(game, human_next=game.human_next[:, :2])
    with pytest.raises(ValueError, match="unique"):
        dataclasses.replace(game, goal_names=("red", "Red"))
    terminal = np.zeros(game.num_states, bool)
    terminal[game.initial_state + 1] = True  # the assistant can still make items there
    with pytest.raises(ValueError, match="absorbing"):
        dataclasses.replace(game, terminal=terminal)
    meal = make_game("meal_choice")
    with pytest.raises(ValueError, match="initial state .* is terminal"):
        dataclasses.replace(meal, initial_state=int(np.flatnonzero(meal.terminal)[0]))
    with pytest.raises(ValueError, match=r"state_inputs must be \[S, E\] with E >= 1 \(S = 24\), got shape \(24,\)"):
        dataclasses.replace(game, state_inputs=np.zeros(24))
    with pytest.raises(ValueError, match=r"state_inputs has shape \(23, 2\), expected \(24, 2\)"):
        dataclasses.replace(game, state_inputs=np.zeros((23, 2)))
    with pytest.raises(ValueError, match="state_inputs must hold finite numbers"):
        dataclasses.replace(game, state_inputs=np.full((24, 2), np.nan))


def test_unknown_variant_and_parameters_list_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown kitchen variant 'soup'.*'cake_or_pie'"):
        make_core("soup")
    with pytest.raises(ValueError, match=r"\['size'\].*horizon.*beta"):
        make_core("red_blue", human="boltzmann", size=3)
    core = make_core("red_blue", human="boltzmann", beta=2.0, horizon=3)
    assert core.horizon == 3 and core.human_model == "boltzmann"


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_core_satisfies_the_protocol(variant):
    core = make_core(variant)
    assert isinstance(core, GameCore)
    assert core.goal_shape == (1, core.game.num_goals)
    assert core.observation_space(HUMAN) is core.observation_space(HUMAN)


# ---------------------------------------------------------------- rules


def test_illegal_actions_become_flagged_no_ops():
    core = make_core("cake_or_pie")
    state = core.reset(1, np.random.default_rng(0), goals=np.array([[0]]))
    run(core, state, [("add flour", "wait")])
    (result,) = run(core, state, [("add flour", "add flour")])  # flour is already in the bowl
    assert result.illegal.tolist() == [[True, True]]
    assert core.game.state_names[state.s[0]] == "bowl: flour"
    assert result.reward_parts.tolist() == [[-0.5, 0.0]]  # the step cost only


def test_assistant_move_made_illegal_by_the_humans_is_flagged():
    core = make_core("cake_or_pie")
    state = core.reset(1, np.random.default_rng(0), goals=np.array([[0]]))
    assert core.legal_mask(state, ASSISTANT)[0, action(core, ASSISTANT, "add flour")]
    (result,) = run(core, state, [("add flour", "add flour")])
    assert result.illegal.tolist() == [[False, True]]
    assert core.game.state_names[state.s[0]] == "bowl: flour"
    assert result.reward_parts.tolist() == [[0.5, 0.0]]  # +1 flour - 0.5 step; the assistant's add is a no-op


def test_human_first_then_assistant_in_the_same_step():
    """meal_choice: the assistant's cook is applied after the human's last prep."""
    core = make_core("meal_choice", prep_steps=1)
    state = core.reset(1, np.random.default_rng(0), goals=np.array([[1]]))
    cook = action(core, ASSISTANT, "cook curry")
    assert not core.game.assistant_legal[state.s[0], cook]  # not legal before the human's move...
    assert core.legal_mask(state, ASSISTANT)[0, cook]  # ...but choosable: it may become legal
    (result,) = run(core, state, [("prep", "cook curry")])
    assert result.illegal.tolist() == [[False, False]] and result.terminated.tolist() == [True]
    assert result.reward_parts.tolist() == [[-1.0, 10.0]]
    assert core.game.state_names[state.s[0]] == "served curry"


def test_done_rows_are_frozen():
    core = make_core("red_blue")
    state = core.reset(2, np.random.default_rng(0), goals=np.array([[0], [1]]))
    results = run(core, state, [("make red", "wait"), ("wait", "make red")])
    assert results[-1].truncated.all() and state.done.all()
    frozen = state.copy()
    (result,) = run(core, state, [("make blue", "make blue")])
    assert not result.reward.any() and not result.illegal.any()
    assert not result.terminated.any() and not result.truncated.any()
    for field in dataclasses.fields(state):
        assert np.array_equal(getattr(state, field.name), getattr(frozen, field.name)), field.name
    assert core.legal_mask(state, HUMAN).tolist() == [[True, False, False]] * 2


def test_ids_outside_the_space_are_flagged_no_ops_and_malformed_arrays_raise():
    core = make_core("red_blue")
    state = core.reset(2, np.random.default_rng(0))
    noop = state.copy()
    result = core.step(state, np.array([[0, 7], [-1, 0]]))
    assert result.illegal.tolist() == [[False, True], [True, False]]
    expected = core.step(noop, np.zeros((2, 2), np.int64))  # what no-ops do
    assert (state.s == noop.s).all() and np.array_equal(result.reward_parts, expected.reward_parts)
    with pytest.raises(ValueError, match=r"\[B, 2\]"):
        core.step(state, np.array([0, 1]))


def test_reset_samples_goals_from_the_prior_and_checks_given_ones():
    core = make_core("red_blue", prior_red=0.8)
    state = core.reset(4000, np.random.default_rng(1))
    assert np.mean(state.goal == 0) == pytest.approx(0.8, abs=0.03)
    with pytest.raises(ValueError, match="goal indices"):
        core.reset(1, np.random.default_rng(0), goals=np.array([[2]]))
    with pytest.raises(ValueError, match="shape"):
        core.reset(2, np.random.default_rng(0), goals=np.array([0, 1]))


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_batched_step_equals_one_game_at_a_time(variant):
    core = make_core(variant)
    rng = np.random.default_rng(3)
    batch = core.reset(16, rng)
    singles = [batch.take(np.array([i])) for i in range(16)]
    for _ in range(core.horizon):
        actions = np.stack([_random_actions(core, batch, agent, rng) for agent in (HUMAN, ASSISTANT)], axis=1)
        result = core.step(batch, actions)
        for i, single in enumerate(singles):
            one = core.step(single, actions[i : i + 1])
            assert one.reward_parts.tolist() == result.reward_parts[i : i + 1].tolist()
            assert one.illegal.tolist() == result.illegal[i : i + 1].tolist()
    for i, single in enumerate(singles):
        for field in dataclasses.fields(batch):
            assert np.array_equal(getattr(single, field.name)[0], getattr(batch, field.name)[i]), field.name


# ---------------------------------------------------------------- rewards under beliefs


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_expected_reward_is_the_true_reward_at_one_hot_and_linear(variant):
    core = make_core(variant)
    rng = np.random.default_rng(4)
    state = core.reset(64, rng)
    K = core.game.num_goals
    for _ in range(core.horizon):
        actions = np.stack([_random_actions(core, state, agent, rng) for agent in (HUMAN, ASSISTANT)], axis=1)
        goal = state.goal.copy()
        result = core.step(state, actions)
        true = core.expected_reward(result.transition, one_hot_belief(goal, K))
        assert np.allclose(true, result.reward_parts) and np.allclose(true.sum(1), result.reward)
        b1, b2 = rng.dirichlet(np.ones(K), size=(2, 64))
        mix = 0.3 * b1 + 0.7 * b2
        expected = [core.expected_reward(result.transition, b[:, None, :]) for b in (b1, b2, mix)]
        assert np.allclose(expected[2], 0.3 * expected[0] + 0.7 * expected[1])


# ---------------------------------------------------------------- observations


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_the_goal_never_reaches_the_assistant(variant):
    """Every goal, the same human and assistant actions: identical assistant observations."""
    core = make_core(variant)
    K = core.game.num_goals
    state = core.reset(K, np.random.default_rng(0), goals=np.arange(K)[:, None])
    rng = np.random.default_rng(5)
    for _ in range(core.horizon):
        seen = core.observe(state, ASSISTANT)
        for key, value in seen.items():
            assert (value == value[:1]).all(), key
        prompts = {core.describe_observation({k: v[i] for k, v in seen.items()}, ASSISTANT) for i in range(K)}
        assert len(prompts) == 1
        assert len({int(g) for g in core.observe(state, HUMAN)["goal"]}) == K
        masks = core.legal_mask(state, HUMAN)
        human = rng.choice(np.flatnonzero(masks.all(axis=0)))
        assistant = rng.choice(np.flatnonzero(core.legal_mask(state, ASSISTANT)[0]))
        core.step(state, np.array([[human, assistant]] * K))


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_observations_are_in_their_spaces(variant):
    core = make_core(variant, history=2)
    rng = np.random.default_rng(6)
    state = core.reset(8, rng)
    for _ in range(core.horizon + 1):
        for agent in (HUMAN, ASSISTANT):
            observation = core.observe(state, agent)
            for i in range(8):
                assert core.observation_space(agent).contains({k: v[i] for k, v in observation.items()})
        actions = np.stack([_random_actions(core, state, agent, rng) for agent in (HUMAN, ASSISTANT)], axis=1)
        core.step(state, actions)


def test_assistant_sees_recent_human_actions_oldest_first():
    core = make_core("cake_or_pie", history=2)
    state = core.reset(1, np.random.default_rng(0), goals=np.array([[0]]))
    run(core, state, [("add flour", "wait"), ("add sugar", "wait"), ("add eggs", "wait")])
    seen = core.observe(state, ASSISTANT)
    names = [core.game.human_action_names[a] for a in seen["recent_human_actions"][0]]
    assert names == ["add sugar", "add eggs"]
    assert [core.game.state_names[s] for s in seen["recent_states"][0]] == ["bowl: flour", "bowl: flour, sugar"]


# ---------------------------------------------------------------- play against the solver


class BayesAssistant:
    """Plays the solver's action from the belief tracked out of the assistant's observations."""

    def __init__(self, core: KitchenCore, batch: int):
        self.core = core
        self.solution = solve_bayes(core.game, core.human_policy)
        self.belief = np.tile(core.game.prior, (batch, 1))

    def act(self, state) -> np.ndarray:
        seen = self.core.observe(state, ASSISTANT)
        actions = np.zeros(state.batch_size, np.int64)
        for i in np.flatnonzero(~state.done):
            t = int(seen["t"][i])
            if t > 0:
                _, posterior = bayes_update(self.core.human_policy, t - 1, seen["recent_states"][i, -1], self.belief[i])
                self.belief[i] = posterior[seen["recent_human_actions"][i, -1]]
            actions[i] = self.solution.action(t, int(seen["state"][i]), self.belief[i])
        return actions


def play(core: KitchenCore, batch: int, seed: int):
    rng = np.random.default_rng(seed)
    state = core.reset(batch, rng)
    assistant = BayesAssistant(core, batch)
    while not state.done.all():
        probs = core.human_action_probs(state)
        human = (probs.cumsum(axis=1) < rng.random((batch, 1))).sum(axis=1)
        core.step(state, np.stack([human, assistant.act(state)], axis=1))
    return state, assistant.solution.value


@pytest.mark.parametrize("variant, returns", [("red_blue", 2.0), ("meal_choice", 6.5)])
def test_deterministic_humans_give_the_bayes_value_every_episode(variant, returns):
    core = make_core(variant)
    state, value = play(core, 200, seed=0)
    assert value == returns
    metrics = core.metrics(state)
    assert np.allclose(metrics["return"], returns)
    assert np.allclose(metrics["goal_pct"], 100 * returns / core.oracle.values[state.goal[:, 0]])


def test_the_return_is_discounted_as_the_solver_values_it():
    """red_blue at discount 0.5 (T = 2, p = 1/2): the human's item and the assistant's
    copy at step 1 make 1 + 0.5 in every episode, the Bayes value; the search's default
    discount is the game's."""
    core = KitchenCore(dataclasses.replace(make_game("red_blue"), discount=0.5))
    state, value = play(core, 50, seed=0)
    assert value == pytest.approx(1.5) and np.allclose(core.metrics(state)["return"], 1.5)
    assert SearchConfig().for_game(core).discount == 0.5
    assert SearchConfig(discount=0.8).for_game(core).discount == 0.8
    assert SearchConfig().for_game(make_core("red_blue")).discount == 1.0


def test_cake_or_pie_average_return_matches_the_bayes_value():
    core = make_core("cake_or_pie")
    state, value = play(core, 3000, seed=1)
    assert core.metrics(state)["return"].mean() == pytest.approx(value, abs=0.03)


def test_metrics_count_actions_and_shares():
    core = make_core("meal_choice", prep_steps=1)
    state = core.reset(1, np.random.default_rng(0), goals=np.array([[0]]))
    run(core, state, [("wait", "prep"), ("cook pasta", "wait")])
    metrics = {k: v.tolist() for k, v in core.metrics(state).items()}
    assert metrics == {
        "return": [8.0],
        "goal_pct": [100 * 8.0 / core.oracle.values[0]],
        "human_actions": [1],
        "assistant_actions": [1],
        "assistant_share": [0.5],
        "assistant_return": [0.0],
        "length": [2],
    }


def test_goal_action_values_are_solo_q_for_the_human_and_oracle_q_for_the_assistant():
    core = make_core("red_blue")
    state = core.reset(2, np.random.default_rng(0), goals=np.array([[0], [1]]))
    human = core.goal_action_values(state, HUMAN, state.goal)
    assert human.tolist() == [[0.0, 1.0, -1.0], [0.0, -1.0, 1.0]]
    assistant = core.goal_action_values(state, ASSISTANT, state.goal)
    assert assistant.argmax(1).tolist() == [1, 2]  # the oracle makes the goal's colour at once
    assert assistant.max(1).tolist() == core.oracle.values.tolist() == [3.0, 3.0]
    run(core, state, [("wait", "wait"), ("wait", "wait")])
    assert core.goal_action_values(state, ASSISTANT, state.goal).tolist() == [[0.0, -np.inf, -np.inf]] * 2


# ---------------------------------------------------------------- text and pictures


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_codec_round_trips_every_action_and_rejects_garbage(variant):
    core = make_core(variant)
    codec = TextCodec(core)
    for agent in (HUMAN, ASSISTANT):
        for a in range(core.num_actions(agent)):
            assert codec.parse(agent, codec.action_text(agent, a)) == a
            assert codec.parse(agent, "  " + codec.action_text(agent, a).upper() + " ") == a
        with pytest.raises(ActionParseError, match="is not an action"):
            codec.parse(agent, "juggle the plates")
        with pytest.raises(ActionParseError, match="empty"):
            codec.parse(agent, "   ")


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_prompts_and_renders(variant):
    core = make_core(variant)
    state = core.reset(1, np.random.default_rng(0), goals=np.array([[0]]))
    rng = np.random.default_rng(0)
    core.step(state, np.stack([_random_actions(core, state, agent, rng) for agent in (HUMAN, ASSISTANT)], axis=1))
    goal = core.game.goal_names[0]
    human_prompt = core.describe_observation({k: v[0] for k, v in core.observe(state, HUMAN).items()}, HUMAN)
    assistant_prompt = core.describe_observation({k: v[0] for k, v in core.observe(state, ASSISTANT).items()}, ASSISTANT)
    assert f"Your goal: {goal}." in human_prompt and "hidden" in assistant_prompt and "The human did:" in assistant_prompt
    assert core.game.state_names[state.s[0]] in core.render_ansi(state)
    image = core.render_rgb(state)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and image.std() > 0


def _random_actions(core, state, agent, rng):
    mask = core.legal_mask(state, agent)
    return np.array([rng.choice(np.flatnonzero(row)) for row in mask])
