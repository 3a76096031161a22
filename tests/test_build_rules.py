"""The rules of `build`, one behaviour per test, on hand-made positions."""

import numpy as np
import pytest

import envs.building as build
from envs.building.blocks import AIR, BEDROCK
from envs.building.core import FIRST_MOVE, FIRST_PLACE, BuildCore, voxel_score
from envs.core import ASSISTANT, HUMAN, one_hot_belief

DIRT, COBBLE = 2, 3  # the tiny preset's placeable blocks


@pytest.fixture
def core() -> BuildCore:
    return build.make_core("tiny")


def empty_goal(core, blocks=()):
    """A goal with bedrock floor and the given ((x, y, z), block) voxels."""
    goal = np.zeros(core.shape, np.uint8)
    goal[:, 0, :] = BEDROCK
    for xyz, block in blocks:
        goal[xyz] = block
    return goal.reshape(1, -1)


def fresh(core, goal_blocks=(((2, 1, 2), DIRT),), human=(0, 1, 0), assistant=(4, 1, 4)):
    state = core.reset(1, np.random.default_rng(0), goals=empty_goal(core, goal_blocks))
    state.pos[0] = [vox(core, human), vox(core, assistant)]
    return state


def vox(core, xyz) -> int:
    return int(np.ravel_multi_index(xyz, core.shape))


def place(core, block, xyz) -> int:
    return FIRST_PLACE + (block - 2) * core.V + vox(core, xyz)


def brk(core, xyz) -> int:
    return core.first_break + vox(core, xyz)


def move(direction: str) -> int:
    return FIRST_MOVE + ("+x", "-x", "+y", "-y", "+z", "-z").index(direction)


def step(core, state, human=0, assistant=0):
    return core.step(state, np.array([[human, assistant]]))


def test_placing_on_the_floor_scores_the_goal_voxel(core):
    state = fresh(core, human=(1, 1, 2))
    result = step(core, state, human=place(core, DIRT, (2, 1, 2)))
    assert not result.illegal.any()
    assert result.reward[0] == 1 and result.reward_parts[0].tolist() == [1, 0]
    assert state.world[0, vox(core, (2, 1, 2))] == DIRT
    assert result.terminated[0] and state.done[0]


def test_a_wrong_block_where_the_goal_has_a_block_costs_one(core):
    state = fresh(core, human=(1, 1, 2))
    assert step(core, state, human=place(core, COBBLE, (2, 1, 2))).reward[0] == -1
    assert step(core, state, human=brk(core, (2, 1, 2))).reward[0] == 1


def test_a_block_where_the_goal_is_air_costs_one(core):
    state = fresh(core, human=(1, 1, 2))
    assert step(core, state, human=place(core, DIRT, (1, 1, 1))).reward[0] == -1


def test_placing_needs_a_solid_neighbour(core):
    state = fresh(core, human=(1, 1, 2))
    result = step(core, state, human=place(core, DIRT, (2, 2, 2)))
    assert result.illegal[0, 0] and state.world[0, vox(core, (2, 2, 2))] == AIR
    step(core, state, human=place(core, DIRT, (2, 1, 1)))
    assert not step(core, state, human=place(core, DIRT, (2, 2, 1))).illegal[0, 0]


def test_placing_is_limited_to_reach(core):
    state = fresh(core, human=(0, 1, 0))
    assert core.config.reach == 3.0
    assert step(core, state, human=place(core, DIRT, (3, 1, 3))).illegal[0, 0]  # distance ~4.2
    assert not step(core, state, human=place(core, DIRT, (2, 1, 1))).illegal[0, 0]  # distance ~2.2


def test_cannot_place_into_a_player_or_a_block(core):
    state = fresh(core, human=(1, 1, 2), assistant=(2, 1, 2))
    assert step(core, state, human=place(core, DIRT, (2, 1, 2))).illegal[0, 0]
    step(core, state, human=place(core, DIRT, (1, 1, 1)))
    assert step(core, state, human=place(core, COBBLE, (1, 1, 1))).illegal[0, 0]


def test_cannot_break_bedrock_or_air(core):
    state = fresh(core, human=(1, 1, 2))
    assert step(core, state, human=brk(core, (1, 0, 2))).illegal[0, 0]
    assert step(core, state, human=brk(core, (2, 1, 2))).illegal[0, 0]


def test_moves_stay_in_the_world_and_out_of_blocks_and_players(core):
    state = fresh(core, human=(0, 1, 0), assistant=(1, 1, 0))
    assert step(core, state, human=move("-x")).illegal[0, 0]  # world edge
    assert step(core, state, human=move("+x")).illegal[0, 0]  # the assistant is there
    assert step(core, state, human=move("-y")).illegal[0, 0]  # bedrock
    assert not step(core, state, human=move("+y")).illegal[0, 0]  # flying
    assert state.pos[0, 0] == vox(core, (0, 2, 0))


def test_the_human_acts_first_and_the_assistants_clashing_action_becomes_a_noop(core):
    state = fresh(core, human=(1, 1, 2), assistant=(3, 1, 2))
    target = place(core, DIRT, (2, 1, 2))
    result = step(core, state, human=target, assistant=target)
    assert result.illegal[0].tolist() == [False, True]
    assert result.reward_parts[0].tolist() == [1, 0]
    assert state.touched[0, vox(core, (2, 1, 2))] == 1


def test_a_move_into_the_voxel_the_human_just_left_is_legal(core):
    state = fresh(core, human=(1, 1, 0), assistant=(2, 1, 0))
    result = step(core, state, human=move("-x"), assistant=move("-x"))
    assert not result.illegal.any()
    assert state.pos[0].tolist() == [vox(core, (0, 1, 0)), vox(core, (1, 1, 0))]


def test_out_of_range_actions_are_flagged_noops(core):
    state = fresh(core)
    before = state.copy()
    result = step(core, state, human=10**6, assistant=-3)
    assert result.illegal[0].all()
    assert np.array_equal(before.world, state.world) and np.array_equal(before.pos, state.pos)


def test_legal_mask_matches_what_step_accepts_for_the_human(core):
    rng = np.random.default_rng(1)
    state = core.reset(8, rng)
    for _ in range(20):
        mask = core.legal_mask(state, HUMAN)
        for a in rng.choice(mask.shape[1], size=20):
            trial = state.copy()
            illegal = core.step(trial, np.stack([np.full(8, a), np.zeros(8, int)], 1)).illegal[:, 0]
            live = ~state.done
            assert np.array_equal(illegal[live], ~mask[live, a])
        core.step(state, np.stack([rng.integers(0, mask.shape[1], 8), rng.integers(0, mask.shape[1], 8)], 1))


def test_finished_games_are_frozen(core):
    state = fresh(core, human=(1, 1, 2))
    step(core, state, human=place(core, DIRT, (2, 1, 2)))
    frozen = state.copy()
    result = step(core, state, human=brk(core, (2, 1, 2)))
    assert result.reward[0] == 0 and not result.illegal.any()
    for name in ("world", "pos", "t", "score"):
        assert np.array_equal(getattr(frozen, name), getattr(state, name))


def test_horizon_truncates(core):
    state = fresh(core)
    for _ in range(core.horizon):
        result = step(core, state)
    assert result.truncated[0] and not result.terminated[0] and state.t[0] == core.horizon


def test_expected_reward_at_the_one_hot_belief_is_the_true_reward(core):
    rng = np.random.default_rng(2)
    state = core.reset(16, rng)
    for _ in range(30):
        actions = np.stack([rng.integers(0, core.num_actions(agent), 16) for agent in (HUMAN, ASSISTANT)], 1)
        goal = state.goal.copy()
        result = core.step(state, actions)
        expected = core.expected_reward(result.transition, one_hot_belief(goal, core.n))
        assert np.allclose(expected, result.reward_parts)


def test_expected_reward_is_linear_in_the_belief(core):
    rng = np.random.default_rng(3)
    state = core.reset(4, rng)
    beliefs = rng.dirichlet(np.ones(core.n), size=(2, 4, core.V)).astype(np.float32)
    for _ in range(20):
        m = core.legal_mask(state, HUMAN)
        a = np.array([rng.choice(np.flatnonzero(row)) for row in m])
        result = core.step(state, np.stack([a, np.zeros(4, int)], 1))
        mixed = core.expected_reward(result.transition, 0.3 * beliefs[0] + 0.7 * beliefs[1])
        parts = [core.expected_reward(result.transition, b) for b in beliefs]
        assert np.allclose(mixed, 0.3 * parts[0] + 0.7 * parts[1], atol=1e-5)


def test_score_counts_matches_and_wrong_blocks():
    goal = np.array([DIRT, DIRT, AIR, AIR])
    world = np.array([DIRT, COBBLE, AIR, COBBLE])
    assert voxel_score(world, goal).tolist() == [1, -1, 1, 0]


def test_goal_pct_is_100_when_complete_and_0_at_reset(core):
    state = fresh(core, human=(1, 1, 2))
    assert core.metrics(state)["goal_pct"][0] == 0
    step(core, state, human=place(core, DIRT, (2, 1, 2)))
    metrics = core.metrics(state)
    assert metrics["goal_pct"][0] == 100 and metrics["human_actions"][0] == 1 and metrics["assistant_share"][0] == 0


def test_assistant_share_counts_the_assistants_part(core):
    state = fresh(core, goal_blocks=(((2, 1, 2), DIRT), ((2, 1, 3), DIRT)), human=(1, 1, 2), assistant=(3, 1, 3))
    step(core, state, human=place(core, DIRT, (2, 1, 2)), assistant=place(core, DIRT, (2, 1, 3)))
    assert core.metrics(state)["assistant_share"][0] == pytest.approx(0.5)


def test_goal_pct_is_below_0_when_the_world_ends_further_from_the_goal_than_it_started(core):
    state = fresh(core, human=(1, 1, 2))
    step(core, state, human=place(core, DIRT, (1, 1, 3)))  # a block where the goal has air
    assert core.metrics(state)["goal_pct"][0] == -100


def test_assistant_share_is_negative_when_the_human_undoes_the_assistants_wrong_block(core):
    state = fresh(core, human=(1, 1, 2), assistant=(4, 1, 4))
    step(core, state, assistant=place(core, DIRT, (3, 1, 3)))  # the goal has air there: -1
    step(core, state, human=brk(core, (3, 1, 3)))  # +1, the human's
    step(core, state, human=place(core, DIRT, (2, 1, 2)))  # the goal: +1, the human's
    metrics = core.metrics(state)
    assert metrics["goal_pct"][0] == 100 and metrics["assistant_share"][0] == -1 and metrics["human_actions"][0] == 2


def test_take_and_put_rows_round_trip(core):
    state = core.reset(6, np.random.default_rng(4))
    core.step(state, np.ones((6, 2), int))
    rows = np.array([4, 1])
    taken = state.take(rows)
    assert taken.batch_size == 2 and np.array_equal(taken.world, state.world[rows])
    other = core.reset(6, np.random.default_rng(5))
    other.put(np.array([0, 3]), taken)
    assert np.array_equal(other.pos[[0, 3]], state.pos[rows])


def test_the_assistant_never_observes_the_goal(core):
    rng = np.random.default_rng(6)
    goals = core.sample_goals(2, rng)
    a = core.reset(1, np.random.default_rng(7), goals=goals[:1])
    b = core.reset(1, np.random.default_rng(7), goals=goals[1:])
    for _ in range(15):
        for key in core.observe(a, ASSISTANT):
            assert np.array_equal(core.observe(a, ASSISTANT)[key], core.observe(b, ASSISTANT)[key])
        actions = np.array([[rng.integers(core.num_actions(HUMAN)), rng.integers(core.num_actions(ASSISTANT))]])
        core.step(a, actions)
        core.step(b, actions)
    assert core.observation_space(ASSISTANT)["world"].shape[0] == 3
    assert np.array_equal(core.observe(a, HUMAN)["world"][0, 3].reshape(-1), a.goal[0])


def test_the_assistant_observes_the_humans_recent_actions(core):
    state = fresh(core, human=(1, 1, 2))
    step(core, state, human=move("+y"))
    step(core, state, human=place(core, DIRT, (2, 1, 2)) + 10**6)  # out of range: a no-op
    recent = core.observe(state, ASSISTANT)["human_actions"][0]
    assert recent[-2:].tolist() == [move("+y") + 1, 1]


def test_chat_messages_reach_the_assistant_as_text():
    core = build.make_core("tiny", chat=True)
    state = fresh(core)
    say = core.action_names(HUMAN).index("say use cobblestone")
    assert not step(core, state, human=say).illegal.any()
    observation = {k: v[0] for k, v in core.observe(state, ASSISTANT).items()}
    assert "human said: use cobblestone" in core.describe_observation(observation, ASSISTANT)
    assert core.num_actions(ASSISTANT) < core.num_actions(HUMAN)


def test_chat_hint_says_wrong_after_a_wrong_assistant_block():
    core = build.make_core("tiny", chat=True)
    state = fresh(core, assistant=(3, 1, 2))
    step(core, state, assistant=place(core, COBBLE, (2, 1, 2)))
    assert core.action_names(HUMAN)[core.chat_hint(state)[0]] == "say wrong"


def test_support_counts_stay_exact_under_random_play(core):
    rng = np.random.default_rng(8)
    state = core.reset(32, rng)
    for _ in range(40):
        actions = np.stack([rng.integers(0, core.num_actions(agent), 32) for agent in (HUMAN, ASSISTANT)], 1)
        core.step(state, actions)
    solid = np.concatenate([state.world != AIR, np.zeros((32, 1), bool)], axis=1)
    recount = solid[:, core.neighbours].sum(axis=2)
    assert np.array_equal(state.support[:, : core.V], recount)
    score = voxel_score(state.world, state.goal).sum(axis=1)
    assert np.array_equal(state.score, score)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(reach=-1.0), "reach"),
        (dict(width=3), "too small"),
        (dict(num_block_types=11), "num_block_types"),
        (dict(horizon=0), "horizon"),
        (dict(colour="red"), "unknown build option"),
    ],
)
def test_bad_configs_are_refused_with_a_clear_message(overrides, message):
    with pytest.raises(ValueError, match=message):
        build.make_core("tiny", **overrides)


@pytest.mark.parametrize("size", [dict(width=3000), dict(width=3000, height=3000, depth=3000), dict(width=17, height=16, depth=16)])
def test_a_world_over_max_voxels_is_refused_before_any_table_is_allocated(size):
    with pytest.raises(ValueError, match=r"world size \(.*\) is [\d,]+ voxels, more than MAX_VOXELS = 4,096"):
        build.make_config("tiny", **size)  # the core's tables would take gigabytes (16 x 16 x 16: 1.5 GB)


@pytest.mark.parametrize("size", [dict(preset="mbag"), dict(preset="mbag", width=16, height=16, depth=16)])
def test_worlds_up_to_max_voxels_are_allowed_mbags_with_room(size):
    assert build.make_config(**size).shape in [(11, 10, 10), (16, 16, 16)]


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid presets: \\['mbag', 'small', 'tiny'\\]"):
        build.make_core("huge")


def test_goals_of_the_wrong_shape_are_refused(core):
    with pytest.raises(ValueError, match="goals must have shape"):
        core.reset(1, np.random.default_rng(0), goals=np.zeros((1, 7, 7, 7), np.uint8))


def test_goal_file_supplies_the_goals(tmp_path, core):
    from envs.building.goals import save_goals

    goals = core.sample_goals(3, np.random.default_rng(9)).reshape((3,) + core.shape)
    save_goals(tmp_path / "goals.npy", goals)
    from_file = build.make_core("tiny", goal_file=str(tmp_path / "goals.npy"))
    sampled = from_file.sample_goals(20, np.random.default_rng(0))
    assert {g.tobytes() for g in sampled} <= {g.reshape(-1).tobytes() for g in goals}


def test_chat_hint_points_a_far_assistant_to_the_nearest_missing_column():
    core = build.make_core("tiny", chat=True, reach=1.0)
    state = fresh(core, goal_blocks=(((1, 1, 1), DIRT), ((3, 1, 3), DIRT)), assistant=(4, 1, 4))
    assert core.action_names(HUMAN)[core.chat_hint(state)[0]] == "say here 3 3"


def test_chat_hint_names_the_most_needed_block_when_the_assistant_is_near():
    core = build.make_core("tiny", chat=True)
    state = fresh(core, goal_blocks=(((2, 1, 2), COBBLE), ((2, 1, 3), COBBLE), ((1, 1, 2), DIRT)), assistant=(3, 1, 3))
    assert core.action_names(HUMAN)[core.chat_hint(state)[0]] == "say use cobblestone"
