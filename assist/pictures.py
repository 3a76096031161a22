"""Pictures of a game's state for TensorBoard's Images tab, drawn with matplotlib's object
API (no pyplot, no display: safe in training processes).

:func:`state_picture` draws a `build` state in 3-D, the world built beside its goal, with
the axes labelled, the players marked and a legend of the blocks; other games keep their
core's own ``render_rgb``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from envs.building.blocks import BLOCK_NAMES, FIRST_PLACEABLE
from envs.core import BatchState, GameCore

BLOCK_PALETTE = np.array(
    [(0.55, 0.35, 0.17), (0.45, 0.45, 0.45), (0.55, 0.85, 0.95), (0.85, 0.55, 0.1), (0.95, 0.8, 0.45), (0.2, 0.2, 0.2), (0.5, 0.3, 0.7), (1.0, 1.0, 1.0)]
)
"""RGB in [0, 1] of each placeable block, in palette order from ``FIRST_PLACEABLE`` (dirt,
cobblestone, glass, log, planks, stone, stonebrick, wool): hues far apart, unlike the
browser's near-natural colours, where dirt and log are both brown."""
PLAYER_MARKS = (("human", "tab:red"), ("assistant", "tab:blue"))


def state_picture(core: GameCore, state: BatchState, row: int = 0) -> np.ndarray:
    """[H, W, 3] uint8 picture of game ``row`` of ``state``."""
    if core.name != "build":
        return core.render_rgb(state, row)
    return _build_picture(core, state, row)


def _build_picture(core, state, row: int) -> np.ndarray:
    """The world and the goal side by side in 3-D: x and z on the ground, y up; the
    players as markers in the world; the floor (bedrock, y = 0) left out."""
    figure = Figure(figsize=(8.0, 4.2), dpi=80)
    FigureCanvasAgg(figure)
    used = set()
    for i, (title, grid) in enumerate((("built", state.world[row]), ("goal", state.goal[row]))):
        ax = figure.add_subplot(1, 2, i + 1, projection="3d")
        blocks = grid.reshape(core.shape)[:, 1:, :]  # [W, H - 1, D] without the floor
        filled = blocks >= FIRST_PLACEABLE
        colours = np.zeros(blocks.shape + (4,))
        colours[filled, :3] = BLOCK_PALETTE[blocks[filled] - FIRST_PLACEABLE]
        colours[filled, 3] = 0.9
        # matplotlib's third axis is up: plot (x, z, y)
        ax.voxels(filled.transpose(0, 2, 1), facecolors=colours.transpose(0, 2, 1, 3), edgecolor=(0, 0, 0, 0.3), linewidth=0.3)
        used |= set(np.unique(blocks[filled]).tolist())
        if i == 0:
            for (_name, colour), voxel in zip(PLAYER_MARKS, state.pos[row]):
                x, y, z = core.coords[voxel]
                ax.scatter([x + 0.5], [z + 0.5], [y - 0.5], color=colour, s=60, depthshade=False)
        W, H, D = core.shape
        ax.set(xlim=(0, W), ylim=(0, D), zlim=(0, H - 1), xlabel="x", ylabel="z", zlabel="y (up)", title=title)
        ax.set_box_aspect((W, D, H - 1))
    handles = [Patch(color=BLOCK_PALETTE[b - FIRST_PLACEABLE], label=BLOCK_NAMES[b]) for b in sorted(used)]
    handles += [Line2D([], [], marker="o", linestyle="", color=colour, label=name) for name, colour in PLAYER_MARKS]
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
