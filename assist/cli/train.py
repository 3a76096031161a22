"""Train an assistant: ``python scripts/train.py env.preset=tiny algo.iterations=50``.

The run directory holds the resolved config (``config.yaml``), TensorBoard events,
``checkpoints/`` (``model/`` for the LM pipeline's stages: see
:mod:`assist.learning.llm_stage`) and ``results.json``: ``summary`` (the last held-out evaluation,
``{algo: {metric: {mean, low, high, n}}}`` with 95% CIs over its episodes, the layout of
``scripts/evaluate.py``'s), ``final_eval`` (its means), ``iterations``, ``env_steps``,
``overrides`` (the command line's) and ``config``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from assist import config as schemas
from assist.cli import CONFIG_DIR, hydra_job
from assist.learning.assistancezero import AssistanceZeroConfig, AssistanceZeroTrainer
from assist.logger import LoggerConfig, RunLogger, flat_params
from assist.models.factory import make_model
from assist.players import make_player
from assist.search.mcts import SearchConfig
from envs.core import HUMAN


def make_trainer(cfg: DictConfig, core, eval_core, human, eval_human, run_dir: Path):
    """The trainer of ``cfg.algo.name``, logging as ``cfg.logger`` says: a conv-net
    algorithm (``assistancezero``, ``ppo``; the network from ``cfg.model``, initialized
    from ``cfg.seed``) or a stage of the LM pipeline (the LM from ``cfg.algo.init``)."""
    from assist.learning.llm_configs import STAGES

    name = cfg.algo.name
    valid = ["assistancezero", "ppo", *STAGES]
    if name not in valid:
        raise ValueError(f"unknown algo {name!r}; valid: {valid}")
    logger = RunLogger(run_dir, schemas.to_dataclass(LoggerConfig, cfg.logger))
    if name in STAGES:
        from assist.learning import llm_pretrain, llm_rlft, llm_search, llm_sft  # transformers: only when needed

        algo = schemas.to_dataclass(STAGES[name], cfg.algo)
        if name == "search_loop":
            search = schemas.to_dataclass(SearchConfig, cfg.search)
            return llm_search.LMSearchTrainer(core, eval_core, human, eval_human, search, algo, run_dir, cfg.seed, cfg.device, logger)
        trainer = {"pretrain": llm_pretrain.PretrainTrainer, "sft": llm_sft.SFTTrainer, "rlft": llm_rlft.RLFTTrainer}[name]
        return trainer(core, eval_core, human, eval_human, algo, run_dir, cfg.seed, cfg.device, logger)
    torch.manual_seed(cfg.seed)  # the network's initial weights too come from the seed
    net = make_model(core, cfg.model.name, cfg.model.preset, cfg.model.memory, **cfg.model.overrides)
    if name == "assistancezero":
        algo = schemas.to_dataclass(AssistanceZeroConfig, cfg.algo)
        search = schemas.to_dataclass(SearchConfig, cfg.search)
        return AssistanceZeroTrainer(core, eval_core, net, human, eval_human, search, algo, run_dir, cfg.seed, cfg.device, logger)
    from assist.learning.ppo import PPOConfig, PPOTrainer

    algo = schemas.to_dataclass(PPOConfig, cfg.algo)
    return PPOTrainer(core, eval_core, net, human, eval_human, algo, run_dir, cfg.seed, cfg.device, logger)


def run(cfg: DictConfig, run_dir: Path, overrides: Sequence[str] = (), progress: bool = True) -> dict:
    """Train as ``cfg`` says, writing into ``run_dir``; the last evaluation's means.
    ``overrides``: the command line that made ``cfg``, kept in ``results.json``;
    ``progress``: show a progress bar (on a terminal)."""
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    train_changes = {"goal_split": "train"} if cfg.env.name == "build" else {}
    core = schemas.make_core(cfg.env, **train_changes)
    eval_core = schemas.make_core(cfg.env)
    human = make_player(cfg.human.name, core, HUMAN, **cfg.human.params)
    eval_human = make_player(cfg.human.name, eval_core, HUMAN, **cfg.human.params)
    trainer = make_trainer(cfg, core, eval_core, human, eval_human, run_dir)
    algo = trainer.config
    if cfg.resume and trainer.resume():
        print(f"resumed at iteration {trainer.iteration} ({trainer.env_steps} env steps)")
    with tqdm(total=algo.iterations, initial=trainer.iteration, desc="train", unit="it", disable=None if progress else True) as bar:

        def progress(iteration: int, env_steps: int, latest: dict) -> None:
            bar.update(iteration - bar.n)
            if latest:
                bar.set_postfix(goal=f"{latest['goal_pct']:.0f}%", human=f"{latest['human_actions']:.1f}")

        final = trainer.train(progress)
    trainer.logger.hparams(flat_params(OmegaConf.to_container(cfg, resolve=True)), {f"hparams/{k}": v for k, v in final.items()})
    trainer.logger.close()
    results = {
        "summary": {cfg.algo.name: {key: s._asdict() for key, s in trainer.last_eval.items()}},
        "final_eval": final,
        "iterations": trainer.iteration,
        "env_steps": trainer.env_steps,
        "overrides": list(overrides),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    (run_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({"final_eval": final, "env_steps": trainer.env_steps}))
    return final


@hydra.main(config_path=CONFIG_DIR, config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run(cfg, *hydra_job())


if __name__ == "__main__":
    main()
