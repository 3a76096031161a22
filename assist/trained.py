"""Assistants trained by ``scripts/train.py``, loaded from their run directory: an
AssistanceZero run plays through its search, a PPO run from its policy alone, a run of
the LM pipeline as its stage evaluates its LM.

A run directory holds the resolved config (``config.yaml``: the model and search
settings) and ``checkpoints/``; the network is rebuilt from the config and its weights
loaded from safetensors (no code is executed). What to play and how is one record,
:class:`PlayedRun`: the ``trained`` and ``assistancezero`` players take its fields as
their parameters, and each row of ``scripts/compare.py`` is one.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from assist.learning.checkpoints import RunCheckpoint
from assist.models.composite import PriorAndModel
from assist.models.factory import make_model
from assist.models.torch_evaluator import TorchEvaluator
from assist.players.base import Player
from assist.players.library import GoalLibrary, LibraryMixture
from assist.players.llm import llm
from assist.players.policy import PolicyPlayer
from assist.players.search import SearchPlayer
from assist.search.config import SearchConfig, check_search_settings
from envs.core import GameCore


@dataclasses.dataclass(frozen=True)
class PlayedRun:
    """Play training run ``run`` with these settings: the parameters of the ``trained``
    and ``assistancezero`` players (:mod:`assist.registry`) and one row of
    ``scripts/compare.py``. The search settings (``simulations``, ``library_*``,
    ``search``) apply to runs that play through a search (:data:`SEARCHING`); the other
    runs ignore them. Unknown search setting names are refused when the record is made."""

    run: str
    """A training run directory of ``scripts/train.py`` (``config.yaml``, ``checkpoints/``)."""
    simulations: int = 0
    """Search budget, simulations per move; 0: the run's ``algo.eval_simulations``."""
    library_prior: float = 0.0
    """> 0 (``build`` only): the root belief averages the network's with a library of the
    run's training goals, the library weighted this much before the human acts, in (0, 1]
    (1: the library alone; :func:`library_mixture`); 0: the network's belief alone."""
    library_split: str | None = None
    """The goal split the library is drawn from; None: the run's ``train_split``."""
    library_samples: int = 20000
    """Goals drawn for the library (its distinct ones are kept)."""
    search: Mapping[str, Any] | None = None
    """Search settings that replace the run's own, ``{setting: value}`` (e.g.
    ``{"reuse_subtree": True}``; the names of :data:`~assist.search.config.SEARCH_SETTINGS`); None: the run's."""
    device: str = "auto"
    """Where the network runs: ``auto`` (a GPU if there is one), ``cpu``, ``cuda``, ..."""
    belief_run: str | None = None
    """For a run of the LM pipeline: an AssistanceZero run whose network gives the value,
    goal belief and human model inside a search in which the LM gives the prior
    (:class:`~assist.models.composite.PriorAndModel`), with the search settings of the
    LM run if it is a ``search_loop`` run, else of ``belief_run``; None: the LM alone."""

    def __post_init__(self):
        check_search_settings(self.search or {})

    def config(self):
        """The run's resolved training config (``<run>/config.yaml``)."""
        return OmegaConf.load(Path(self.run) / "config.yaml")

    def search_config(self, cfg) -> SearchConfig:
        """The search this record plays with, for the run of config ``cfg``: the run's
        settings changed by :attr:`search`, at :attr:`simulations` (else the run's
        ``algo.eval_simulations``), no root noise."""
        return run_search(cfg, self.search).for_evaluation(self.simulations or cfg.algo.get("eval_simulations", 0))

    def root_belief(self, core: GameCore, cfg) -> LibraryMixture | None:
        """The root belief this record plays with (:func:`library_mixture`); None: the network's own."""
        return library_mixture(core, cfg, self.library_prior, self.library_split, self.library_samples)


def by_params(factory: Callable[[GameCore, str, PlayedRun], Player]) -> Callable[..., Player]:
    """``factory(core, seat, played)`` as the registry calls a player, ``(core, seat,
    **params)`` with ``params`` the fields of :class:`PlayedRun`; its signature lists
    them, as :func:`assist.registry.make_player` reads a player's parameters from it."""

    @functools.wraps(factory)
    def player(core: GameCore, seat: str, **params) -> Player:
        return factory(core, seat, PlayedRun(**params))

    seats = list(inspect.signature(factory).parameters.values())[:2]
    fields = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default)
        for f in dataclasses.fields(PlayedRun)
    ]
    player.__signature__ = inspect.Signature([*seats, *fields])
    return player


def load_network(core: GameCore, run: str | Path):
    """The trained network of run directory ``run`` for ``core``'s game, and the run's config."""
    run = Path(run)
    config_path = run / "config.yaml"
    if not config_path.exists():
        raise FileNotFoundError(f"{run} is not a training run directory: {config_path} is missing")
    cfg = OmegaConf.load(config_path)
    net = make_model(core, cfg.model.name, cfg.model.preset, cfg.model.memory, **cfg.model.overrides)
    if not RunCheckpoint(run / "checkpoints").load_model(net):
        raise FileNotFoundError(f"{run} has no checkpoint yet ({run / 'checkpoints'})")
    return net, cfg


def run_search(cfg, changes: Mapping[str, Any] | None = None) -> SearchConfig:
    """The search settings a training run's config (``config.yaml``) recorded, with
    ``changes`` (``{setting: value}``, e.g. ``{"reuse_subtree": True}``) applied."""
    settings = {**OmegaConf.to_container(cfg.search, resolve=True), **(changes or {})}
    check_search_settings(settings)
    return SearchConfig(**settings)


UNMODELLED = 0.05
"""Noise the library's human model keeps for a human trained without any, so that one
action it does not model (an idle step, a chat message) cannot rule the true goal out."""

LIBRARY_HUMANS = {
    "greedy": lambda p: {"epsilon": p.get("epsilon") or UNMODELLED},
    "corrective": lambda p: {"epsilon": p.get("epsilon") or UNMODELLED, "fix_others": True},
    "boltzmann": lambda p: {"beta": p.get("beta", 5.0)},
}
"""A scripted human's parameters as the goal library's human model."""


def library_mixture(core: GameCore, cfg, prior: float, split: str | None = None, samples: int = 20000) -> LibraryMixture | None:
    """The root belief that averages a run's network belief with a library of the goals
    its self-play drew (``train_split``; ``split`` names another goal split) under the
    human model it trained against, the library weighted ``prior`` before the human acts
    (1: the library alone); None when ``prior`` is 0."""
    if not prior:
        return None
    human = OmegaConf.to_container(cfg.human, resolve=True)
    params = human.get("params") or {}
    if human["name"] not in LIBRARY_HUMANS:
        raise ValueError(f"library_prior: the goal library models the human as one of {sorted(LIBRARY_HUMANS)}; this run trained beside {human['name']!r}")
    model = LIBRARY_HUMANS[human["name"]](params)
    library = GoalLibrary(core, split or cfg.get("train_split", "train"), samples, **model)
    return LibraryMixture(library, prior)


def assistancezero(core: GameCore, seat: str, played: PlayedRun) -> SearchPlayer:
    """The AssistanceZero assistant of training run ``played.run``: its network inside its
    search as ``played`` sets it (:meth:`PlayedRun.search_config`: best action, no root
    noise), its root belief averaged with a goal library's when ``played.library_prior`` > 0."""
    if played.belief_run is not None:
        raise ValueError(f"belief_run={played.belief_run!r}: an AssistanceZero run ({played.run}) plays with its own network's belief; belief_run is for runs of the LM pipeline")
    net, cfg = load_network(core, played.run)
    return SearchPlayer(core, seat, TorchEvaluator(net, device=played.device), played.search_config(cfg), root_belief=played.root_belief(core, cfg))


def ppo(core: GameCore, seat: str, run: str, sample: bool = False, device: str = "auto") -> PolicyPlayer:
    """The PPO assistant of training run ``run``: its network's policy (best legal action,
    or a sample), no search, as PPO is trained and evaluated."""
    net, _ = load_network(core, run)
    return PolicyPlayer(core, seat, TorchEvaluator(net, device=device), sample=sample)


def lm_stage(core: GameCore, seat: str, played: PlayedRun) -> Player:
    """The LM of a run of the LM pipeline (``<run>/model``), played as its stage evaluates
    it: a ``search_loop`` run inside the search as ``played`` sets it (as for
    :func:`assistancezero`), the other stages by the most likely legal action (the search
    settings are ignored); with ``played.belief_run``, any stage's LM as the prior of a search
    whose value, belief and human model are that AssistanceZero run's network."""
    cfg = played.config()
    belief_run = played.belief_run or cfg.algo.get("belief_run")  # a search loop trained with one plays with it
    if belief_run is None and cfg.algo.name != "search_loop":
        return llm(core, seat, path=played.run, device=played.device)
    from assist.llm.evaluator import LMEvaluator

    evaluator = LMEvaluator.load(core, played.run, played.device)
    if belief_run is not None:
        net, belief_cfg = load_network(core, belief_run)
        evaluator = PriorAndModel(evaluator, TorchEvaluator(net, device=played.device))
        cfg = cfg if cfg.algo.name == "search_loop" else belief_cfg
    return SearchPlayer(core, seat, evaluator, played.search_config(cfg), root_belief=played.root_belief(core, cfg))


TRAINED: dict[str, Callable[[GameCore, str, PlayedRun], Player]] = {
    "assistancezero": assistancezero,
    "ppo": lambda core, seat, played: ppo(core, seat, played.run, device=played.device),
    **dict.fromkeys(("pretrain", "sft", "rlft", "search_loop"), lm_stage),
}
"""The player of each training algorithm (``algo.name`` in a run's config)."""

SEARCHING = ("assistancezero", "search_loop")
"""The algorithms whose runs play through a search (``simulations``, ``search`` and the ``library_*`` root belief apply)."""


def trained(core: GameCore, seat: str, played: PlayedRun) -> Player:
    """The assistant of any training run, played as its algorithm plays it, with the
    search settings of ``played`` if it searches (:data:`SEARCHING`)."""
    name = played.config().algo.name if (Path(played.run) / "config.yaml").exists() else None
    if name not in TRAINED:
        raise ValueError(f"{played.run}: cannot tell how to play a run of algo {name!r}; runs of {sorted(TRAINED)} can be played")
    if played.belief_run is not None and TRAINED[name] is not lm_stage:
        raise ValueError(f"belief_run={played.belief_run!r}: {played.run} is a {name} run, which plays with its own network; belief_run is for runs of the LM pipeline")
    return TRAINED[name](core, seat, played)
