"""Property tests: random worlds, configs and action sequences keep the invariants."""

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import envs.building as build
from envs.building.blocks import AIR, BEDROCK
from envs.building.core import voxel_score
from envs.core import ASSISTANT, HUMAN

configs = st.fixed_dictionaries(
    {
        "width": st.integers(5, 7),
        "height": st.integers(4, 6),
        "depth": st.integers(5, 7),
        "num_block_types": st.integers(3, 10),
        "reach": st.floats(1.0, 6.0),
        "chat": st.booleans(),
        "goal_split": st.sampled_from(["train", "test", "all"]),
    }
)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def random_play(core, seed, steps, batch=4, masked_share=0.7, idle_share=0.2):
    """Yield (state before, actions, result, state after) for random play of any game core:
    mostly legal actions, some arbitrary ids (out of range too), and the human idle (action
    0, the no-op) now and then, so that the assistant's mask can be checked against ``step``."""
    rng = np.random.default_rng(seed)
    state = core.reset(batch, rng)
    for _ in range(steps):
        actions = []
        for agent in (HUMAN, ASSISTANT):
            mask = core.legal_mask(state, agent)
            legal = np.array([rng.choice(np.flatnonzero(row)) for row in mask])
            anything = rng.integers(-2, core.num_actions(agent) + 2, batch)
            actions.append(np.where(rng.random(batch) < masked_share, legal, anything))
        actions[0] = np.where(rng.random(batch) < idle_share, 0, actions[0])
        before = state.copy()
        joint = np.stack(actions, 1)
        yield before, joint, core.step(state, joint), state


def assert_masks_match_step(core, before, joint, result, assistant="exact_when_idle"):
    """The human's mask is exactly what ``step`` accepts from it (it acts first); ids
    outside the space are always refused. The assistant's mask, which is computed before
    the human moves: ``"exact_when_idle"`` (build) it is exactly what ``step`` accepts where
    the human did nothing; ``"superset"`` (kitchen, whose mask holds the actions legal after
    some human move) every action ``step`` accepts from the assistant was in it."""
    live, rows = ~before.done, np.arange(len(joint))
    accepted = []
    for i, agent in enumerate((HUMAN, ASSISTANT)):
        n = core.num_actions(agent)
        in_range = (joint[:, i] >= 0) & (joint[:, i] < n)
        accepted.append(in_range & core.legal_mask(before, agent)[rows, np.clip(joint[:, i], 0, n - 1)])
        assert not (~result.illegal[live, i] & ~in_range[live]).any(), agent
    assert np.array_equal(result.illegal[live, 0], ~accepted[0][live])
    if assistant == "exact_when_idle":
        idle = live & (joint[:, 0] == 0)
        assert np.array_equal(result.illegal[idle, 1], ~accepted[1][idle])
    else:
        assert not (~result.illegal[live, 1] & ~accepted[1][live]).any()
    assert not result.illegal[~live].any()


@SETTINGS
@given(cfg=configs, seed=st.integers(0, 2**31))
def test_invariants_hold_under_random_play(cfg, seed):
    core = build.make_core("tiny", horizon=40, **cfg)
    for before, joint, result, state in random_play(core, seed, 40):
        assert_masks_match_step(core, before, joint, result)
        # the score is the per-voxel score, bounded by the number of voxels
        assert np.array_equal(state.score, voxel_score(state.world, state.goal).sum(axis=1))
        assert np.all(state.score <= core.V)
        assert np.all(np.abs(result.reward) <= 2)
        # bedrock never moves; players stand in air, apart
        floor = core.coords[:, 1] == 0
        assert np.all(state.world[:, floor] == BEDROCK) and not np.any(state.world[:, ~floor] == BEDROCK)
        rows = np.arange(len(joint))
        assert np.all(state.world[rows, state.pos[:, 0]] == AIR) and np.all(state.world[rows, state.pos[:, 1]] == AIR)
        assert np.all(state.pos[:, 0] != state.pos[:, 1])
        # the assistant's observation space holds no goal channel
        assert core.observe(state, ASSISTANT)["world"].shape[1] == 3
        assert all(core.observation_space(a).contains({k: v[0] for k, v in core.observe(state, a).items()}) for a in (HUMAN, ASSISTANT))


@SETTINGS
@given(cfg=configs, seed=st.integers(0, 2**31))
def test_play_is_deterministic_under_a_seed(cfg, seed):
    core = build.make_core("tiny", horizon=30, **cfg)
    first = [s.world.copy() for *_, s in random_play(core, seed, 30)]
    second = [s.world.copy() for *_, s in random_play(core, seed, 30)]
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


@SETTINGS
@given(cfg=configs, seed=st.integers(0, 2**31))
@example(cfg={"width": 5, "height": 4, "depth": 5, "num_block_types": 4, "reach": 2.0, "chat": False, "goal_split": "train"}, seed=14640)  # a 1-block goal done at step 3
def test_the_assistants_view_does_not_depend_on_the_goal(cfg, seed):
    core = build.make_core("tiny", horizon=20, **cfg)
    rng = np.random.default_rng(seed)
    goals = core.sample_goals(2, rng)
    states = [core.reset(1, np.random.default_rng(seed), goals=g[None]) for g in goals]
    for _ in range(20):
        views = [core.observe(s, ASSISTANT) for s in states]
        assert all(np.array_equal(views[0][k], views[1][k]) for k in views[0])
        joint = np.array([[rng.integers(core.num_actions(HUMAN)), rng.integers(core.num_actions(ASSISTANT))]])
        for s in states:
            core.step(s, joint)
        if any(s.done.any() for s in states):  # a finished goal ends its game: that much the assistant may see
            break
