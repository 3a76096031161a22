"""Block palette of the `build` game (the MBAG palette) and the world's axes.

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
FACE_OFFSETS = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
"""[6, 3] the six face neighbours' offsets (x, y, z): +x, -x, +y, -y, +z, -z."""


def check_num_block_types(n: int) -> None:
    """Raise a clear error unless ``n`` is a usable palette size."""
    if not MIN_BLOCK_TYPES <= n <= len(BLOCK_NAMES):
        raise ValueError(
            f"num_block_types={n} is out of range: it must be in [{MIN_BLOCK_TYPES}, {len(BLOCK_NAMES)}] "
            f"(the palette is {list(BLOCK_NAMES)})"
        )
