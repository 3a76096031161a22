"""Evaluate the human with each assistant on the same held-out episodes; print and save
the table (goal %, human actions, assistant share, length, with 95% CIs)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from assist import config as schemas
from assist import evaluation, recording
from assist.cli import CONFIG_DIR, hydra_job, one_line_errors, set_threads
from assist.registry import make_player
from envs.core import ASSISTANT, HUMAN

log = logging.getLogger(__name__)


def run(cfg: DictConfig, out_dir: Path, overrides: Sequence[str] = (), progress: bool = True) -> dict:
    """Evaluate and save into ``out_dir``; return the summary. ``overrides``: the command
    line that made ``cfg``, kept in ``results.json`` (``meta.overrides``); ``progress``:
    show a progress bar per assistant (on a terminal, and not while a person plays). Every
    player is built before the first episode: a setting out of range is a
    :class:`~assist.config.ConfigError` naming its key."""
    schemas.checked(cfg, schemas.EvaluateConfig)
    set_threads(cfg.threads)
    core = schemas.make_core(cfg.env)
    human = schemas.make_player(cfg.human, core, HUMAN)
    with schemas.naming(cfg.baselines):
        assistants = {name: make_player(name, core, ASSISTANT) for name in cfg.baselines}
    if cfg.assistant.name not in assistants:
        assistants[cfg.assistant.name] = schemas.make_player(cfg.assistant, core, ASSISTANT)
    results, record = {}, [] if cfg.record else None
    for name, assistant in assistants.items():
        bar = name if progress and "terminal" not in (cfg.human.name, name) else None
        results[name] = evaluation.evaluate(core, human, assistant, cfg.episodes, cfg.batch, cfg.seed, record=record, progress=bar)
        if record is not None:
            seats = {HUMAN: {"player": cfg.human.name, "person": cfg.human.name == "terminal"}, ASSISTANT: {"player": name, "person": name == "terminal"}}
            recording.write(out_dir / f"recording_{name}.jsonl", recording.header(cfg.env.name, schemas.env_options(cfg.env), seats), record)
            record.clear()
    summary = evaluation.summarize(results, seed=cfg.seed)
    meta = {"config": OmegaConf.to_container(cfg, resolve=True), "human": cfg.human.name, "overrides": list(overrides)}
    evaluation.save(out_dir, summary, meta)
    log.info(f"{cfg.env.name} ({schemas.env_options(cfg.env)}), human={cfg.human.name}, {cfg.episodes} episodes, 95% CIs")
    log.info(evaluation.markdown_table(summary))
    log.info(f"saved to {out_dir}")
    return summary


@hydra.main(config_path=CONFIG_DIR, config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    with one_line_errors():
        run(cfg, *hydra_job())


if __name__ == "__main__":
    main()
