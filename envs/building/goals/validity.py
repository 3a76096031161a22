"""What makes a goal of the `build` game valid.

A *goal* is the target world: a ``[W, H, D]`` uint8 array of block ids indexed
``(x, y, z)`` (``y`` up, see :mod:`envs.building.blocks`). A valid goal (:func:`validate_goal`)

* has bedrock (id 1) on the whole floor layer ``y = 0`` and nowhere else;
* has non-air blocks only strictly inside the border: ``1 <= x <= W-2``,
  ``1 <= y <= H-2``, ``1 <= z <= D-2``, so a ring of air stays free to walk around
  and over the structure;
* uses only ids in ``[0, num_block_types)``;
* has at least one non-air block above the floor;
* is *supported*: every block reaches the floor through a chain of face-adjacent
  blocks of the goal (:func:`unsupported_blocks`). The game places a block only against
  a solid face neighbour (bedrock counts, :mod:`envs.building.core`) and nothing falls when a
  block is broken, so exactly the supported goals can be built from their own blocks,
  bottom-up. Any other goal (a stair step hanging in the air) needs a scaffold placed
  and broken again, which the scripted players never do: every episode on it would run
  to the horizon. :func:`validate_goal` refuses it with :class:`UnsupportedGoalError`;
  :func:`load_goals` can be told to only warn (``unsupported="warn"``) for goals meant
  for people who scaffold.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs.building.blocks import AIR, BEDROCK, BLOCK_NAMES, FACE_OFFSETS, FIRST_PLACEABLE, check_num_block_types

MIN_SHAPE: tuple[int, int, int] = (5, 4, 5)
"""Smallest world the generators fill (the tiny preset): an interior of 3 x 2 x 3."""
MAX_VOXELS = 4096
"""The largest world (W * H * D voxels) of the build game (checked by ``BuildConfig``, so
also in a recording's header: :mod:`assist.recording`), and so of a goal file when no world
is given to check it against: e.g. 16 x 16 x 16; MBAG's world is 1,100. The build core's
tables grow with its square: building the core takes about 150 MB and 0.4 s at MBAG's
size, 1.5 GB and 2.4 s at 16 x 16 x 16."""

Shape = tuple[int, int, int]


class UnsupportedGoalError(ValueError):
    """A goal that is valid but for blocks no chain of face-adjacent blocks joins to the floor."""


def validate_goal(goal: np.ndarray, num_block_types: int) -> None:
    """Raise ValueError saying what is wrong unless ``goal`` is a valid goal.

    goal: ``[W, H, D]`` integer block ids (any integer dtype). The rules are in the
    module docstring; support is checked last, so an :class:`UnsupportedGoalError` means
    every other rule holds.
    """
    check_num_block_types(num_block_types)
    goal = np.asarray(goal)
    if goal.ndim != 3:
        raise ValueError(f"a goal must be a [W, H, D] array of block ids; got shape {goal.shape}")
    if not np.issubdtype(goal.dtype, np.integer):
        raise ValueError(f"a goal must hold integer block ids; got dtype {goal.dtype}")
    if min(goal.shape) < 3:
        raise ValueError(
            f"a goal's world must be at least 3 x 3 x 3 to hold a floor, an air border and a block; got {goal.shape}"
        )
    W, H, D = goal.shape
    palette = list(BLOCK_NAMES[:num_block_types])
    _reject(
        (goal < 0) | (goal >= num_block_types),
        goal,
        f"is outside the palette of {num_block_types} block types {palette}: ids must be in "
        f"[0, {num_block_types - 1}] (raise num_block_types or use another block)",
    )
    floor = np.zeros(goal.shape, bool)
    floor[:, 0, :] = True
    _reject(floor & (goal != BEDROCK), goal, f"is on the floor layer y=0, which must be all bedrock (id {BEDROCK})")
    _reject(~floor & (goal == BEDROCK), goal, "is above the floor: bedrock belongs only to the floor layer y=0")
    inside = np.zeros(goal.shape, bool)
    inside[1:-1, 1:-1, 1:-1] = True
    _reject(
        ~floor & ~inside & (goal != AIR),
        goal,
        f"is outside the border: non-air blocks need 1 <= x <= {W - 2}, 1 <= y <= {H - 2}, "
        f"1 <= z <= {D - 2} (a ring of air stays free around and over the structure)",
    )
    if not (goal[:, 1:, :] != AIR).any():
        raise ValueError(
            f"the goal has no blocks above the floor: place at least one block (ids "
            f"{FIRST_PLACEABLE}..{num_block_types - 1}) inside the border"
        )
    _reject(
        unsupported_blocks(goal),
        goal,
        "is not supported: no chain of face-adjacent blocks joins it to the floor, so it can be placed only "
        "against a scaffold broken again later, which the scripted players never build; join it to the structure",
        UnsupportedGoalError,
    )


def unsupported_blocks(goal: np.ndarray) -> np.ndarray:
    """[W, H, D] bool: the non-air blocks of ``goal`` ([W, H, D] ids) that no chain of
    face-adjacent non-air blocks joins to the floor layer ``y = 0``.

    A breadth-first search from the floor, one vectorized step per unit of distance along
    the structure: cheap enough to run on every goal loaded or validated.
    """
    solid = np.pad(np.asarray(goal) != AIR, 1)  # an air margin: flat neighbours never wrap around an edge
    flat = solid.ravel()
    offsets = FACE_OFFSETS @ (np.array(solid.strides) // solid.itemsize)  # [6] flat index offsets
    reached = np.zeros_like(flat)
    floor = np.zeros_like(solid)
    floor[:, 1, :] = solid[:, 1, :]
    frontier = np.flatnonzero(floor)
    reached[frontier] = True
    while frontier.size:
        neighbours = np.unique((frontier[:, None] + offsets).ravel())
        frontier = neighbours[flat[neighbours] & ~reached[neighbours]]
        reached[frontier] = True
    return (flat & ~reached).reshape(solid.shape)[1:-1, 1:-1, 1:-1]


def _reject(bad: np.ndarray, goal: np.ndarray, why: str, error: type[ValueError] = ValueError) -> None:
    """Raise ``error("block <name> (id i) at (x, y, z) <why>")`` for the first voxel of ``bad`` ([W, H, D] bool)."""
    if bad.any():
        x, y, z = (int(c) for c in np.argwhere(bad)[0])
        block = int(goal[x, y, z])
        name = BLOCK_NAMES[block] if 0 <= block < len(BLOCK_NAMES) else "?"
        more = int(bad.sum()) - 1
        also = f" [and {more} more]" if more else ""
        raise error(f"block {name} (id {block}) at (x, y, z) = ({x}, {y}, {z}) {why}{also}")


def check_shape(shape: Sequence[int]) -> Shape:
    """``shape`` as a tuple of 3 ints, or a ValueError unless it is at least :data:`MIN_SHAPE`."""
    shape = tuple(shape)
    if len(shape) != 3 or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape):
        raise ValueError(f"a world shape is 3 ints (W, H, D); got {shape!r}")
    if any(s < m for s, m in zip(shape, MIN_SHAPE)):
        raise ValueError(
            f"world shape {shape} is too small for the goal generators: each axis needs at least "
            f"MIN_SHAPE = {MIN_SHAPE} (the tiny preset), i.e. an interior of 3 x 2 x 3 inside the air border"
        )
    return tuple(int(s) for s in shape)
