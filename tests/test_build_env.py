"""`build` as PettingZoo environments: PettingZoo's own suite plus our own checks."""

import numpy as np
import pytest
from pettingzoo.test import api_test, max_cycles_test, parallel_api_test, parallel_seed_test, render_test, seed_test

import envs.building as build
from envs.core import ASSISTANT, HUMAN, IllegalActionError


def tiny_aec(**kwargs):
    return build.env(preset="tiny", **kwargs)


def tiny_parallel(**kwargs):
    return build.parallel_env(preset="tiny", **kwargs)


def test_pettingzoo_aec_api():
    api_test(tiny_aec(), num_cycles=200)


def test_pettingzoo_parallel_api():
    parallel_api_test(tiny_parallel(), num_cycles=200)


def test_pettingzoo_chat_variant_passes_the_parallel_api():
    parallel_api_test(tiny_parallel(chat=True), num_cycles=100)


def test_pettingzoo_seed_tests():
    seed_test(tiny_aec, num_cycles=50)
    parallel_seed_test(tiny_parallel, num_cycles=50)


def test_pettingzoo_render_test():
    render_test(tiny_aec)


def test_pettingzoo_max_cycles_test():
    max_cycles_test(build)


def test_agents_are_named_by_pettingzoo_convention():
    assert tiny_parallel().possible_agents == [HUMAN, ASSISTANT]


def rollout(env, seed, steps):
    """Observations, rewards and infos of ``steps`` masked random steps from ``seed``."""
    rng = np.random.default_rng(seed)
    observations, _ = env.reset(seed=seed)
    trace = []
    for _ in range(steps):
        if not env.agents:
            observations, _ = env.reset()
        actions = {a: int(rng.choice(np.flatnonzero(observations[a]["action_mask"]))) for a in env.agents}
        observations, rewards, terms, truncs, infos = env.step(actions)
        trace.append((observations, rewards, terms, truncs))
    return trace


def same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return np.array_equal(a, b)


def test_many_steps_are_deterministic_under_a_seed():
    assert same(rollout(tiny_parallel(), 3, 150), rollout(tiny_parallel(), 3, 150))
    assert not same(rollout(tiny_parallel(), 3, 30), rollout(tiny_parallel(), 4, 30))


def test_an_illegal_action_is_a_flagged_noop():
    env = tiny_parallel()
    observations, _ = env.reset(seed=0)
    illegal = int(np.flatnonzero(observations[HUMAN]["action_mask"] == 0)[0])
    _, _, _, _, infos = env.step({HUMAN: illegal, ASSISTANT: 0})
    assert infos[HUMAN]["illegal_action"] and not infos[ASSISTANT]["illegal_action"]


def test_strict_mode_raises_on_an_illegal_action():
    env = tiny_parallel(strict=True)
    observations, _ = env.reset(seed=0)
    illegal = int(np.flatnonzero(observations[HUMAN]["action_mask"] == 0)[0])
    with pytest.raises(IllegalActionError, match="illegal action"):
        env.step({HUMAN: illegal, ASSISTANT: 0})


def test_reset_options_fix_the_goal():
    env = tiny_parallel()
    goal = env.core.sample_goals(1, np.random.default_rng(5))[0]
    env.reset(seed=1, options={"goal": goal})
    assert np.array_equal(env.state.goal[0], goal)


def test_the_episode_reports_its_metrics_when_it_ends():
    env = tiny_parallel(max_cycles=3)
    env.reset(seed=0)
    for _ in range(3):
        _, _, _, truncations, infos = env.step({HUMAN: 0, ASSISTANT: 0})
    assert all(truncations.values()) and env.agents == []
    assert set(infos[HUMAN]["episode"]) >= {"goal_pct", "human_actions", "assistant_share", "length"}


def test_rgb_and_ansi_renders_show_the_world():
    env = tiny_parallel(render_mode="rgb_array")
    env.reset(seed=0)
    image = env.render()
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and image.std() > 0
    env = tiny_parallel(render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert "H" in text and "A" in text and "goal" in text


def test_the_text_picture_labels_its_axes_and_puts_each_player_at_its_x_y_z():
    core = build.make_core("tiny")
    state = core.reset(1, np.random.default_rng(0))
    lines = core.render_ansi(state, 0, goal=False).splitlines()
    assert lines[1].split()[:3] == ["z", "y=1", "y=2"] and lines[-3].split()[:2] == ["x", "01234"]
    assert lines[-2].startswith("axes: x left to right, z bottom to top, y up")
    for mark, voxel in zip("HA", state.pos[0]):
        x, y, z = (int(c) for c in core.coords[voxel])
        row = next(line for line in lines if line.split(" ", 1)[0] == str(z))
        assert row[2 + (y - 1) * 7 + x] == mark  # tiny: 5-wide panels, 2 spaces apart, after "z "


def test_unknown_render_mode_is_refused():
    with pytest.raises(ValueError, match="render_mode"):
        tiny_parallel(render_mode="vr")
