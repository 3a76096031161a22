"""Pictures of a game's state for TensorBoard's Images tab, drawn with matplotlib's object
API (no pyplot, no display: safe in training processes).

:func:`state_picture` draws a `build` state in 3-D, the world built beside its goal, with
the axes labelled, the players marked and a legend of the blocks, in the colours of
:data:`~envs.building.render.BLOCK_COLOURS` (the browser's too); other games keep their
core's own ``render_rgb``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from envs.building.blocks import BLOCK_NAMES, FIRST_PLACEABLE
from envs.building.render import BLOCK_COLOURS, PLAYER_COLOURS
from envs.core import BatchState, GameCore

PLAYER_MARKS = (("human", PLAYER_COLOURS[0] / 255), ("assistant", PLAYER_COLOURS[1] / 255))


def state_picture(core: GameCore, state: BatchState, row: int = 0) -> np.ndarray:
    """[H, W, 3] uint8 picture of game ``row`` of ``state``."""
    if core.name != "build":
        return core.render_rgb(state, row)
    figure = build_figure(core, state, row)
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


def build_figure(core: GameCore, state: BatchState, row: int = 0) -> Figure:
    """The 640 x 336 pixel figure of `build` game ``row``: the world (titled with its step
    and goal %) and the goal side by side in 3-D, x and z on the ground and y up, a voxel
    ``(x, y, z)`` filling the unit cube from that corner; the players as markers in the
    world; the bedrock floor (y = 0) left undrawn; a legend of the blocks shown."""
    figure = Figure(figsize=(8.0, 4.2), dpi=80)
    FigureCanvasAgg(figure)
    W, H, D = core.shape
    pct = float(core.metrics(state)["goal_pct"][row])
    used = set()
    for i, (title, grid) in enumerate(((f"built: step {int(state.t[row])}, goal {pct:.0f}%", state.world[row]), ("goal", state.goal[row]))):
        ax = figure.add_subplot(1, 2, i + 1, projection="3d")
        blocks = grid.reshape(core.shape)  # [W, H, D]
        filled = blocks >= FIRST_PLACEABLE
        colours = np.zeros(blocks.shape + (4,))
        colours[filled, :3] = BLOCK_COLOURS[blocks[filled]] / 255
        colours[filled, 3] = 0.9
        # matplotlib's third axis is up: plot (x, z, y)
        ax.voxels(filled.transpose(0, 2, 1), facecolors=colours.transpose(0, 2, 1, 3), edgecolor=(0, 0, 0, 0.3), linewidth=0.3)
        used |= set(np.unique(blocks[filled]).tolist())
        if i == 0:
            for (_name, colour), voxel in zip(PLAYER_MARKS, state.pos[row]):
                x, y, z = core.coords[voxel]
                ax.scatter([x + 0.5], [z + 0.5], [y + 0.5], color=colour, s=60, depthshade=False)
        ax.set(xlim=(0, W), ylim=(0, D), zlim=(0, H), xlabel="x", ylabel="z", zlabel="y (up)", title=title)
        ax.set_box_aspect((W, D, H))
    handles = [Patch(color=BLOCK_COLOURS[b] / 255, label=BLOCK_NAMES[b]) for b in sorted(used)]
    handles += [Line2D([], [], marker="o", linestyle="", color=colour, label=name) for name, colour in PLAYER_MARKS]
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    return figure
