"""Assistants trained by ``scripts/train.py``, loaded from their run directory: an
AssistanceZero run plays through its search, a PPO run from its policy alone, a run of
the LM pipeline as its stage evaluates its LM.

A run directory holds the resolved config (``config.yaml``: the model and search
settings) and ``checkpoints/``; the network is rebuilt from the config and its weights
loaded from safetensors (no code is executed).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from omegaconf import OmegaConf

from assist.learning.checkpoints import RunCheckpoint
from assist.models.factory import make_model
from assist.models.torch_evaluator import TorchEvaluator
from assist.players.library import GoalLibrary, LibraryMixture
from assist.players.llm import llm
from assist.players.policy import PolicyPlayer
from assist.players.search import SearchPlayer
from assist.search.config import SearchConfig
from envs.core import GameCore


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


def run_search(cfg, changes: dict | None = None) -> SearchConfig:
    """The search settings a training run's config (``config.yaml``) recorded, with
    ``changes`` (``{setting: value}``, e.g. ``{"reuse_subtree": True}``) applied."""
    settings = {**OmegaConf.to_container(cfg.search, resolve=True), **(changes or {})}
    unknown = sorted(set(settings) - {f.name for f in dataclasses.fields(SearchConfig)})
    if unknown:
        raise ValueError(f"search settings {unknown} do not exist; the settings are {[f.name for f in dataclasses.fields(SearchConfig)]}")
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


def assistancezero(
    core: GameCore,
    seat: str,
    run: str,
    simulations: int = 0,
    library_prior: float = 0.0,
    library_split: str | None = None,
    library_samples: int = 20000,
    search: dict | None = None,
    device: str = "auto",
) -> SearchPlayer:
    """The AssistanceZero assistant of training run ``run``: its network inside its search
    at the run's evaluation budget (``algo.eval_simulations``; ``simulations`` > 0
    overrides it), best action, no root noise; ``search`` changes other search settings
    (:func:`run_search`). ``library_prior`` > 0 (``build`` only): the root belief
    averages the network's with a library of ``library_samples`` draws of the run's
    training goals, or of the goal split ``library_split`` (:func:`library_mixture`)."""
    net, cfg = load_network(core, run)
    budget = simulations or cfg.algo.get("eval_simulations", 0)
    belief = library_mixture(core, cfg, library_prior, library_split, library_samples)
    return SearchPlayer(core, seat, TorchEvaluator(net, device=device), run_search(cfg, search).for_evaluation(budget), root_belief=belief)


def ppo(core: GameCore, seat: str, run: str, sample: bool = False, device: str = "auto") -> PolicyPlayer:
    """The PPO assistant of training run ``run``: its network's policy (best legal action,
    or a sample), no search, as PPO is trained and evaluated."""
    net, _ = load_network(core, run)
    return PolicyPlayer(core, seat, TorchEvaluator(net, device=device), sample=sample)


def lm_stage(core: GameCore, seat: str, run: str, simulations: int = 0, library_prior: float = 0.0, library_split: str | None = None, library_samples: int = 20000, search: dict | None = None, device: str = "auto"):
    """The LM of a run of the LM pipeline (``<run>/model``), played as its stage evaluates
    it: a ``search_loop`` run inside the search (the run's search settings changed by
    ``search``, at its ``algo.eval_simulations`` or ``simulations`` when > 0; no root
    noise; a root belief averaged with a goal library when ``library_prior`` > 0, as for
    :func:`assistancezero`), the other stages by the most likely legal action (the search
    settings are ignored)."""
    cfg = OmegaConf.load(Path(run) / "config.yaml")
    if cfg.algo.name != "search_loop":
        return llm(core, seat, path=run, device=device)
    from assist.llm.evaluator import LMEvaluator

    belief = library_mixture(core, cfg, library_prior, library_split, library_samples)
    return SearchPlayer(core, seat, LMEvaluator.load(core, run, device), run_search(cfg, search).for_evaluation(simulations or cfg.algo.eval_simulations), root_belief=belief)


TRAINED = {"assistancezero": assistancezero, "ppo": ppo, **dict.fromkeys(("pretrain", "sft", "rlft", "search_loop"), lm_stage)}
"""The player of each training algorithm (``algo.name`` in a run's config)."""

SEARCHING = ("assistancezero", "search_loop")
"""The algorithms whose runs play through a search (``simulations``, ``search`` and the ``library_*`` root belief apply)."""


def trained(core: GameCore, seat: str, run: str, simulations: int = 0, library_prior: float = 0.0, library_split: str | None = None, library_samples: int = 20000, search: dict | None = None, device: str = "auto"):
    """The assistant of any training run, played as its algorithm plays it (a search at
    ``simulations`` per move when > 0, else at the run's evaluation budget; its root
    belief averaged with a library of ``library_samples`` draws of the run's training
    goals, or of ``library_split``, when ``library_prior`` > 0; ``search`` changes the run's other search settings; these
    search settings are ignored for runs that do not search)."""
    name = OmegaConf.load(Path(run) / "config.yaml").algo.name if (Path(run) / "config.yaml").exists() else None
    if name not in TRAINED:
        raise ValueError(f"{run}: cannot tell how to play a run of algo {name!r}; runs of {sorted(TRAINED)} can be played")
    searching = {"simulations": simulations, "library_prior": library_prior, "library_split": library_split, "library_samples": library_samples, "search": search}
    return TRAINED[name](core, seat, run, device=device, **(searching if name in SEARCHING else {}))
