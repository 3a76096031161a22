"""assist/pictures.py: the Images tab's picture of a game's state."""

import matplotlib.image
import numpy as np

import envs
from assist.pictures import build_figure, state_picture
from assist.registry import make_player
from assist.ui.session import Session
from assist.ui.views import game_info
from envs.building.blocks import BLOCK_NAMES, FIRST_PLACEABLE
from envs.building.render import BLOCK_COLOURS, PLAYER_COLOURS
from envs.core import ASSISTANT, HUMAN
from tests.support import picture_path


def test_a_build_state_is_drawn_in_3d_with_its_blocks_colours_on_both_sides():
    core = envs.make_core("build", preset="small")
    state = core.reset(1, np.random.default_rng(3))
    goal = state.goal[0]
    colour = BLOCK_COLOURS[goal[goal >= FIRST_PLACEABLE][0]].astype(int)

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


def test_the_picture_names_its_halves_axes_blocks_and_players():
    core = envs.make_core("build", preset="small")
    state = core.reset(1, np.random.default_rng(3))
    figure = build_figure(core, state)
    built, goal = figure.axes
    assert built.get_title() == "built: step 0, goal 0%" and goal.get_title() == "goal"
    assert all((ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()) == ("x", "z", "y (up)") for ax in figure.axes)
    (legend,) = figure.legends
    blocks = sorted(set(state.goal[0][state.goal[0] >= FIRST_PLACEABLE].tolist()))
    assert [text.get_text() for text in legend.get_texts()] == [BLOCK_NAMES[b] for b in blocks] + ["human", "assistant"]


def test_a_picture_mid_episode_is_saved_non_blank(tmp_path):
    """Also makes docs/final_state.png (docs/README.md)."""
    core = envs.make_core("build", preset="small", goal_split="test")
    session = Session(core, {HUMAN: make_player("greedy", core, HUMAN), ASSISTANT: make_player("oracle", core, ASSISTANT)}, seed=1)
    for _ in range(8):
        session.tick()
    picture = state_picture(core, session.snapshot().state)
    assert picture.shape == (336, 640, 3) and picture.std() > 20  # drawn, not one flat colour
    path = picture_path(tmp_path, "final_state.png")
    matplotlib.image.imsave(path, picture)
    assert np.array_equal((255 * matplotlib.image.imread(path)[..., :3]).round().astype(np.uint8), picture)


def test_other_games_keep_their_cores_own_picture():
    core = envs.make_core("kitchen", variant="red_blue")
    state = core.reset(1, np.random.default_rng(0))
    assert np.array_equal(state_picture(core, state), core.render_rgb(state, 0))


def test_no_two_blocks_look_alike_and_the_browser_draws_with_the_same_colours_as_the_pictures():
    placeable = BLOCK_COLOURS[FIRST_PLACEABLE:].astype(int)
    distance = np.sqrt(((placeable[:, None] - placeable[None]) ** 2).sum(axis=2))
    assert distance[~np.eye(len(placeable), dtype=bool)].min() > 60  # the old dirt and log were 39 apart
    core = envs.make_core("build", preset="mbag")
    info = game_info(core, HUMAN)["build"]
    assert info["colours"] == BLOCK_COLOURS[: core.n].tolist() and list(info["player_colours"].values()) == PLAYER_COLOURS.tolist()
