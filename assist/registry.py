"""Players by name, for every seat (docs/design.md, contract 4).

``make_player(name, core, seat, **params)`` builds any player; :data:`PLAYERS` maps the
names to their constructors: ``noop`` (the human-alone baseline in the assistant seat),
``random``, ``oracle`` (given the true goal: the upper bound), the scripted humans
``greedy``, ``boltzmann``, ``corrective`` and ``lazy``, ``terminal`` (a person), and for
games with tabular human models (kitchen) ``model`` (the game's own human model) and
``bayes`` (the exact Bayes-optimal assistant) and ``exact_search`` (MCTS over the
exact model); ``library_bayes`` (for ``build``: Bayes over a library of goals drawn
from a goal split, ``split=train|test|...``: what goal inference with that prior is
worth); ``assistancezero`` and ``ppo`` load a trained assistant from its run
directory (``run=runs/train/...``), and ``trained`` loads either (or a run of the LM
pipeline), as its run was trained;
``bc`` is a human cloned from recordings by ``scripts/train_bc.py`` (``path=runs/train_bc/...``);
``llm`` (the LM assistant, scoring actions, optionally inside MCTS) and ``llm_text`` (the LM
writing its action as text) load a local Hugging Face model directory (``path=...``;
default: a small local model). Any other name ``package.module:Name`` is a player of
your own, imported by path (:func:`envs.core.by_name_or_path`).

The registry sits above the layers its players need (the loaders of trained runs read
checkpoints of :mod:`assist.learning`), so that :mod:`assist.players` itself imports only
the layers below it.
"""

from __future__ import annotations

import inspect

from assist.players import scripted
from assist.players.base import Player
from assist.players.bc import BCHumanPlayer
from assist.players.library import GoalLibraryBayesPlayer
from assist.players.llm import llm, llm_text
from assist.players.simple import NoopPlayer, RandomPlayer
from assist.players.tabular import BayesOptimalPlayer, HumanModelPlayer, exact_search
from assist.players.terminal import TerminalPlayer
from assist.trained import assistancezero, by_params, ppo, trained
from envs.core import GameCore, by_name_or_path

PLAYERS = {
    "noop": NoopPlayer,
    "random": RandomPlayer,
    "oracle": scripted.oracle,
    "greedy": scripted.greedy,
    "boltzmann": scripted.boltzmann,
    "corrective": scripted.corrective,
    "lazy": scripted.lazy,
    "terminal": TerminalPlayer,
    "model": HumanModelPlayer,
    "bayes": BayesOptimalPlayer,
    "exact_search": exact_search,
    "library_bayes": GoalLibraryBayesPlayer,
    "assistancezero": by_params(assistancezero),
    "ppo": ppo,
    "trained": by_params(trained),
    "bc": BCHumanPlayer,
    "llm": llm,
    "llm_text": llm_text,
}


def make_player(name: str, core: GameCore, seat: str, **params) -> Player:
    """The player ``name`` in ``seat`` of ``core``'s game, with its ``params``.

    ``name`` is one of :data:`PLAYERS` or an import path ``package.module:Name`` of a
    player class or factory defined anywhere importable (its folder on ``PYTHONPATH``), called
    as ``Name(core, seat, **params)`` like the built-in ones, with the same check of
    ``params``. A name, not an object, so it travels to worker processes (``compare.py
    --jobs``), which import it themselves.
    """
    constructor = by_name_or_path(PLAYERS, name, "player")
    parameters = list(inspect.signature(constructor).parameters)
    if parameters[:2] != ["core", "seat"]:
        raise ValueError(f"player {name!r} must take (core, seat, **params) first, as every player does; it takes {parameters}")
    accepted = parameters[2:]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(f"player {name!r} has no parameter(s) {unknown}; its parameters: {accepted}")
    return constructor(core, seat, **params)


__all__ = ["PLAYERS", "make_player"]
