"""Networks by name: ``make_model(core, name, preset, memory, **overrides)``.

- ``conv``: the `build` game's :class:`~assist.models.conv.BuildNet`, sized by
  :class:`~assist.models.conv.BuildNetConfig`.
- ``mlp``: the `kitchen` games' :class:`~assist.models.mlp.KitchenNet`, sized by
  :class:`~assist.models.mlp.KitchenNetConfig`.

``name="auto"`` picks the model of the core's game. Every model has the presets ``tiny``
(tests), ``small`` (CPU runs) and ``paper`` (the AssistanceZero paper's size).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from torch import nn

from assist.models import conv, mlp
from envs.core import GameCore


class ModelSpec(NamedTuple):
    """A model name's game, network class and named sizes."""

    game: str
    net: type[nn.Module]
    presets: dict


MODELS: dict[str, ModelSpec] = {
    "conv": ModelSpec("build", conv.BuildNet, conv.PRESETS),
    "mlp": ModelSpec("kitchen", mlp.KitchenNet, mlp.PRESETS),
}
AUTO: dict[str, str] = {spec.game: name for name, spec in MODELS.items()}
"""The model ``name="auto"`` picks for each game."""


def make_model(core: GameCore, name: str = "auto", preset: str = "small", memory: bool = True, **overrides) -> nn.Module:
    """A freshly initialized network for ``core``.

    Args:
        core: the game core (``envs.make_core(...)``).
        name: ``"conv"`` (build), ``"mlp"`` (kitchen) or ``"auto"`` (by ``core.name``).
        preset: ``"tiny"``, ``"small"`` or ``"paper"``.
        memory: False for a net without recurrent state (M = 0; ``memory_size`` is then unused).
        overrides: fields of the model's config (conv: channels, blocks, kernel,
            memory_size, embed, value_hidden, balanced_prior, positions, line_context; mlp:
            hidden, layers, memory_size).

    Raises ValueError for an unknown name, preset or option, a model of another game, or
    an invalid size.
    """
    game = getattr(core, "name", None)
    if name == "auto":
        if game not in AUTO:
            raise ValueError(f"no model for game {game!r}; models exist for the games {sorted(AUTO)}")
        name = AUTO[game]
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {['auto', *MODELS]}")
    spec = MODELS[name]
    if game != spec.game:
        raise ValueError(f"model {name!r} is for {spec.game!r} cores, not {game!r}; use name='auto' (here {AUTO.get(game)!r})")
    if preset not in spec.presets:
        raise ValueError(f"unknown {name} preset {preset!r}; valid presets: {list(spec.presets)}")
    if not isinstance(memory, bool):
        raise ValueError(f"memory={memory!r} must be True or False")
    config = spec.presets[preset]
    options = [field.name for field in dataclasses.fields(config)]
    unknown = sorted(set(overrides) - set(options))
    if unknown:
        raise ValueError(f"unknown {name} option(s) {unknown}; valid options: {options}")
    config = dataclasses.replace(config, **{**overrides, **({} if memory else {"memory_size": 0})})
    return spec.net(core, config)
