"""The games: batched numpy cores, PettingZoo wrappers and a text codec.

``make_core(name, **cfg)`` builds a game core by name; ``GAMES`` lists the names.
This package imports only numpy, gymnasium and pettingzoo.
"""

from __future__ import annotations

import importlib

from envs.core import AGENTS, ASSISTANT, HUMAN, GameCore

GAMES = ("build", "kitchen")


def game_module(name: str):
    """The module of game ``name`` (``envs.build``, ``envs.kitchen``)."""
    if name not in GAMES:
        raise ValueError(f"unknown game {name!r}; valid games: {list(GAMES)}")
    return importlib.import_module(f"envs.{name}")


def make_core(name: str, **cfg) -> GameCore:
    """A game core by name, configured by ``cfg`` (the game's ``make_core`` options)."""
    return game_module(name).make_core(**cfg)


__all__ = ["AGENTS", "ASSISTANT", "GAMES", "HUMAN", "GameCore", "game_module", "make_core"]
