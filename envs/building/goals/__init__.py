"""Goals of the `build` game: a goal is the target world, a ``[W, H, D]`` uint8 array of
block ids indexed ``(x, y, z)`` (``y`` up, see :mod:`envs.building.blocks`).

One job per module:

- :mod:`~envs.building.goals.validity`: what makes a goal valid (:func:`validate_goal`),
  including support (:func:`unsupported_blocks`), and the world-size limits.
- :mod:`~envs.building.goals.families`: the seven procedural families and their card.
- :mod:`~envs.building.goals.splits`: the train/test splits (:data:`SPLITS`), the sampler
  (:class:`GoalGenerator`) and how new a held-out split is (:func:`split_overlap`,
  :func:`novel_goals`).
- :mod:`~envs.building.goals.files`: reading and writing ``.npy``, ``.npz`` and ``.json``
  goal files (:func:`load_goals`, :func:`save_goals`).

Everything public is importable from here, e.g. ``from envs.building.goals import GoalGenerator``.
"""

from envs.building.goals.families import FAMILIES, FULL_RANGES, GLASS, Params, Range
from envs.building.goals.files import JSON_FORMAT, MAX_FILE_VOXELS, MAX_JSON_BYTES, SUFFIXES, load_goals, save_goals
from envs.building.goals.splits import SPLITS, GoalGenerator, novel_goals, split_overlap
from envs.building.goals.validity import MAX_VOXELS, MIN_SHAPE, Shape, UnsupportedGoalError, check_shape, unsupported_blocks, validate_goal

__all__ = [
    "FAMILIES", "FULL_RANGES", "GLASS", "JSON_FORMAT", "MAX_FILE_VOXELS", "MAX_JSON_BYTES", "MAX_VOXELS", "MIN_SHAPE", "SPLITS",
    "SUFFIXES", "GoalGenerator", "Params", "Range", "Shape", "UnsupportedGoalError", "check_shape", "load_goals", "novel_goals",
    "save_goals", "split_overlap", "unsupported_blocks", "validate_goal",
]
