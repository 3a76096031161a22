"""The kitchen as PettingZoo environments: PettingZoo's own test suite for every variant,
and our multi-step determinism, illegal-action and goal-option checks."""

from __future__ import annotations

import functools
import types

import numpy as np
import pytest
from pettingzoo.test import api_test, max_cycles_test, parallel_api_test, parallel_seed_test, render_test, seed_test

import envs.kitchen as kitchen
from envs.core import ASSISTANT, HUMAN, IllegalActionError

# PettingZoo's checks warn about dict observations and differently shaped seats: by design.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

VARIANTS = ["red_blue", "meal_choice", "cake_or_pie"]
LONG = {"red_blue": {"horizon": 4}, "meal_choice": {"prep_steps": 6}, "cake_or_pie": {"horizon": 4}}
"""Settings lasting at least max_cycles_test's 4 steps, whatever the (unmasked) actions."""


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("human", ["rational", "boltzmann"])
def test_pettingzoo_api(variant, human):
    api_test(kitchen.env(variant=variant, human=human), num_cycles=100)
    parallel_api_test(kitchen.parallel_env(variant=variant, human=human), num_cycles=100)


@pytest.mark.parametrize("variant", VARIANTS)
def test_pettingzoo_seed_and_render(variant):
    seed_test(functools.partial(kitchen.env, variant=variant), num_cycles=50)
    parallel_seed_test(functools.partial(kitchen.parallel_env, variant=variant), num_cycles=50)
    render_test(functools.partial(kitchen.env, variant=variant))


def test_pettingzoo_max_cycles_on_the_module():
    max_cycles_test(kitchen)


@pytest.mark.parametrize("variant", VARIANTS)
def test_pettingzoo_max_cycles_every_variant(variant):
    module = types.SimpleNamespace(
        parallel_env=functools.partial(kitchen.parallel_env, variant=variant, **LONG[variant]),
        env=functools.partial(kitchen.env, variant=variant, **LONG[variant]),
    )
    max_cycles_test(module)


def rollout(env, seed: int, episodes: int):
    """Every (observations, rewards, terminations, truncations, infos) of a few episodes
    with actions drawn from the masks by a generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    trace = []
    for episode in range(episodes):
        observations, infos = env.reset(seed=seed if episode == 0 else None)
        trace.append((observations, infos))
        while env.agents:
            actions = {agent: int(rng.choice(np.flatnonzero(observations[agent]["action_mask"]))) for agent in env.agents}
            observations, *rest = env.step(actions)
            trace.append((observations, *rest))
    return trace


@pytest.mark.parametrize("variant", VARIANTS)
def test_whole_episodes_are_reproducible_under_a_seed(variant):
    first = rollout(kitchen.parallel_env(variant=variant), seed=7, episodes=4)
    second = rollout(kitchen.parallel_env(variant=variant), seed=7, episodes=4)
    assert len(first) == len(second)
    for a, b in zip(first, second):
        _assert_same(a, b)
    other = rollout(kitchen.parallel_env(variant=variant), seed=8, episodes=4)
    assert any(_differs(a, b) for a, b in zip(first, other))


def test_illegal_actions_are_flagged_or_raise_when_strict():
    env = kitchen.parallel_env(variant="cake_or_pie")
    env.reset(seed=0)
    env.step({HUMAN: 1, ASSISTANT: 0})  # flour
    _, _, _, _, infos = env.step({HUMAN: 1, ASSISTANT: 1})
    assert infos[HUMAN]["illegal_action"] and infos[ASSISTANT]["illegal_action"]
    strict = kitchen.parallel_env(variant="cake_or_pie", strict=True)
    strict.reset(seed=0)
    strict.step({HUMAN: 1, ASSISTANT: 0})
    with pytest.raises(IllegalActionError, match="add flour"):
        strict.step({HUMAN: 1, ASSISTANT: 0})


def test_reset_option_fixes_the_goal_and_episode_metrics_are_reported():
    env = kitchen.parallel_env(variant="red_blue")
    observations, _ = env.reset(seed=0, options={"goal": [1]})
    assert observations[HUMAN]["observation"]["goal"] == 1
    env.step({HUMAN: 2, ASSISTANT: 0})
    _, rewards, _, truncations, infos = env.step({HUMAN: 0, ASSISTANT: 2})
    assert truncations[HUMAN] and rewards[ASSISTANT] == 1.0
    assert infos[HUMAN]["episode"]["return"] == 2.0 and infos[HUMAN]["episode"]["goal_pct"] == pytest.approx(200 / 3)


def _assert_same(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert np.array_equal(a, b), (a, b)


def _differs(a, b) -> bool:
    try:
        _assert_same(a, b)
    except AssertionError:
        return True
    return False
