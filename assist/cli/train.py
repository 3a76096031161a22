"""Train an assistant: ``python scripts/train.py env.preset=tiny algo.iterations=50``.

The run directory holds the resolved config (``config.yaml``), TensorBoard events,
``checkpoints/`` (``model/`` for the LM pipeline's stages: see
:mod:`assist.learning.llm_stage`) and ``results.json``: ``summary`` (the last held-out evaluation,
``{algo: {metric: {mean, low, high, n}}}`` with 95% CIs over its episodes, the layout of
``scripts/evaluate.py``'s), ``final_eval`` (its means), ``iterations``, ``env_steps``,
``wall_seconds`` (this invocation's training time), ``train_seconds`` (the whole run's:
for a resumed run, its earlier invocations' time up to the checkpoint it resumed from
too), ``overrides`` (the command line's) and ``config``.

A setting out of range stops the run before any file is written, with one ``error:`` line
on stderr that names its full key (``error: env.reach: reach=-1.0 must be >= 1 voxel``) and
exit status 1; so do an unusable checkpoint or model directory.

Long runs: ``resume=true`` continues the run directory's latest checkpoint exactly (or
starts the run if it has none), and refuses settings that would change the run's results
(:func:`~assist.learning.checkpoints.changed_settings`); without it, a directory that holds
checkpoints is refused (a run never replaces another). SIGINT or SIGTERM stops the run at
the end of the current iteration after writing a checkpoint, and the process exits with
128 + the signal's number (130, 143); a second one stops it at once. Launched by
``torchrun``, the ranks train data-parallel (see :mod:`assist.learning.distributed`) in
rank 0's run directory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from assist import config as schemas
from assist import rundirs
from assist.cli import CONFIG_DIR, hydra_job, one_line_errors, set_threads
from assist.learning import distributed
from assist.learning.algorithms import ALGORITHMS
from assist.learning.checkpoints import CheckpointWriteError, RunCheckpoint
from assist.learning.distributed import SINGLE, Group
from assist.learning.trainer import NonFiniteLossError, TrainingContext
from assist.logger import LoggerConfig, RunLogger, flat_params
from assist.models.factory import make_model
from assist.models.torch_evaluator import TorchEvaluator, resolve_device
from assist.progress import progress_bar
from assist.registry import make_player
from assist.search.config import SearchConfig
from assist.trained import load_network
from envs.core import ASSISTANT, HUMAN

log = logging.getLogger(__name__)


def make_trainer(cfg: DictConfig, core, eval_core, human, eval_human, run_dir: Path, device: str = "auto", group: Group = SINGLE):
    """The trainer of ``cfg.algo.name`` (:data:`~assist.learning.algorithms.ALGORITHMS`),
    logging as ``cfg.logger`` says (rank 0 only), given the parts its table entry names: the
    network from ``cfg.model`` (its initial weights from ``cfg.seed``, rank 0's broadcast to
    the others), the search settings, an LM stage's episode player. Every setting is checked
    before the logger writes anything into ``run_dir``."""
    name = cfg.algo.name
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algo {name!r}; valid: {list(ALGORITHMS)}")
    algorithm = ALGORITHMS[name]
    algo = schemas.to_dataclass(algorithm.config, cfg.algo)
    search = schemas.to_dataclass(SearchConfig, cfg.search)
    with schemas.naming(cfg):
        resolve_device(device)

    def net():
        torch.manual_seed(cfg.seed)  # the network's initial weights too come from the seed
        with schemas.naming(cfg.model):
            return make_model(core, cfg.model.name, cfg.model.preset, cfg.model.memory, **cfg.model.overrides)

    def episode_player():
        spec = algo.episode_player()
        with schemas.naming(cfg.algo):
            return None if spec is None else make_player(spec, core, ASSISTANT, **algo.episode_player_params())

    def belief():  # only algorithms with a belief_run setting take this part
        return None if algo.belief_run is None else TorchEvaluator(load_network(core, algo.belief_run)[0], device=device)

    builders = {"net": net, "search": lambda: search, "episode_player": episode_player, "belief": belief}
    parts = {part: builders[part]() for part in algorithm.parts}
    logger = RunLogger(run_dir, schemas.to_dataclass(LoggerConfig, cfg.logger), active=group.is_main)
    context = TrainingContext(core, eval_core, human, eval_human, run_dir, cfg.seed, device, logger, group)
    return algorithm.trainer_class()(context, config=algo, **parts)


def trainer_for(cfg: DictConfig, run_dir: Path, device: str = "auto", group: Group = SINGLE):
    """The trainer of a whole train config: self-play on ``cfg.train_split``'s goals (for
    `build`), evaluation on ``cfg.env``'s, ``cfg.human`` in the human seat of both."""
    train_changes = {"goal_split": cfg.train_split} if cfg.env.name == "build" else {}
    core = schemas.make_core(cfg.env, **train_changes)
    eval_core = schemas.make_core(cfg.env)
    human = schemas.make_player(cfg.human, core, HUMAN)
    eval_human = schemas.make_player(cfg.human, eval_core, HUMAN)
    return make_trainer(cfg, core, eval_core, human, eval_human, run_dir, device, group)


class Stopped(Exception):
    """The run stopped early on a signal, after a checkpoint; ``code`` is the exit status."""

    def __init__(self, signum: int, iteration: int, run_dir: Path):
        self.code = 128 + signum
        super().__init__(
            f"stopped by {signal.Signals(signum).name} after iteration {iteration} with a checkpoint; continue with "
            f"resume=true hydra.run.dir={run_dir}"
        )


@contextlib.contextmanager
def stop_on_signals(received: list[int], escalate: bool = True, signums=(signal.SIGINT, signal.SIGTERM)):
    """While inside, SIGINT and SIGTERM are appended to ``received`` (a trainer's
    ``stop_requests``: it stops at the end of its iteration). With ``escalate`` a second
    signal gets the previous handler (Ctrl-C twice: stop at once); under torchrun, whose
    agent forwards the terminal's Ctrl-C a second time and kills its workers 30 s after
    forwarding a signal, every signal only asks to stop."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may handle signals
        yield
        return

    def ask(signum, frame):
        received.append(signum)
        if escalate:
            signal.signal(signum, previous[signum])
        print(f"{signal.Signals(signum).name}: stopping after this iteration and its checkpoint", file=sys.stderr, flush=True)

    previous = {signum: signal.signal(signum, ask) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run(cfg: DictConfig, run_dir: Path, overrides: Sequence[str] = (), progress: bool = True) -> dict:
    """Train as ``cfg`` says, writing into ``run_dir``; the last evaluation's means.
    ``overrides``: the command line that made ``cfg``, kept in ``results.json``;
    ``progress``: show a progress bar (on a terminal).

    Under ``torchrun`` every rank calls it and all use rank 0's ``run_dir``. Raises
    :class:`Stopped` when a signal stopped the run early, and a
    :class:`~assist.config.ConfigError` naming the key, before any file is written, when a
    setting is out of range.
    """
    settings = schemas.checked(cfg)
    set_threads(cfg.threads)
    group, device = distributed.init(cfg.device)
    finished = False
    try:
        with stop_on_signals(received := [], escalate=not group.distributed):
            final = _train(cfg, settings, Path(group.broadcast_object(str(run_dir))), device, group, received, overrides, progress)
        finished = True
        return final
    finally:
        distributed.finish(group, wait=finished)


def _train(
    cfg: DictConfig, settings: dict, run_dir: Path, device: str, group: Group, stop_requests: list[int], overrides: Sequence[str], show_progress: bool
) -> dict:
    main = group.is_main
    RunCheckpoint(run_dir / "checkpoints", group).check_start(settings, cfg.resume)  # before anything is written
    trainer = trainer_for(cfg, run_dir, device, group)  # builds every part of the config: out-of-range values stop here
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    trainer.checkpoint.settings = settings
    trainer.stop_requests = stop_requests
    algo = trainer.config
    if cfg.resume:
        resumed = trainer.resume()
        if main:
            log.info(f"resumed at iteration {trainer.iteration} ({trainer.env_steps} env steps)" if resumed else f"resume=true: no checkpoint in {run_dir} yet, starting the run")
    started = time.perf_counter()
    try:
        with progress_bar(algo.iterations, "train", "it", enabled=main and show_progress, initial=trainer.iteration, logger=log) as bar:

            def progress(iteration: int, env_steps: int, latest: dict) -> None:
                figures = {"env_steps": env_steps} | ({"goal": f"{latest['goal_pct']:.0f}%", "human": f"{latest['human_actions']:.1f}"} if latest else {})
                bar.set_postfix(figures, refresh=False)
                bar.update(iteration - bar.n)

            final = trainer.train(progress)
        if trainer.stopped:
            raise Stopped(stop_requests[0] if stop_requests else signal.SIGTERM, trainer.iteration, run_dir)
        if main:
            trainer.logger.hparams(flat_params(settings), {f"hparams/{k}": v for k, v in final.items()})
            results = {
                "summary": {cfg.algo.name: {key: s.to_dict() for key, s in trainer.last_eval.items()}},
                "final_eval": final,
                "iterations": trainer.iteration,
                "env_steps": trainer.env_steps,
                "wall_seconds": round(time.perf_counter() - started, 1),
                "train_seconds": round(trainer.train_seconds(), 1),
                "overrides": list(overrides),
                "config": settings,
            }
            (run_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
            log.info(json.dumps({"final_eval": final, "env_steps": trainer.env_steps}))
        return final
    finally:
        trainer.logger.close()  # what was logged before an error is kept


@hydra.main(config_path=CONFIG_DIR, config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    try:
        with one_line_errors(CheckpointWriteError, NonFiniteLossError):
            run(cfg, *hydra_job())
    except Stopped as stop:
        if rundirs.launched_rank() == 0:
            print(stop, file=sys.stderr)
        sys.exit(stop.code)


if __name__ == "__main__":
    main()
