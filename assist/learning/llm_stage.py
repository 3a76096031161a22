"""What the LM pipeline's stages share: the starting model, the run's checkpoints and
model directory, evaluation (scored actions, and the free-text mode's parse failures) and
the loop.

The pipeline (``scripts/train.py algo=...``), each stage reading its starting model from
``algo.init`` and saving its own to ``<run_dir>/model``:

    pretrain -> sft -> rlft -> search_loop

``algo.init`` is a model directory (``save_pretrained`` of an LM and its tokenizer,
heads beside it or not) or a previous stage's run directory (its ``model/`` is read);
unset (null), the default small LM (``runs/llm/default``, created on first use).

Checkpoints and resume: one mechanism, the base :class:`~assist.learning.trainer.Trainer`'s
(:class:`~assist.learning.checkpoints.RunCheckpoint`: ``checkpoints/<iteration>/`` named
by the manifest, with the optimizer, counters, latest evaluation, every random generator
and the stateful parts: for ``search_loop`` the running games and the replay buffer).
:class:`LMCheckpoint` only stores the network differently: the LM, its tokenizer and the
heads as a model directory (``checkpoints/<iteration>/model``). Each published checkpoint's
model is then copied to ``<run_dir>/model``, the run's model directory for
``algo.init`` of the next stage and ``assistant=llm assistant.params.path=<run_dir>``;
``resume=true`` reads ``checkpoints/``, never ``model/``.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from assist import evaluation
from assist.learning.checkpoints import RunCheckpoint
from assist.learning.distributed import Group
from assist.learning.llm_configs import LMStageConfig, SearchLoopConfig
from assist.learning.trainer import Trainer, TrainingContext
from assist.llm.evaluator import LMEvaluator
from assist.llm.heads import Heads
from assist.llm.lm import RUN_MODEL, load_lm, quiet
from assist.llm.policy import LMPolicy, load_policy
from assist.models.base import Evaluator
from assist.models.composite import PriorAndModel
from assist.players import freetext
from assist.players.base import Player
from assist.players.freetext import FreeTextPlayer
from assist.players.policy import PolicyPlayer
from envs.core import ASSISTANT, GameCore


class LMCheckpoint(RunCheckpoint):
    """A run's checkpoints (``<run_dir>/checkpoints``, as :class:`RunCheckpoint` keeps them)
    with the network, an :class:`LMPolicy`, stored as a model directory (``model/`` in each
    checkpoint folder); every published checkpoint's model is also copied to
    ``<run_dir>/model`` (see the module docstring)."""

    def __init__(self, run_dir: Path, group: Group, tokenizer):
        super().__init__(Path(run_dir) / "checkpoints", group)
        self.tokenizer = tokenizer
        self.export = Path(run_dir) / RUN_MODEL

    def write_model(self, folder: Path, net: LMPolicy) -> None:
        with quiet():
            net.save(folder / RUN_MODEL, self.tokenizer)

    def read_model(self, folder: Path, net: LMPolicy) -> None:
        source = folder / RUN_MODEL
        if not (source / "config.json").is_file():
            raise FileNotFoundError(f"no model directory at {source}")
        lm, _ = load_lm(source, next(net.parameters()).device)
        try:
            net.lm.load_state_dict(lm.state_dict())
            net.heads.load_state_dict(Heads.load(source).state_dict())
        except RuntimeError as error:
            raise ValueError(f"{source} does not fit this run's LM ({error}): it was saved from another model or game") from error

    def _publish(self, staging: Path, name: str, counters: dict[str, int | float]) -> Path:
        final = super()._publish(staging, name, counters)
        replace_directory(final / RUN_MODEL, self.export)
        return final


def replace_directory(source: Path, target: Path) -> None:
    """Copy the folder ``source`` to ``target``, replacing it: the copy is made beside
    ``target`` and swapped in, so a crash leaves the previous one readable (at ``target``
    or, during the swap, ``.<name>.old`` beside it)."""
    staging, old = target.with_name(f".{target.name}.new"), target.with_name(f".{target.name}.old")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def frozen_reference(core: GameCore, init: str | None, device: torch.device) -> LMPolicy:
    """The starting model ``init`` again, frozen: the reference of the KL penalty."""
    reference, _ = load_policy(core, init, device)
    reference.requires_grad_(False)
    return reference.eval()


def free_text_eval(core: GameCore, human: Player, policy: LMPolicy, tokenizer, episodes: int, seed: int) -> dict[str, float]:
    """The LM in free-text mode (greedy) with ``human`` for ``episodes`` held-out episodes:
    ``text_goal_pct`` (mean), ``parse_failure_rate`` and ``illegal_rate`` (shares of its
    answers that named no action, or an illegal one; both are played as the no-op) and
    ``trailing_text_rate`` (the share that wrote on after naming an action)."""
    player = FreeTextPlayer(core, ASSISTANT, policy.lm, tokenizer)
    answers_log = logging.getLogger(freetext.__name__)
    level = answers_log.level
    answers_log.setLevel(logging.WARNING)  # counted here, not logged one by one
    try:
        results = evaluation.evaluate(core, human, player, episodes, episodes, seed)
    finally:
        answers_log.setLevel(level)
    answers = max(player.answers, 1)
    return {
        "text_goal_pct": float(np.mean(results["goal_pct"])),
        "parse_failure_rate": player.unparseable / answers,
        "illegal_rate": player.illegal / answers,
        "trailing_text_rate": player.trailing / answers,
    }


def rollout_episodes(core: GameCore, human: Player, assistant: Player, episodes: int, seed: int) -> list[dict[str, Any]]:
    """``episodes`` episodes of ``human`` with ``assistant`` on ``core``, as recording-format dicts."""
    record: list[dict[str, Any]] = []
    evaluation.evaluate(core, human, assistant, episodes, min(episodes, 64), seed, record=record)
    return record


class LMModel:
    """The LM part of a stage's trainer, mixed in before its loop's class (:class:`LMTrainer`,
    the search loop's :class:`~assist.learning.llm_search.LMSearchTrainer`): the starting
    model ``config.init`` (fresh heads seeded by the context's seed) as the loop's ``net``
    and ``evaluator``, its heads at ``config.head_lr``, and checkpoints that store it as a
    model directory (:class:`LMCheckpoint`). ``belief``: an Evaluator whose value, goal
    belief and human model the loop's ``evaluator`` takes instead of the LM heads' (the
    LM's scores stay the prior: :class:`~assist.models.composite.PriorAndModel`); None:
    the LM alone. ``parts``: the loop's other arguments.

    Attributes: ``policy`` (also ``net``), ``tokenizer``, ``evaluator`` (an
    :class:`LMEvaluator` of the policy on ``core``), ``encoder`` (its assistant's prompts
    and actions on ``core``).
    """

    def __init__(self, context: TrainingContext, config: LMStageConfig | SearchLoopConfig, belief: Evaluator | None = None, **parts):
        self.policy, self.tokenizer, evaluator = load_stage_model(context.core, config.init, context.seed, context.device, config.owner_offsets)
        played = evaluator if belief is None else PriorAndModel(evaluator, belief)
        super().__init__(context, net=self.policy, config=config, evaluator=played, **parts)
        self.encoder = evaluator.encoder
        self.checkpoint = LMCheckpoint(self.run_dir, context.group, self.tokenizer)

    def parameter_groups(self):
        return self.policy.parameter_groups(self.config.head_lr)


class LMTrainer(LMModel, Trainer):
    """Base of the pretrain, SFT and RLFT stages: the starting model (:class:`LMModel`),
    evaluation, and the loop. Trains on ``core`` with ``human`` in the human seat;
    evaluates on ``eval_core`` (held-out goals) with ``eval_human``. A subclass defines
    :meth:`iterate` (and prepares its data in ``__init__``, after this one's).

    ``episode_player``: the assistant-seat player of the episodes the stage plays at its
    start (pretrain's transcripts, SFT's demonstrations), the one ``config.episode_player()``
    names; the caller builds it (``assist.registry.make_player``), so the learning layer
    never looks players up by name.
    """

    def __init__(self, context: TrainingContext, config: LMStageConfig, episode_player: Player | None = None):
        if (episode_player is None) != (config.episode_player() is None):
            wanted = f"the {config.episode_player()!r} player" if config.episode_player() else "none"
            raise ValueError(f"{type(self).__name__}: episode_player must be {wanted} (config.episode_player()), got {episode_player!r}")
        super().__init__(context, config)
        self.episode_player = episode_player

    def iterate(self) -> dict[str, dict[str, float]]:
        """One iteration's learning (advancing ``env_steps``); scalars by prefix."""
        raise NotImplementedError

    def evaluate(self, record: list | None = None) -> dict[str, evaluation.Summary]:
        """Held-out evaluation of the LM's most likely legal action (no search), plus the
        free-text mode's counters (logged under ``eval/``)."""
        assistant = PolicyPlayer(self.eval_core, ASSISTANT, LMEvaluator(self.eval_core, self.policy, self.tokenizer))
        summary = self.evaluate_assistant(assistant, self.config.name, record)
        log_free_text_eval(self)
        return summary

    def train(self, progress=None) -> dict[str, Any]:
        """Run the remaining iterations (until :meth:`running` says stop); the latest evaluation's means."""
        while self.running():
            self.policy.train()
            tic = time.perf_counter()
            scalars = self.iterate()
            scalars.setdefault("perf", {})["iteration_s"] = time.perf_counter() - tic
            self.iteration += 1
            for prefix, values in scalars.items():
                self.logger.scalars(prefix, values, self.env_steps)
            self.finish_iteration(progress)
        self.logger.flush()
        return self.latest


def load_stage_model(core: GameCore, init: str | None, seed: int, device: str, owner_offsets: bool) -> tuple[LMPolicy, Any, LMEvaluator]:
    """A stage's starting model ``init`` (fresh heads seeded by ``seed``; with
    ``owner_offsets``, its heads given them: :meth:`~assist.llm.heads.Heads.with_owner_offsets`),
    its tokenizer, and its :class:`LMEvaluator` on ``core``."""
    torch.manual_seed(seed)  # fresh heads' initial weights
    policy, tokenizer = load_policy(core, init, device)
    if owner_offsets:
        policy.heads = policy.heads.with_owner_offsets()
    return policy, tokenizer, LMEvaluator(core, policy, tokenizer)


def log_free_text_eval(trainer) -> None:
    """Log :func:`free_text_eval` of ``trainer``'s policy under ``eval/`` (when
    ``config.eval_text_episodes`` > 0)."""
    episodes = trainer.config.eval_text_episodes
    if episodes:
        scalars = free_text_eval(trainer.eval_core, trainer.eval_human, trainer.policy, trainer.tokenizer, episodes, trainer.seed + 1)
        trainer.logger.scalars("eval", scalars, trainer.env_steps)
