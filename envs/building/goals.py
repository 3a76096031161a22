"""Goals of the `build` game: procedural generators, a train/test split and a file format.

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

Generator card
--------------
Seven families, each a pure function ``family(rng, shape, num_block_types, params_range=None)``
returning one ``[W, H, D]`` uint8 goal. Everything random (size, materials, a quarter turn
about the y axis, placement inside the border) is drawn from ``rng``. Every structure is
*supported*: each block touches the floor through a chain of face-adjacent blocks.
Structural materials are drawn from the placeable ids ``2 .. n-1`` except glass, distinct
while the palette allows (with one placeable id every structure is monochrome); glass
(id 4, when ``n > 4``) is used only for windows.

============  ==========================================================  ==================
family        structure                                                   params (fractions)
============  ==========================================================  ==================
house         hollow walls, solid stepped roof, a door gap in the front    size, height
              wall, one window in each other wall (glass, else the roof
              material)
tower         1x1..3x3 column with a cap; 3x3 ones 3+ tall are hollow     height
              with a glass window and sometimes battlements
wall          1-2 thick wall patterned with 2 materials: columns, rows    length, height
              or checker, stripes 1 or 2 blocks wide
pyramid       stepped pyramid or staircase, one material or alternating   size
              layers
bridge        two pillars and a deck spanning them (air underneath),      length, height
              with arch corbels when long and tall enough
furniture     one table (4 legs and a top), chair (seat and back) or bed  size
              (mattress, pillow, sometimes a headboard)
random        grown block by block from 1-2 floor seeds, each new block   size (of the
              face-adjacent to the structure (straight runs favoured),    interior volume)
              coloured by one of four rules: one material, caps, one per
              seed, alternating layers
============  ==========================================================  ==================

``params_range`` maps each parameter to a half-open interval ``(lo, hi]`` of fractions of
the interior (``W-2``, ``H-2`` or ``D-2`` along the parameter's axis), with
``0 <= lo < hi <= 1``: the drawn size ``s`` satisfies ``lo * n < s <= hi * n``, raised to
the family's minimum when the interval holds none. Interior fractions make every family
scale from the tiny preset ``(5, 4, 5)`` (:data:`MIN_SHAPE`, interior 3 x 2 x 3) to MBAG's
``(11, 10, 10)`` and beyond. ``None`` means the full range :data:`FULL_RANGES`.

Split
-----
:data:`SPLITS` maps a split name to ``{family: params_range}``:

* ``"train"``: house, wall, pyramid over their full ranges, and tower with
  ``height`` in ``(0, 0.5]``, i.e. at most ``(H-2) // 2`` blocks tall;
* ``"test"`` (held out): the families bridge and furniture, never seen in training, and
  tall towers, ``height`` in ``(0.5, 1]``, i.e. at least ``(H-2) // 2 + 1`` blocks tall,
  a parameter range training never produces;
* ``"train_wide"``: ``"train"`` plus ``random`` structures up to half the interior, a
  broad prior for training beliefs that must work on unseen families. ``random`` is
  shapeless by design, so it can produce a structure that a held-out family also makes
  (e.g. two pillars under a deck); no held-out generator is ever sampled;
* ``"all"``: every family over its full range.

So a test goal is either of a family train never samples, or a tower taller than any
train tower.

Goal files
----------
:func:`save_goals` writes and :func:`load_goals` reads, chosen by suffix. Files are parsed,
never evaluated (no pickle).

``.npy``
    One integer array, ``[W, H, D]`` (one goal) or ``[N, W, H, D]``, of block ids.
``.npz``
    An archive with the key ``goals`` holding such an array (other keys are ignored).
``.json``
    One goal object, or ``{"goals": [object, ...]}`` for several goals of one size::

        {
          "format": "assist-goal/v1",
          "size": [7, 6, 7],
          "palette": ["air", "bedrock", "planks", "glass"],
          "blocks": [
            [2, 1, 3, "planks"],
            [2, 2, 3, "glass"]
          ]
        }

    ``format`` must be ``"assist-goal/v1"``. ``size`` is ``[W, H, D]``. ``palette``
    lists the block names the goal uses, each one of :data:`~envs.building.blocks.BLOCK_NAMES`
    (``air``, ``bedrock``, ``dirt``, ``cobblestone``, ``glass``, ``log``, ``planks``,
    ``stone``, ``stonebrick``, ``wool``). ``blocks`` is a sparse list of
    ``[x, y, z, name]`` with integer coordinates, each voxel at most once, every name in
    ``palette``; unlisted voxels are air. The bedrock floor ``y = 0`` is implied and
    must not be listed, so ``1 <= y <= H-2``, ``1 <= x <= W-2``, ``1 <= z <= D-2``.
    Other keys (e.g. ``"name"``) are ignored.

A name's block id is its index in ``BLOCK_NAMES`` (air 0, bedrock 1, dirt 2, ...); a world
with ``num_block_types = n`` accepts ids below ``n`` only. Every malformed file raises a
ValueError naming the file, what was wrong and what is expected.

Sizes are checked before anything is allocated: the shape in a ``.npy`` header (for
``.npz``, the header of the ``goals`` member, whose uncompressed size is checked before it
is decompressed) and every JSON ``size`` must be the world the goals are loaded for (of at
most :data:`MAX_VOXELS` voxels when none is given); a file holds at most
:data:`MAX_FILE_VOXELS` voxels, a ``.json`` file at most :data:`MAX_JSON_BYTES` bytes, and
JSON nested deeper than the parser allows is refused.
"""

from __future__ import annotations

import json
import math
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from envs.building.blocks import AIR, BEDROCK, BLOCK_NAMES, FACE_OFFSETS, FIRST_PLACEABLE, check_num_block_types

GLASS = BLOCK_NAMES.index("glass")
MIN_SHAPE: tuple[int, int, int] = (5, 4, 5)
"""Smallest world the generators fill (the tiny preset): an interior of 3 x 2 x 3."""
MAX_VOXELS = 4096
"""The largest world (W * H * D voxels) of the build game (checked by ``BuildConfig``, so
also in a recording's header: :mod:`assist.recording`), and so of a goal file when no world
is given to check it against: e.g. 16 x 16 x 16; MBAG's world is 1,100. The build core's
tables grow with its square: building the core takes about 150 MB and 0.4 s at MBAG's
size, 1.5 GB and 2.4 s at 16 x 16 x 16."""
MAX_FILE_VOXELS = 2**25
"""The most voxels (N * W * H * D) one goal file may hold: about 30,000 goals of MBAG's size."""
MAX_JSON_BYTES = 2**27
"""The largest ``.json`` goal file read: 128 MiB."""
JSON_FORMAT = "assist-goal/v1"
SUFFIXES = (".npy", ".npz", ".json")

Range = tuple[float, float]
"""``(lo, hi]``: fractions of the interior along one axis."""
Shape = tuple[int, int, int]
Params = Mapping[str, Range]
"""A family's ``params_range``: parameter name -> Range."""

FULL_RANGES: dict[str, dict[str, Range]] = {
    "house": {"size": (0.0, 1.0), "height": (0.0, 1.0)},
    "tower": {"height": (0.0, 1.0)},
    "wall": {"length": (0.0, 1.0), "height": (0.0, 1.0)},
    "pyramid": {"size": (0.0, 1.0)},
    "bridge": {"length": (0.0, 1.0), "height": (0.0, 1.0)},
    "furniture": {"size": (0.0, 1.0)},
    "random": {"size": (0.0, 1.0)},
}
"""Each family's parameters and their full ranges (fractions of the interior)."""

_TRAIN: dict[str, dict[str, Range]] = {
    "house": FULL_RANGES["house"],
    "tower": {"height": (0.0, 0.5)},
    "wall": FULL_RANGES["wall"],
    "pyramid": FULL_RANGES["pyramid"],
}
SPLITS: dict[str, dict[str, dict[str, Range]]] = {
    "train": _TRAIN,
    "test": {
        "bridge": FULL_RANGES["bridge"],
        "furniture": FULL_RANGES["furniture"],
        "tower": {"height": (0.5, 1.0)},
    },
    "train_wide": {**_TRAIN, "random": {"size": (0.0, 0.5)}},
    "all": FULL_RANGES,
}
"""split -> {family: params_range}; see the module docstring."""


# ----------------------------------------------------------------------------- validity


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


def _check_shape(shape: Sequence[int]) -> Shape:
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


# ----------------------------------------------------------------------------- helpers


def _ranges(family: str, params_range: Params | None) -> dict[str, Range]:
    """The family's params_range (its full range when None), checked: same keys, 0 <= lo < hi <= 1."""
    full = FULL_RANGES[family]
    if params_range is None:
        return full
    if set(params_range) != set(full):
        raise ValueError(
            f"{family}'s params_range must have exactly the keys {sorted(full)}; got {sorted(params_range)}"
        )
    for key, (lo, hi) in params_range.items():
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"{family}'s params_range[{key!r}] = ({lo}, {hi}) must satisfy 0 <= lo < hi <= 1")
    return dict(params_range)


def _draw(rng: np.random.Generator, fractions: Range, n: int, at_least: int = 1) -> int:
    """An int ``s`` with ``lo * n < s <= hi * n`` (at least ``at_least``, at most ``n``), uniform."""
    lo = max(at_least, math.floor(fractions[0] * n) + 1)
    hi = max(lo, min(n, math.floor(fractions[1] * n)))
    return int(rng.integers(lo, hi + 1))


def _frame(rng: np.random.Generator, shape: Sequence[int], num_block_types: int) -> tuple[Shape, int, Shape]:
    """Check the world and draw a quarter turn about y: ``(shape, quarter, (w, h, d))``.

    ``(w, h, d)`` is the interior in the structure's own frame (x and z swapped for odd
    turns), so a part built within it fits the world once turned by :func:`_paste`.
    """
    W, H, D = world = _check_shape(shape)
    check_num_block_types(num_block_types)
    quarter = int(rng.integers(4))
    return world, quarter, ((D - 2, H - 2, W - 2) if quarter % 2 else (W - 2, H - 2, D - 2))


def _paste(rng: np.random.Generator, shape: Shape, part: np.ndarray, quarter: int) -> np.ndarray:
    """A goal: ``part`` ([w, h, d] ids, turned ``quarter`` times) on the floor at a random spot inside the border."""
    W, H, D = shape
    part = np.rot90(part, quarter, axes=(0, 2))
    pw, ph, pd = part.shape
    x0 = 1 + int(rng.integers(W - 2 - pw + 1))
    z0 = 1 + int(rng.integers(D - 2 - pd + 1))
    goal = np.zeros(shape, np.uint8)
    goal[:, 0, :] = BEDROCK
    goal[x0 : x0 + pw, 1 : 1 + ph, z0 : z0 + pd] = part
    return goal


def _materials(rng: np.random.Generator, num_block_types: int, k: int) -> np.ndarray:
    """[k] structural block ids: placeable, not glass, distinct while the palette allows."""
    ids = np.arange(FIRST_PLACEABLE, num_block_types)
    return np.resize(rng.permutation(ids[ids != GLASS]), k)


def _inset(w: int, d: int) -> np.ndarray:
    """[w, d] ints: each column's distance to the nearest edge of a w x d footprint."""
    x = np.arange(w)[:, None]
    z = np.arange(d)[None, :]
    return np.minimum(np.minimum(x, w - 1 - x), np.minimum(z, d - 1 - z))


# ----------------------------------------------------------------------------- families


def house(
    rng: np.random.Generator, shape: Shape, num_block_types: int, params_range: Params | None = None
) -> np.ndarray:
    """A house: hollow walls, a solid stepped roof, a door gap and windows. [W, H, D] uint8.

    params: ``size`` (footprint, at least 3 x 3), ``height`` (walls and roof, at least 2).
    """
    p = _ranges("house", params_range)
    world, quarter, (w, h, d) = _frame(rng, shape, num_block_types)
    fw, fd, hh = _draw(rng, p["size"], w, 3), _draw(rng, p["size"], d, 3), _draw(rng, p["height"], h, 2)
    walls, roof = _materials(rng, num_block_types, 2)
    window = GLASS if num_block_types > GLASS else roof
    roof_layers = int(rng.integers(1, min(hh - 1, (min(fw, fd) + 1) // 2) + 1))
    wall_h = hh - roof_layers
    part = np.zeros((fw, hh, fd), np.uint8)
    part[:, :wall_h, :] = walls
    part[1:-1, :wall_h, 1:-1] = AIR
    y = np.arange(hh)[None, :, None]
    roof_top = wall_h + np.minimum(_inset(fw, fd), roof_layers - 1)[:, None, :]
    part[(y >= wall_h) & (y <= roof_top)] = roof
    part[int(rng.integers(1, fw - 1)), : min(2, wall_h), 0] = AIR
    sill = min(1, wall_h - 1)
    part[int(rng.integers(1, fw - 1)), sill, fd - 1] = window
    part[0, sill, int(rng.integers(1, fd - 1))] = window
    part[fw - 1, sill, int(rng.integers(1, fd - 1))] = window
    return _paste(rng, world, part, quarter)


def tower(
    rng: np.random.Generator, shape: Shape, num_block_types: int, params_range: Params | None = None
) -> np.ndarray:
    """A 1x1..3x3 tower with a cap; 3x3 ones are hollow with a window. [W, H, D] uint8.

    params: ``height`` (the whole tower, cap included).
    """
    p = _ranges("tower", params_range)
    world, quarter, (w, h, d) = _frame(rng, shape, num_block_types)
    th = _draw(rng, p["height"], h)
    tw, td = int(rng.integers(1, min(3, w) + 1)), int(rng.integers(1, min(3, d) + 1))
    body, cap = _materials(rng, num_block_types, 2)
    part = np.full((tw, th, td), body, np.uint8)
    part[:, -1, :] = cap
    if tw == td == 3 and th >= 3:
        part[1, :-1, 1] = AIR
        if num_block_types > GLASS:
            part[1, th // 2, 0] = GLASS
        if rng.random() < 0.5:
            x, z = np.indices((tw, td))
            part[:, -1, :][((x + z) % 2 == 1) | ((x == 1) & (z == 1))] = AIR
    return _paste(rng, world, part, quarter)


def wall(
    rng: np.random.Generator, shape: Shape, num_block_types: int, params_range: Params | None = None
) -> np.ndarray:
    """A 1-2 thick wall in a 2-material pattern (columns, rows or checker). [W, H, D] uint8.

    params: ``length`` (at least 2), ``height``.
    """
    p = _ranges("wall", params_range)
    world, quarter, (w, h, d) = _frame(rng, shape, num_block_types)
    length, wh = _draw(rng, p["length"], w, 2), _draw(rng, p["height"], h)
    thick = int(rng.integers(1, min(2, d) + 1))
    a, b = _materials(rng, num_block_types, 2)
    x, y, z = np.indices((length, wh, thick))
    stripe = int(rng.integers(1, 3))
    patterns = (x // stripe, y // stripe, x // stripe + y // stripe + z)
    part = np.where(patterns[int(rng.integers(3))] % 2 == 0, a, b).astype(np.uint8)
    return _paste(rng, world, part, quarter)


def pyramid(
    rng: np.random.Generator, shape: Shape, num_block_types: int, params_range: Params | None = None
) -> np.ndarray:
    """A stepped pyramid or a staircase, plain or in alternating layers. [W, H, D] uint8.

    params: ``size`` (footprint, at least 2 x 2).
    """
    p = _ranges("pyramid", params_range)
    world, quarter, (w, h, d) = _frame(rng, shape, num_block_types)
    bw, bd = _draw(rng, p["size"], w, 2), _draw(rng, p["size"], d, 2)
    mats = _materials(rng, num_block_types, 2)
    layer_mats = mats[np.arange(h) % 2] if rng.random() < 0.5 else np.full(h, mats[0])
    if rng.random() < 0.5:
        heights = _inset(bw, bd) + 1
    else:
        heights = np.broadcast_to(np.arange(1, bw + 1)[:, None], (bw, bd))
    y = np.arange(h)[None, :, None]
    part = np.where(y < np.minimum(heights, h)[:, None, :], layer_mats[None, :, None], AIR).astype(np.uint8)
    return _paste(rng, world, part, quarter)


def bridge(
    rng: np.random.Generator, shape: Shape, num_block_types: int, params_range: Params | None = None
) -> np.ndarray:
    """Two pillars and a deck spanning them, air underneath, arch corbels if room. [W, H, D] uint8.

    params: ``length`` (at least 3), ``height`` (deck included, at least 2).
    """
    p = _ranges("bridge", params_range)
    world, quarter, (w, h, d) = _frame(rng, shape, num_block_types)
    length, bh = _draw(rng, p["length"], w, 3), _draw(rng, p["height"], h, 2)
    pillar, deck = _materials(rng, num_block_types, 2)
    part = np.zeros((length, bh, int(rng.integers(1, min(2, d) + 1))), np.uint8)
    part[[0, -1], :, :] = pillar
    part[:, -1, :] = deck
    if length >= 5 and bh >= 3:
        part[[1, -2], -2, :] = pillar
    return _paste(rng, world, part, quarter)


def furniture(
    rng: np.random.Generator, shape: Shape, num_block_types: int, params_range: Params | None = None
) -> np.ndarray:
    """One table, chair or bed. [W, H, D] uint8.

    params: ``size`` (table footprint at least 2 x 2, chair width up to 2, bed length at least 2).
    """
    p = _ranges("furniture", params_range)
    world, quarter, (w, h, d) = _frame(rng, shape, num_block_types)
    main, trim = _materials(rng, num_block_types, 2)
    kind = int(rng.integers(3))
    if kind == 0:  # table: a top on four legs
        tw, td, th = _draw(rng, p["size"], w, 2), _draw(rng, p["size"], d, 2), int(rng.integers(2, min(3, h) + 1))
        part = np.zeros((tw, th, td), np.uint8)
        part[:, -1, :] = main
        part[np.ix_([0, tw - 1], np.arange(th - 1), [0, td - 1])] = trim
    elif kind == 1:  # chair: a seat and a back
        part = np.zeros((min(2, _draw(rng, p["size"], w)), int(rng.integers(2, min(3, h) + 1)), 2), np.uint8)
        part[:, 0, 0] = main
        part[:, :, 1] = trim
    else:  # bed: a mattress with a pillow and maybe a headboard
        length, width = _draw(rng, p["size"], w, 2), int(rng.integers(1, min(2, d) + 1))
        part = np.zeros((length, int(rng.integers(1, 3)), width), np.uint8)
        part[:, 0, :] = main
        part[0, :, :] = trim
    return _paste(rng, world, part, quarter)


def random_structure(
    rng: np.random.Generator, shape: Shape, num_block_types: int, params_range: Params | None = None
) -> np.ndarray:
    """A structure grown block by block from 1-2 floor seeds. [W, H, D] uint8.

    Each new block is face-adjacent to one already placed (so the whole is supported);
    half the time it continues the last block's direction, which makes straight runs. The
    colouring is one of: one material, each column's top block in a second material
    (caps, decks), one material per seed's growth, alternating layers.

    params: ``size`` (blocks, as a fraction of the interior's volume; at least 2).
    """
    p = _ranges("random", params_range)
    world, quarter, (w, h, d) = _frame(rng, shape, num_block_types)
    blocks = _draw(rng, p["size"], w * h * d, 2)
    seeds = rng.choice(w * d, size=min(int(rng.integers(1, 3)), blocks), replace=False)
    owner = np.full((w, h, d), -1)
    placed = [np.array([s // d, 0, s % d]) for s in seeds]
    for i, at in enumerate(placed):
        owner[tuple(at)] = i
    direction = FACE_OFFSETS[int(rng.integers(len(FACE_OFFSETS)))]
    while len(placed) < blocks:
        last = placed[-1]
        if rng.random() < 0.5:
            last, direction = placed[int(rng.integers(len(placed)))], FACE_OFFSETS[int(rng.integers(len(FACE_OFFSETS)))]
        at = last + direction
        if np.all((0 <= at) & (at < (w, h, d))) and owner[tuple(at)] < 0:
            owner[tuple(at)] = owner[tuple(last)]
            placed.append(at)
        else:
            direction = FACE_OFFSETS[int(rng.integers(len(FACE_OFFSETS)))]
    a, b = _materials(rng, num_block_types, 2)
    solid = owner >= 0
    top = solid & ~np.concatenate([solid[:, 1:], np.zeros((w, 1, d), bool)], axis=1)
    second = (np.zeros_like(solid), top, owner == 1, (np.arange(h) % 2 == 1)[None, :, None])[int(rng.integers(4))]
    part = np.where(solid, np.where(second, b, a), AIR).astype(np.uint8)
    return _paste(rng, world, part, quarter)


Family = Callable[[np.random.Generator, Shape, int, Params | None], np.ndarray]
FAMILIES: dict[str, Family] = {
    "house": house,
    "tower": tower,
    "wall": wall,
    "pyramid": pyramid,
    "bridge": bridge,
    "furniture": furniture,
    "random": random_structure,
}
"""family name -> generator function."""


# ----------------------------------------------------------------------------- sampler


class GoalGenerator:
    """Samples goals of one world shape from a split's families, uniformly over families.

    shape: ``(W, H, D)``, at least :data:`MIN_SHAPE`. num_block_types: the palette size.
    split: ``"train"``, ``"test"`` or ``"all"`` (see :data:`SPLITS`). families: a name or
    names to restrict to (each must belong to the split); None for all of the split's.
    """

    def __init__(
        self,
        shape: Sequence[int],
        num_block_types: int,
        split: str = "train",
        families: str | Iterable[str] | None = None,
    ):
        self.shape = _check_shape(shape)
        check_num_block_types(num_block_types)
        self.num_block_types = num_block_types
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; the splits are {list(SPLITS)}")
        self.split = split
        in_split = SPLITS[split]
        names = list(in_split) if families is None else [families] if isinstance(families, str) else list(families)
        unknown = [f for f in names if f not in FAMILIES]
        if unknown:
            raise ValueError(f"unknown goal families {unknown}; the families are {list(FAMILIES)}")
        outside = [f for f in names if f not in in_split]
        if outside:
            raise ValueError(
                f"families {outside} are not in split {split!r}, whose families are {list(in_split)}; "
                f"pick from those or use split='all'"
            )
        if not names:
            raise ValueError(f"families is empty; give at least one of {list(in_split)} or None for all of them")
        self.families: tuple[str, ...] = tuple(names)
        self.params: dict[str, dict[str, Range]] = {f: in_split[f] for f in names}

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` goals, ``[n, W, H, D]`` uint8; deterministic given ``rng``'s state."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(0)); got {type(rng).__name__}"
            )
        if n < 0:
            raise ValueError(f"n must be >= 0; got {n}")
        goals = np.empty((n, *self.shape), np.uint8)
        for i, pick in enumerate(rng.integers(len(self.families), size=n)):
            family = self.families[pick]
            goals[i] = FAMILIES[family](rng, self.shape, self.num_block_types, self.params[family])
        return goals


def split_overlap(
    shape: Sequence[int], num_block_types: int, held_out: str = "test", train: str = "train", samples: int = 20000, seed: int = 0
) -> dict[str, float]:
    """How new a held-out split really is: per family of ``held_out`` (and ``"all"`` of it),
    the fraction of ``samples`` goals drawn from it that are among ``samples`` goals drawn
    from ``train``. On small worlds different families can build the same structure (on
    the tiny preset a 2-tall tower can equal a short wall)."""
    rng = np.random.default_rng(seed)
    seen = _drawn(shape, num_block_types, train, samples, rng)
    out = {}
    for name, families in [*((f, f) for f in GoalGenerator(shape, num_block_types, held_out).families), ("all", None)]:
        goals = GoalGenerator(shape, num_block_types, held_out, families).sample(rng, samples)
        out[name] = float(np.mean([goal.tobytes() in seen for goal in goals]))
    return out


def novel_goals(
    shape: Sequence[int], num_block_types: int, held_out: str = "test", train: str = "train", samples: int = 20000, seed: int = 0
) -> np.ndarray:
    """[N, W, H, D] the goals among ``samples`` draws from ``held_out`` that none of
    ``samples`` draws from ``train`` equals (repeats kept, so a goal file of them keeps the
    held-out split's frequencies): held-out goals training can hardly have met."""
    rng = np.random.default_rng(seed)
    seen = _drawn(shape, num_block_types, train, samples, rng)
    goals = GoalGenerator(shape, num_block_types, held_out).sample(rng, samples)
    return goals[[goal.tobytes() not in seen for goal in goals]]


def _drawn(shape: Sequence[int], num_block_types: int, split: str, samples: int, rng: np.random.Generator) -> set[bytes]:
    """The distinct goals (as bytes) among ``samples`` draws from ``split``."""
    return {goal.tobytes() for goal in GoalGenerator(shape, num_block_types, split).sample(rng, samples)}


# ----------------------------------------------------------------------------- files


def save_goals(path: str | Path, goals: np.ndarray, palette_names: Sequence[str] | None = None) -> None:
    """Write goals to ``path`` (``.npy``, ``.npz`` or ``.json``; format in the module docstring).

    goals: ``[W, H, D]`` or ``[N, W, H, D]`` integer block ids. palette_names: the block
    name of each id in ``goals`` (default :data:`BLOCK_NAMES`); names are stored as the
    game's ids, so a custom list re-maps ids (e.g. ``["air", "bedrock", "stone"]`` saves
    id 2 as stone, id 7). Every goal must be valid: a ValueError says which is not.
    """
    path = Path(path)
    suffix = _check_suffix(path)
    goals = np.asarray(goals)
    if goals.ndim not in (3, 4) or not np.issubdtype(goals.dtype, np.integer):
        raise ValueError(
            f"cannot save {path}: goals must be integer [W, H, D] or [N, W, H, D]; got {goals.dtype} {goals.shape}"
        )
    batch = goals[None] if goals.ndim == 3 else goals
    if len(batch) == 0:
        raise ValueError(f"cannot save {path}: there are no goals")
    names = tuple(BLOCK_NAMES if palette_names is None else palette_names)
    unknown = [name for name in names if name not in BLOCK_NAMES]
    if unknown or names[:2] != BLOCK_NAMES[:2] or len(set(names)) != len(names):
        raise ValueError(
            f"cannot save {path}: palette_names {list(names)} must be distinct names from {list(BLOCK_NAMES)} "
            f"starting with 'air', 'bedrock'"
        )
    if batch.min() < 0 or batch.max() >= len(names):
        raise ValueError(
            f"cannot save {path}: ids must be in [0, {len(names) - 1}] to have a name in palette_names {list(names)}"
        )
    batch = np.array([BLOCK_NAMES.index(name) for name in names], np.uint8)[batch]
    for i, goal in enumerate(batch):
        try:
            validate_goal(goal, len(BLOCK_NAMES))
        except ValueError as e:
            raise ValueError(f"cannot save {path}: goal {i} is not a valid goal: {e}") from None
    if suffix == ".npy":
        np.save(path, batch if goals.ndim == 4 else batch[0])
    elif suffix == ".npz":
        np.savez_compressed(path, goals=batch)
    else:
        objects = [_goal_to_json(goal) for goal in batch]
        text = objects[0] if goals.ndim == 3 else '{"goals": [\n' + ",\n".join(objects) + "\n]}"
        path.write_text(text + "\n", encoding="utf-8")


def load_goals(
    path: str | Path, shape: Sequence[int] | None = None, num_block_types: int | None = None, unsupported: str = "error"
) -> np.ndarray:
    """Read goals from ``path``: ``[N, W, H, D]`` uint8 (format in the module docstring).

    shape: the world ``(W, H, D)`` the goals must have (None: any up to :data:`MAX_VOXELS`
    voxels, but one for all). num_block_types: the palette size the ids must fit (None:
    the whole palette). unsupported: ``"error"`` refuses a goal with unsupported blocks
    (module docstring); ``"warn"`` keeps it with a warning naming the file, the goal and
    the block, for goals meant for people, who can build on a scaffold.
    Raises ValueError naming the file and the problem for any malformed or invalid goal;
    sizes are checked before anything is allocated.
    """
    path = Path(path)
    suffix = _check_suffix(path)
    if unsupported not in ("error", "warn"):
        raise ValueError(f"unsupported={unsupported!r} must be 'error' or 'warn'")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such goal file")
    n = len(BLOCK_NAMES) if num_block_types is None else num_block_types
    check_num_block_types(n)
    world = None if shape is None else tuple(int(s) for s in shape)
    goals = {".npy": _read_npy, ".npz": _read_npz, ".json": _read_json}[suffix](path, world)
    for i, goal in enumerate(goals):
        try:
            validate_goal(goal, n)
        except UnsupportedGoalError as e:
            if unsupported == "error":
                raise UnsupportedGoalError(f"{path}: goal {i} is not a valid goal: {e}") from None
            warnings.warn(f"{path}: goal {i} can be built only on a scaffold: {e}", stacklevel=2)
        except ValueError as e:
            raise ValueError(f"{path}: goal {i} is not a valid goal: {e}") from None
    return goals.astype(np.uint8)


def _check_suffix(path: Path) -> str:
    """``path``'s suffix, or a ValueError unless it is one of :data:`SUFFIXES`."""
    if path.suffix not in SUFFIXES:
        raise ValueError(f"{path}: unknown goal file type {path.suffix!r}; expected one of {list(SUFFIXES)}")
    return path.suffix


def _check_declared(path: Path, shape: tuple[int, ...], world: Shape | None) -> None:
    """A ValueError unless goals of the declared ``shape`` ``[N, W, H, D]`` are of ``world``
    (when None: of at most :data:`MAX_VOXELS` voxels) and hold at most
    :data:`MAX_FILE_VOXELS` voxels in all; called before the goals are read."""
    size, voxels = tuple(shape[1:]), math.prod(shape[1:])
    if world is not None and size != world:
        raise ValueError(
            f"{path}: goals have world size (W, H, D) = {size} but this world is {world}; "
            f"make goals of that size or use a world of the file's size"
        )
    if world is None and voxels > MAX_VOXELS:
        raise ValueError(
            f"{path}: goals declare a world of {size}, {voxels:,} voxels; a goal file may declare at most "
            f"MAX_VOXELS = {MAX_VOXELS:,} (e.g. 16 x 16 x 16)"
        )
    if shape[0] * voxels > MAX_FILE_VOXELS:
        raise ValueError(
            f"{path}: {shape[0]:,} goals of {size} are {shape[0] * voxels:,} voxels, more than one goal file may hold "
            f"(MAX_FILE_VOXELS = {MAX_FILE_VOXELS:,}); split them into several files"
        )


def _check_header(path: Path, shape: tuple[int, ...], dtype: np.dtype, what: str, world: Shape | None) -> None:
    """A ValueError unless a .npy header's ``shape`` and ``dtype`` are integer goals that fit (:func:`_check_declared`)."""
    if dtype.hasobject:
        raise ValueError(f"{path}: {what} holds Python objects; pickled objects are refused: save integer block ids")
    if not np.issubdtype(dtype, np.integer):
        raise ValueError(f"{path}: {what} has dtype {dtype}; expected integer block ids")
    if len(shape) not in (3, 4):
        raise ValueError(f"{path}: {what} has shape {shape}; expected [W, H, D] (one goal) or [N, W, H, D]")
    if len(shape) == 4 and shape[0] == 0:
        raise ValueError(f"{path}: {what} holds no goals (N = 0); expected at least one")
    _check_declared(path, shape if len(shape) == 4 else (1, *shape), world)


_UNREADABLE = (ValueError, OSError, EOFError, RuntimeError, zipfile.BadZipFile)
"""What reading a damaged, encrypted or foreign .npy / .npz raises."""
_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _read_npy_data(path: Path, stream: BinaryIO, what: str, world: Shape | None) -> np.ndarray:
    """[N, W, H, D] integer goals of the .npy data in ``stream`` (a file or an archive
    member): the header is read and checked first, the data only then, never unpickled."""
    try:
        version = np.lib.format.read_magic(stream)
        if version not in _NPY_HEADERS:
            raise ValueError(f".npy format version {version} is not supported; write it with np.save")
        shape, _, dtype = _NPY_HEADERS[version](stream)
    except _UNREADABLE as e:
        raise ValueError(f"{path}: {what} is not a readable .npy array of block ids: {e}") from None
    _check_header(path, shape, dtype, what, world)
    try:
        stream.seek(0)
        array = np.lib.format.read_array(stream, allow_pickle=False)
    except _UNREADABLE as e:
        raise ValueError(f"{path}: {what} is not a readable .npy array of block ids: {e}") from None
    return array[None] if array.ndim == 3 else array


def _read_npy(path: Path, world: Shape | None) -> np.ndarray:
    """[N, W, H, D] integer goals of a .npy file."""
    with path.open("rb") as stream:
        return _read_npy_data(path, stream, "the array", world)


def _read_npz(path: Path, world: Shape | None) -> np.ndarray:
    """[N, W, H, D] integer goals under the key ``goals`` of a .npz file; the member's
    size and .npy header are checked before it is decompressed."""
    try:
        archive = zipfile.ZipFile(path)
    except _UNREADABLE as e:
        raise ValueError(f"{path}: not a readable .npz archive of block ids: {e}") from None
    with archive:
        names = archive.namelist()
        if "goals.npy" not in names:
            keys = [name.removesuffix(".npy") for name in names]
            raise ValueError(f"{path}: no key 'goals' in the archive (keys: {keys}); save with np.savez(path, goals=...)")
        member = archive.getinfo("goals.npy")
        limit = 8 * MAX_FILE_VOXELS + 2**16  # 8-byte ids, and room for the header
        if member.file_size > limit:
            raise ValueError(
                f"{path}: 'goals' decompresses to {member.file_size:,} bytes, more than a goal file may hold "
                f"({limit:,}: MAX_FILE_VOXELS ids of 8 bytes)"
            )
        try:
            stream = archive.open(member)
        except _UNREADABLE as e:
            raise ValueError(f"{path}: 'goals' cannot be read from the archive: {e}") from None
        with stream:
            return _read_npy_data(path, stream, "goals", world)


def _read_json(path: Path, world: Shape | None) -> np.ndarray:
    """[N, W, H, D] int64 goals of a .json file (one goal object or {"goals": [...]});
    sizes are checked before any goal is allocated."""
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise ValueError(
            f"{path}: {size:,} bytes, more than a .json goal file may hold (MAX_JSON_BYTES = {MAX_JSON_BYTES:,}); "
            f"save many goals as .npz"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply to parse; a goal file nests 5 levels deep at most") from None
    except ValueError as e:
        raise ValueError(f"{path}: not valid UTF-8 JSON: {e}") from None
    if isinstance(data, dict) and "goals" in data and "format" not in data:
        if not isinstance(data["goals"], list) or not data["goals"]:
            raise ValueError(f'{path}: "goals" must be a non-empty list of goal objects')
        named = [(obj, f"{path}: goals[{i}]") for i, obj in enumerate(data["goals"])]
    else:
        named = [(data, str(path))]
    sizes = sorted({_json_size(obj, where) for obj, where in named})
    if len(sizes) > 1:
        raise ValueError(f"{path}: goals in one file must share one size; found sizes {sizes}")
    _check_declared(path, (len(named), *sizes[0]), world)
    return np.stack([_goal_from_json(obj, where) for obj, where in named])


def _json_size(obj: object, where: str) -> Shape:
    """The ``size`` (W, H, D) a JSON goal object declares, after its keys and format are
    checked; ``where`` prefixes every error."""
    keys = ("format", "size", "palette", "blocks")
    if not isinstance(obj, dict):
        raise ValueError(
            f'{where}: expected a goal object with keys {list(keys)} (or {{"goals": [...]}}); got {type(obj).__name__}'
        )
    missing = [k for k in keys if k not in obj]
    if missing:
        raise ValueError(f"{where}: missing keys {missing}; a goal object needs {list(keys)}")
    if obj["format"] != JSON_FORMAT:
        raise ValueError(f"{where}: format is {obj['format']!r}; expected {JSON_FORMAT!r}")
    size = obj["size"]
    if not (isinstance(size, list) and len(size) == 3 and all(_is_int(s) and s >= 3 for s in size)):
        raise ValueError(f"{where}: size is {size!r}; expected [W, H, D], 3 ints each >= 3")
    return tuple(size)


def _goal_from_json(obj: dict, where: str) -> np.ndarray:
    """[W, H, D] int64 goal of one JSON goal object whose size :func:`_json_size` checked;
    ``where`` prefixes every error."""
    size, palette, blocks = obj["size"], obj["palette"], obj["blocks"]
    if not (isinstance(palette, list) and all(isinstance(name, str) for name in palette)):
        raise ValueError(
            f'{where}: palette is {palette!r}; expected a list of block names like ["air", "bedrock", "planks"]'
        )
    unknown = [name for name in palette if name not in BLOCK_NAMES]
    if unknown:
        raise ValueError(f"{where}: unknown block names {unknown} in palette; the known blocks are {list(BLOCK_NAMES)}")
    if not isinstance(blocks, list):
        raise ValueError(f"{where}: blocks is {type(blocks).__name__}; expected a list of [x, y, z, name]")
    W, H, D = size
    for i, entry in enumerate(blocks):
        well_formed = isinstance(entry, list) and len(entry) == 4 and isinstance(entry[3], str)
        if not (well_formed and all(_is_int(c) for c in entry[:3])):
            raise ValueError(f"{where}: blocks[{i}] is {entry!r}; expected [x, y, z, name], int coordinates and a name")
        if entry[3] not in palette:
            raise ValueError(
                f"{where}: blocks[{i}] = {entry!r} uses {entry[3]!r}, which is not in palette {palette}; add it there"
            )
        if not all(0 <= c < s for c, s in zip(entry[:3], size)):
            raise ValueError(
                f"{where}: blocks[{i}] = {entry!r} is out of range; coordinates must be 0 <= x < {W}, "
                f"0 <= y < {H}, 0 <= z < {D}"
            )
        if entry[1] == 0:
            raise ValueError(
                f"{where}: blocks[{i}] = {entry!r} is on the floor y=0, which is implied bedrock; "
                f"list only blocks with y >= 1"
            )
    coords = np.array([entry[:3] for entry in blocks], np.int64).reshape(-1, 3)
    flat = np.ravel_multi_index(coords.T, size)
    _, first, counts = np.unique(flat, return_index=True, return_counts=True)
    if (counts > 1).any():
        i = int(first[np.argmax(counts > 1)])
        raise ValueError(f"{where}: voxel {blocks[i][:3]} is listed more than once in blocks; list each voxel once")
    goal = np.zeros(size, np.int64)
    goal[:, 0, :] = BEDROCK
    goal[tuple(coords.T)] = [BLOCK_NAMES.index(entry[3]) for entry in blocks]
    return goal


def _is_int(value: object) -> bool:
    """Whether a parsed JSON value is an integer (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _goal_to_json(goal: np.ndarray) -> str:
    """One JSON goal object (text, one block per line) of a ``[W, H, D]`` goal in the game's ids."""
    coords = np.argwhere(goal[:, 1:, :] != AIR) + [0, 1, 0]
    ids = goal[tuple(coords.T)]
    palette = [BLOCK_NAMES[i] for i in sorted({AIR, BEDROCK, *ids.tolist()})]
    rows = zip(coords.tolist(), ids.tolist())
    blocks = ",\n".join(f'    [{x}, {y}, {z}, "{BLOCK_NAMES[i]}"]' for (x, y, z), i in rows)
    return (
        f'{{"format": "{JSON_FORMAT}", "size": {list(goal.shape)}, "palette": {json.dumps(palette)},\n'
        f' "blocks": [\n{blocks}\n ]}}'
    )
