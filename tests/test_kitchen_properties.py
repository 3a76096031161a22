"""Property tests for the kitchen games: random variants, horizons and action sequences
(legal, illegal and outside the action space) keep the invariants."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from envs.core import ASSISTANT, HUMAN
from envs.kitchen import make_core
from envs.kitchen.variants import VARIANTS
from tests.test_build_properties import SETTINGS, assert_masks_match_step, random_play

games = st.fixed_dictionaries({"variant": st.sampled_from(sorted(VARIANTS)), "horizon": st.integers(1, 8), "history": st.integers(1, 4)})


@SETTINGS
@given(options=games, seed=st.integers(0, 2**31))
def test_invariants_hold_under_random_play(options, seed):
    core = make_core(**options)
    game = core.game
    bound = np.abs(game.human_reward).max() + np.abs(game.assistant_reward).max()  # per step
    for before, joint, result, state in random_play(core, seed, core.horizon + 2):
        assert_masks_match_step(core, before, joint, result, assistant="superset")
        assert np.all(np.abs(result.reward) <= bound + 1e-9) and np.all(result.reward[before.done] == 0)
        assert np.allclose(result.reward, result.reward_parts.sum(axis=1))
        assert np.all(state.t <= core.horizon) and np.all(state.done[state.t == core.horizon])
        assert np.all(np.abs(state.ret) <= bound * state.t + 1e-9)
        metrics = core.metrics(state)
        assert np.all((metrics["assistant_share"] >= 0) & (metrics["assistant_share"] <= 1))
        assert np.all(metrics["human_actions"] + metrics["assistant_actions"] <= 2 * state.t)
        for agent in (HUMAN, ASSISTANT):
            observation = core.observe(state, agent)
            assert all(core.observation_space(agent).contains({k: v[i] for k, v in observation.items()}) for i in range(len(state.t)))
        assert "goal" not in core.observe(state, ASSISTANT)


@SETTINGS
@given(options=games, seed=st.integers(0, 2**31))
def test_play_is_deterministic_under_a_seed(options, seed):
    core = make_core(**options)
    first = [(joint, result.reward, s.s.copy()) for _, joint, result, s in random_play(core, seed, core.horizon)]
    second = [(joint, result.reward, s.s.copy()) for _, joint, result, s in random_play(core, seed, core.horizon)]
    assert all(all(np.array_equal(a, b) for a, b in zip(x, y)) for x, y in zip(first, second))


@SETTINGS
@given(options=games, seed=st.integers(0, 2**31))
def test_the_assistants_view_does_not_depend_on_the_goal(options, seed):
    """Every goal, the same random actions: the same assistant observations and prompts."""
    core = make_core(**options)
    K = core.game.num_goals
    state = core.reset(K, np.random.default_rng(seed), goals=np.arange(K)[:, None])
    rng = np.random.default_rng(seed)
    for _ in range(core.horizon):
        seen = core.observe(state, ASSISTANT)
        assert all((value == value[:1]).all() for value in seen.values())
        assert len({core.describe_observation({k: v[i] for k, v in seen.items()}, ASSISTANT) for i in range(K)}) == 1
        joint = np.array([[rng.integers(-1, core.num_actions(HUMAN) + 1), rng.integers(-1, core.num_actions(ASSISTANT) + 1)]] * K)
        core.step(state, joint)
