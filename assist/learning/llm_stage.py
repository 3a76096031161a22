"""What the LM pipeline's stages share: the starting model, the run's model directory,
evaluation (scored actions, and the free-text mode's parse failures) and the loop.

The pipeline (``scripts/train.py algo=...``), each stage reading its starting model from
``algo.init`` and saving its own to ``<run_dir>/model``:

    pretrain -> sft -> rlft -> search_loop

``algo.init`` is a model directory (``save_pretrained`` of an LM and its tokenizer,
heads beside it or not) or a previous stage's run directory (its ``model/`` is read);
unset (null), the default small LM (``runs/llm/default``, created on first use). A
stage's ``<run_dir>/model`` holds the LM, the tokenizer, the heads
(``heads.safetensors`` + ``heads.json``) and ``trainer.pt`` (optimizer state and
counters, loadable with ``weights_only=True``): it is at once a model directory for
``assistant=llm assistant.params.path=...`` and what ``resume=true`` continues from.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from assist import evaluation
from assist.learning.llm_configs import LMStageConfig
from assist.learning.trainer import Trainer
from assist.llm import freetext
from assist.llm.encoding import TextEncoder
from assist.llm.evaluator import LMEvaluator
from assist.llm.freetext import FreeTextPlayer
from assist.llm.heads import Heads
from assist.llm.lm import RUN_MODEL, load_lm, quiet
from assist.llm.policy import LMPolicy, load_policy
from assist.logger import RunLogger
from assist.models.checkpoint import atomic_write
from assist.players.base import Player
from assist.players.policy import PolicyPlayer
from envs.core import ASSISTANT, GameCore

TRAINER = "trainer.pt"
"""Optimizer state and counters, beside the model in ``<run_dir>/model``."""


class LMCheckpoint:
    """A run's model directory (``<run_dir>/model``), with the surface of
    :class:`~assist.learning.checkpoints.RunCheckpoint` so :class:`Trainer` saves and
    resumes it. A save is written beside it and swapped in, so a crash mid-save leaves the
    previous model readable (at ``directory`` or, during the swap, ``.<name>.old``)."""

    def __init__(self, directory: Path, tokenizer):
        self.directory, self.tokenizer = Path(directory), tokenizer

    def save(self, policy: LMPolicy, optimizer: torch.optim.Optimizer, counters: dict[str, int]) -> None:
        parent = self.directory.parent
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{self.directory.name}.", dir=parent))
        old = parent / f".{self.directory.name}.old"
        try:
            with quiet():
                policy.save(staging, self.tokenizer)
            buffer = io.BytesIO()
            torch.save({"optimizer": optimizer.state_dict(), "counters": counters}, buffer)
            atomic_write(staging / TRAINER, buffer.getvalue())
            shutil.rmtree(old, ignore_errors=True)
            if self.directory.exists():
                os.replace(self.directory, old)
            os.replace(staging, self.directory)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def load(self, policy: LMPolicy, optimizer: torch.optim.Optimizer | None = None) -> dict[str, Any] | None:
        """Load the saved model into ``policy`` (and ``optimizer``); the counters, or None
        when the run has saved none yet."""
        path = self.directory / TRAINER
        if not path.is_file():
            return None
        device = next(policy.parameters()).device
        lm, _ = load_lm(self.directory, device)
        policy.lm.load_state_dict(lm.state_dict())
        policy.heads.load_state_dict(Heads.load(self.directory).state_dict())
        try:
            state = torch.load(path, weights_only=True, map_location=device)
        except Exception as error:  # torch raises many kinds for damaged files
            raise ValueError(f"{path} is not a readable trainer state: {error}; delete {self.directory} to start afresh") from error
        if optimizer is not None:
            optimizer.load_state_dict(state["optimizer"])
        return state["counters"]


def frozen_reference(core: GameCore, init: str | None, device: torch.device) -> LMPolicy:
    """The starting model ``init`` again, frozen: the reference of the KL penalty."""
    reference, _ = load_policy(core, init, device)
    reference.requires_grad_(False)
    return reference.eval()


def free_text_eval(core: GameCore, human: Player, policy: LMPolicy, tokenizer, episodes: int, seed: int) -> dict[str, float]:
    """The LM in free-text mode (greedy) with ``human`` for ``episodes`` held-out episodes:
    ``text_goal_pct`` (mean), ``parse_failure_rate`` and ``illegal_rate`` (shares of its
    answers that named no action, or an illegal one; both are played as the no-op)."""
    player = FreeTextPlayer(core, ASSISTANT, policy.lm, tokenizer)
    answers_log = logging.getLogger(freetext.__name__)
    level = answers_log.level
    answers_log.setLevel(logging.WARNING)  # counted here, not logged one by one
    try:
        results = evaluation.evaluate(core, human, player, episodes, episodes, seed)
    finally:
        answers_log.setLevel(level)
    answers = max(player.answers, 1)
    return {"text_goal_pct": float(np.mean(results["goal_pct"])), "parse_failure_rate": player.unparseable / answers, "illegal_rate": player.illegal / answers}


def rollout_episodes(core: GameCore, human: Player, assistant: Player, episodes: int, seed: int) -> list[dict[str, Any]]:
    """``episodes`` episodes of ``human`` with ``assistant`` on ``core``, as recording-format dicts."""
    record: list[dict[str, Any]] = []
    evaluation.evaluate(core, human, assistant, episodes, min(episodes, 64), seed, record=record)
    return record


class LMTrainer(Trainer):
    """Base of the pretrain, SFT and RLFT stages: the starting model and its optimizer, the
    run's model directory, evaluation, and the loop. Trains on ``core`` with ``human`` in
    the human seat; evaluates on ``eval_core`` (held-out goals) with ``eval_human``. A
    subclass defines :meth:`iterate` (and prepares its data in ``__init__``, after this one's).

    Attributes: ``policy`` (also ``net``), ``tokenizer``, ``encoder`` (the assistant's
    prompts and actions on ``core``), ``rng``.
    """

    def __init__(
        self,
        core: GameCore,
        eval_core: GameCore,
        human: Player,
        eval_human: Player,
        config: LMStageConfig,
        run_dir: Path,
        seed: int,
        device: str = "auto",
        logger: RunLogger | None = None,
    ):
        self.core, self.eval_core, self.human, self.eval_human, self.config = core, eval_core, human, eval_human, config
        self.rng = np.random.default_rng(seed)
        torch.manual_seed(seed)  # fresh heads' initial weights too
        self.policy, self.tokenizer = load_policy(core, config.init, device)
        self.net = self.policy
        self.device = next(self.policy.parameters()).device
        self.encoder = TextEncoder(core, self.tokenizer, ASSISTANT)
        self.optimizer = torch.optim.AdamW(self.policy.parameters(), lr=config.lr, weight_decay=0.0)
        self.checkpoint = LMCheckpoint(Path(run_dir) / RUN_MODEL, self.tokenizer)
        self.logger = logger if logger is not None else RunLogger(Path(run_dir))
        self.seed = seed
        self.iteration = 0
        self.env_steps = 0

    def iterate(self) -> dict[str, dict[str, float]]:
        """One iteration's learning (advancing ``env_steps``); scalars by prefix."""
        raise NotImplementedError

    def apply_gradients(self) -> float:
        """Clip the accumulated gradients, take an optimizer step, clear them; the norm."""
        norm = nn.utils.clip_grad_norm_(self.policy.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(norm)

    def evaluate(self, record: list | None = None) -> dict[str, evaluation.Summary]:
        """Held-out evaluation of the LM's most likely legal action (no search), plus the
        free-text mode's counters (logged under ``eval/``)."""
        assistant = PolicyPlayer(self.eval_core, ASSISTANT, LMEvaluator(self.eval_core, self.policy, self.tokenizer))
        results = evaluation.evaluate(self.eval_core, self.eval_human, assistant, self.config.eval_episodes, self.config.eval_episodes, self.seed + 1, record=record)
        log_free_text_eval(self)
        return evaluation.summarize({self.config.name: results}, seed=self.seed)[self.config.name]

    def train(self, progress=None) -> dict[str, Any]:
        """Run the remaining iterations; returns the last evaluation's means."""
        latest: dict[str, float] = {}
        self.optimizer.zero_grad(set_to_none=True)
        while self.iteration < self.config.iterations:
            self.policy.train()
            tic = time.perf_counter()
            scalars = self.iterate()
            scalars.setdefault("perf", {})["iteration_s"] = time.perf_counter() - tic
            self.iteration += 1
            for prefix, values in scalars.items():
                self.logger.scalars(prefix, values, self.env_steps)
            latest = self.finish_iteration(latest, progress)
        self.logger.flush()
        return latest


def log_free_text_eval(trainer) -> None:
    """Log :func:`free_text_eval` of ``trainer``'s policy under ``eval/`` (when
    ``config.eval_text_episodes`` > 0)."""
    episodes = trainer.config.eval_text_episodes
    if episodes:
        scalars = free_text_eval(trainer.eval_core, trainer.eval_human, trainer.policy, trainer.tokenizer, episodes, trainer.seed + 1)
        trainer.logger.scalars("eval", scalars, trainer.env_steps)
