"""Configuration and presets of the `build` game."""

from __future__ import annotations

import dataclasses
import math

from envs.building.blocks import check_num_block_types
from envs.building.goals import MAX_VOXELS, MIN_SHAPE
from envs.building.render import PROMPTS


@dataclasses.dataclass(frozen=True)
class BuildConfig:
    """Rules of one `build` game.

    width, height, depth: world size W x H x D in voxels (y = height is up), at least
        ``MIN_SHAPE`` and at most ``MAX_VOXELS`` voxels in all (:mod:`envs.building.goals`).
    num_block_types: palette size n (air, bedrock and n - 2 placeable blocks).
    horizon: maximum episode length in steps.
    reach: how far (Euclidean, in voxels, centre to centre) a player places and breaks.
    history: how many of the human's recent actions the assistant observes.
    chat: whether the human has "say ..." actions the assistant observes as text.
    chat_history: how many recent messages the assistant observes.
    goal_split: goals from the "train", "test" (held-out) or "all" generator split.
    goal_families: restrict goals to these generator families (None: the split's).
    goal_file: load goals from this file instead (see :mod:`envs.building.goals`).
    prompt: the text codec's prompt format, a key of :data:`envs.building.render.PROMPTS`
        (``v1``: what every LM before ``v2`` trained with; ``v2``: who placed each block,
        the human's recent actions with their steps). Not a rule: only the text changes.
    """

    width: int = 7
    height: int = 6
    depth: int = 7
    num_block_types: int = 6
    horizon: int = 200
    reach: float = 4.5
    history: int = 8
    chat: bool = False
    chat_history: int = 4
    goal_split: str = "train"
    goal_families: tuple[str, ...] | None = None
    goal_file: str | None = None
    prompt: str = "v1"

    def __post_init__(self):
        size = (self.width, self.height, self.depth)
        if any(s < m for s, m in zip(size, MIN_SHAPE)):
            raise ValueError(f"world size {size} is too small: each of (width, height, depth) must be at least {MIN_SHAPE}")
        if math.prod(size) > MAX_VOXELS:
            raise ValueError(
                f"world size {size} is {math.prod(size):,} voxels, more than MAX_VOXELS = {MAX_VOXELS:,} (e.g. 16 x 16 x 16; "
                "MBAG's world is 1,100): the game's tables grow with the square of the number of voxels"
            )
        check_num_block_types(self.num_block_types)
        if self.horizon < 1:
            raise ValueError(f"horizon={self.horizon} must be >= 1 step")
        if not self.reach >= 1.0:
            raise ValueError(f"reach={self.reach} must be >= 1 voxel (MBAG uses 4.5)")
        if self.history < 1 or self.chat_history < 1:
            raise ValueError(f"history={self.history} and chat_history={self.chat_history} must be >= 1")
        if self.prompt not in PROMPTS:
            raise ValueError(f"prompt={self.prompt!r} is not a prompt format; use one of {sorted(PROMPTS)} (envs/building/render.py)")
        if self.goal_families is not None:
            object.__setattr__(self, "goal_families", tuple(self.goal_families))

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.width, self.height, self.depth)


PRESETS: dict[str, dict] = {
    "tiny": dict(width=5, height=4, depth=5, num_block_types=4, horizon=60, reach=3.0),
    "small": dict(width=7, height=6, depth=7, num_block_types=6, horizon=200, reach=4.5),
    "mbag": dict(width=11, height=10, depth=10, num_block_types=10, horizon=1500, reach=4.5),
}
"""``tiny`` for tests (trains in minutes on CPU), ``small`` for experiments, ``mbag`` the
AssistanceZero paper's size (11 x 10 x 10, 10 block types, 1,500 steps, reach 4.5)."""


def make_config(preset: str = "small", **overrides) -> BuildConfig:
    """A :class:`BuildConfig` from a preset name plus field overrides."""
    if preset not in PRESETS:
        raise ValueError(f"unknown build preset {preset!r}; valid presets: {sorted(PRESETS)}")
    fields = {f.name for f in dataclasses.fields(BuildConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown build option(s) {unknown}; valid options: {sorted(fields)}")
    return BuildConfig(**{**PRESETS[preset], **overrides})
