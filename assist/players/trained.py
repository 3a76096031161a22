"""Assistants trained by ``scripts/train.py``, loaded from their run directory: an
AssistanceZero run plays through its search, a PPO run from its policy alone, a run of
the LM pipeline as its stage evaluates its LM.

A run directory holds the resolved config (``config.yaml``: the model and search
settings) and ``checkpoints/``; the network is rebuilt from the config and its weights
loaded from safetensors (no code is executed).
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from assist.learning.checkpoints import RunCheckpoint
from assist.models.factory import make_model
from assist.models.torch_evaluator import TorchEvaluator
from assist.players.llm import llm
from assist.players.policy import PolicyPlayer
from assist.players.search import SearchPlayer
from assist.search.mcts import SearchConfig
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


def run_search(cfg) -> SearchConfig:
    """The search settings a training run's config (``config.yaml``) recorded."""
    return SearchConfig(**OmegaConf.to_container(cfg.search, resolve=True))


def assistancezero(core: GameCore, seat: str, run: str, simulations: int = 0, device: str = "auto") -> SearchPlayer:
    """The AssistanceZero assistant of training run ``run``: its network inside its search
    at the run's evaluation budget (``algo.eval_simulations``; ``simulations`` > 0
    overrides it), best action, no root noise."""
    net, cfg = load_network(core, run)
    budget = simulations or cfg.algo.get("eval_simulations", 0)
    return SearchPlayer(core, seat, TorchEvaluator(net, device=device), run_search(cfg).for_evaluation(budget))


def ppo(core: GameCore, seat: str, run: str, sample: bool = False, simulations: int = 0, device: str = "auto") -> PolicyPlayer:
    """The PPO assistant of training run ``run``: its network's policy (best legal action,
    or a sample), no search (``simulations`` is ignored), as PPO is trained and evaluated."""
    net, _ = load_network(core, run)
    return PolicyPlayer(core, seat, TorchEvaluator(net, device=device), sample=sample)


def lm_stage(core: GameCore, seat: str, run: str, simulations: int = 0, device: str = "auto"):
    """The LM of a run of the LM pipeline (``<run>/model``), played as its stage evaluates
    it: a ``search_loop`` run inside the search (the run's search settings at its
    ``algo.eval_simulations``, or ``simulations`` when > 0; no root noise), the other
    stages by the most likely legal action."""
    cfg = OmegaConf.load(Path(run) / "config.yaml")
    if cfg.algo.name != "search_loop":
        return llm(core, seat, path=run, device=device)
    from assist.llm.evaluator import LMEvaluator

    return SearchPlayer(core, seat, LMEvaluator.load(core, run, device), run_search(cfg).for_evaluation(simulations or cfg.algo.eval_simulations))


TRAINED = {"assistancezero": assistancezero, "ppo": ppo, **dict.fromkeys(("pretrain", "sft", "rlft", "search_loop"), lm_stage)}
"""The player of each training algorithm (``algo.name`` in a run's config)."""


def trained(core: GameCore, seat: str, run: str, simulations: int = 0, device: str = "auto"):
    """The assistant of any training run, played as its algorithm plays it (a search at
    ``simulations`` per move when > 0, else at the run's evaluation budget)."""
    name = OmegaConf.load(Path(run) / "config.yaml").algo.name if (Path(run) / "config.yaml").exists() else None
    if name not in TRAINED:
        raise ValueError(f"{run}: cannot tell how to play a run of algo {name!r}; runs of {sorted(TRAINED)} can be played")
    return TRAINED[name](core, seat, run, simulations=simulations, device=device)
