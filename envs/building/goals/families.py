"""The procedural goal families of the `build` game: the generator card.

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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from envs.building.blocks import AIR, BEDROCK, BLOCK_NAMES, FACE_OFFSETS, FIRST_PLACEABLE, check_num_block_types
from envs.building.goals.validity import Shape, check_shape

GLASS = BLOCK_NAMES.index("glass")

Range = tuple[float, float]
"""``(lo, hi]``: fractions of the interior along one axis."""
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
    W, H, D = world = check_shape(shape)
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
