"""The goal splits of the `build` game and the sampler that draws from them.

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
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from envs.building.blocks import check_num_block_types
from envs.building.goals.families import FAMILIES, FULL_RANGES, Range
from envs.building.goals.validity import check_shape

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
        self.shape = check_shape(shape)
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
