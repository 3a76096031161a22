"""Block palette of the `build` game (the MBAG palette), the world's axes and moves, and
how a voxel's block scores against the goal's (:func:`voxel_score`): what the rules
(:mod:`envs.building.core`) and the heuristics (:mod:`envs.building.heuristics`) share.

A world is a ``[W, H, D]`` uint8 array of block ids indexed ``(x, y, z)``; ``y`` points
up and the layer ``y = 0`` is bedrock. A preset with ``num_block_types = n`` uses the
first ``n`` names of :data:`BLOCK_NAMES`; the placeable ones are ids ``2 .. n - 1``.
"""

import numpy as np

BLOCK_NAMES: tuple[str, ...] = (
    "air",
    "bedrock",
    "dirt",
    "cobblestone",
    "glass",
    "log",
    "planks",
    "stone",
    "stonebrick",
    "wool",
)
AIR = 0
BEDROCK = 1
FIRST_PLACEABLE = 2
MIN_BLOCK_TYPES = 3
"""air, bedrock and at least one placeable block."""
UNTOUCHED, TOUCHED_BY_HUMAN, TOUCHED_BY_ASSISTANT = 0, 1, 2
"""Values of a voxel's ``touched`` (``BuildState.touched``, the observation's channel 1): who last placed or broke it."""
FACE_OFFSETS = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
"""[6, 3] the six face neighbours' offsets (x, y, z): +x, -x, +y, -y, +z, -z."""
NUM_MOVES = 6
FIRST_MOVE = 1
FIRST_PLACE = FIRST_MOVE + NUM_MOVES
MOVE_NAMES = ("+x", "-x", "+y", "-y", "+z", "-z")
"""Action ids ``FIRST_MOVE ..`` move a player one voxel along these axes, the order of
:data:`FACE_OFFSETS`; placements start at ``FIRST_PLACE`` (the card of :mod:`envs.building.core`)."""


def check_num_block_types(n: int) -> None:
    """Raise a clear error unless ``n`` is a usable palette size."""
    if not MIN_BLOCK_TYPES <= n <= len(BLOCK_NAMES):
        raise ValueError(
            f"num_block_types={n} is out of range: it must be in [{MIN_BLOCK_TYPES}, {len(BLOCK_NAMES)}] "
            f"(the palette is {list(BLOCK_NAMES)})"
        )


def voxel_score(block: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Per-voxel score (int8, same shape): +1 match, -1 wrong non-air block where the goal has a block, else 0."""
    match = block == goal
    wrong = ~match & (block != AIR) & (goal != AIR)
    return match.astype(np.int8) - wrong.astype(np.int8)


def expected_voxel_score(block: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Expected :func:`voxel_score` of ``block`` ([N] ids) under goal probabilities ``probs`` ([N, n])."""
    p_block = probs[np.arange(len(block)), block]
    wrong = 1.0 - probs[:, AIR] - p_block
    return p_block - np.where(block != AIR, wrong, 0.0)
