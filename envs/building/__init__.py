"""`build`: a voxel building assistance game in the spirit of the Minecraft Building
Assistance Game (MBAG). The rules and the action layout are on the card in
:mod:`envs.building.core`; goals in :mod:`envs.building.goals`.

    >>> import envs.building
    >>> env = envs.building.parallel_env(preset="tiny", render_mode="ansi")
    >>> observations, infos = env.reset(seed=0)

``parallel_env(**cfg)`` and ``env(**cfg)`` (AEC) take ``preset`` ("tiny", "small",
"mbag"), any :class:`BuildConfig` field, and the wrapper's ``render_mode``,
``max_cycles`` and ``strict``.
"""

from envs.building.config import PRESETS, BuildConfig, make_config
from envs.building.core import BuildCore, BuildState, BuildTransition
from envs.pettingzoo_env import module_constructors


def make_core(preset: str = "small", **overrides) -> BuildCore:
    """A :class:`BuildCore` from a preset name and config overrides."""
    return BuildCore(make_config(preset, **overrides))


parallel_env, env = module_constructors(make_core)

__all__ = ["PRESETS", "BuildConfig", "BuildCore", "BuildState", "BuildTransition", "env", "make_config", "make_core", "parallel_env"]
