"""Goal files of the `build` game: ``.npy``, ``.npz`` and ``.json``.

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
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from envs.building.blocks import AIR, BEDROCK, BLOCK_NAMES, check_num_block_types
from envs.building.goals.validity import MAX_VOXELS, Shape, UnsupportedGoalError, validate_goal

MAX_FILE_VOXELS = 2**25
"""The most voxels (N * W * H * D) one goal file may hold: about 30,000 goals of MBAG's size."""
MAX_JSON_BYTES = 2**27
"""The largest ``.json`` goal file read: 128 MiB."""
JSON_FORMAT = "assist-goal/v1"
SUFFIXES = (".npy", ".npz", ".json")


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
