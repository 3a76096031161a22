"""assist/pictures.py: the Images tab's picture of a game's state."""

import numpy as np

import envs
from assist.pictures import BLOCK_PALETTE, state_picture
from envs.building.blocks import FIRST_PLACEABLE


def test_a_build_state_is_drawn_in_3d_with_its_blocks_colours_on_both_sides():
    core = envs.make_core("build", preset="small")
    state = core.reset(1, np.random.default_rng(3))
    goal = state.goal[0]
    colour = (255 * BLOCK_PALETTE[goal[goal >= FIRST_PLACEABLE][0] - FIRST_PLACEABLE]).astype(int)

    def near_colour(picture):  # [built half, goal half]: pixels of the block's faces (shaded a little), above the legend
        assert picture.ndim == 3 and picture.shape[2] == 3 and picture.dtype == np.uint8
        near = (np.abs(picture.astype(int) - colour).sum(axis=2) < 60)[: int(0.85 * len(picture))]
        half = picture.shape[1] // 2
        return near[:, :half].sum(), near[:, half:].sum()

    built_before, goal_before = near_colour(state_picture(core, state))
    state.world[0] = np.where(goal >= FIRST_PLACEABLE, goal, state.world[0])  # the goal built
    built_after, goal_after = near_colour(state_picture(core, state))
    assert goal_before > 100 and goal_after == goal_before  # the goal is drawn, and stays
    assert built_after > 100 and built_before < built_after / 4  # the world shows what was built


def test_other_games_keep_their_cores_own_picture():
    core = envs.make_core("kitchen", variant="red_blue")
    state = core.reset(1, np.random.default_rng(0))
    assert np.array_equal(state_picture(core, state), core.render_rgb(state, 0))
