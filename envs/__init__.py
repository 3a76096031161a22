"""The games: batched numpy cores, PettingZoo wrappers and a text codec.

``make_core(name, **cfg)`` builds a game core by name; ``GAMES`` lists the names.
This package imports only numpy, gymnasium and pettingzoo.
"""

from __future__ import annotations

import importlib

from envs.core import AGENTS, ASSISTANT, HUMAN, GameCore

MODULES = {"build": "envs.building", "kitchen": "envs.kitchen"}
"""Each game's name (``env.name``, a recording's ``game``) -> its package."""
GAMES = tuple(MODULES)


def game_module(name: str):
    """The package of game ``name`` (:data:`MODULES`)."""
    if name not in MODULES:
        raise ValueError(f"unknown game {name!r}; valid games: {list(GAMES)}")
    return importlib.import_module(MODULES[name])


def make_core(name: str, **cfg) -> GameCore:
    """A game core by name, configured by ``cfg`` (the game's ``make_core`` options)."""
    return game_module(name).make_core(**cfg)


__all__ = ["AGENTS", "ASSISTANT", "GAMES", "HUMAN", "GameCore", "game_module", "make_core"]
