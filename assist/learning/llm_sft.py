"""Stage 2 of the LM pipeline, ``algo=sft``: supervised fine-tuning on assistant-seat
demonstrations.

The demonstrations: the assistant seat's steps of recorded episodes (``data``: an
``assist-recording/v1`` file or a folder of them, e.g. recorded human play from
``scripts/play.py`` or ``scripts/evaluate.py record=true``), or else of ``episodes``
episodes of the human model with the ``demonstrator`` (the goal-knowing ``oracle`` by
default), played once at the start.

Each iteration takes ``updates`` Adam steps on ``batch`` steps drawn at random. Loss =
cross-entropy of the demonstrated action among the legal candidates, scored exactly as
the assistant scores them when it acts (:meth:`~assist.llm.policy.LMPolicy.outputs`)
+ ``goal_weight`` * the goal head's cross-entropy to the true goal (a label only)
+ ``value_weight`` * the value head's squared error to the discounted return of the
demonstration. Logged: each term, ``losses/accuracy`` (the demonstrated action is the
LM's most likely one), ``perf/tokens_per_s``; ``env_steps`` counts the steps trained on.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from assist import recording
from assist.learning import losses
from assist.learning.bc import recording_files
from assist.learning.llm_stage import LMTrainer, rollout_episodes
from assist.learning.losses import chosen_log_prob
from envs.core import ASSISTANT, GameCore


def recorded_episodes(core: GameCore, data: str | Path) -> tuple[GameCore, list[dict[str, Any]]]:
    """The game the recordings at ``data`` were made on and their episodes, checked against
    it (:func:`~assist.recording.read_game`); a ValueError when that game's assistant
    actions are not ``core``'s (the LM would name other actions)."""
    files = recording_files(data)
    episodes, recorded = [], None
    for path in files:
        rec, game = recording.read_game(path)
        if game.action_names(ASSISTANT) != core.action_names(ASSISTANT):
            raise ValueError(f"{path} was recorded on {rec.header['game']} {rec.header['config']}, whose assistant actions differ from this env's; train with the env config of the recording")
        recorded = recorded or game
        episodes.extend(rec.episodes)
    return recorded, episodes


class SFTTrainer(LMTrainer):
    """Fine-tunes the LM of ``config.init`` on assistant demonstrations on ``core``;
    evaluates on ``eval_core`` with ``eval_human``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        core, config = self.core, self.config
        if config.data is not None:
            game, episodes = recorded_episodes(core, config.data)
        else:
            game, episodes = core, rollout_episodes(core, self.human, self.episode_player, config.episodes, self.seed)
        self.steps = recording.seat_steps(game, episodes, ASSISTANT)
        self.returns = losses.discounted_returns(
            torch.from_numpy(self.steps.reward)[:, None], torch.from_numpy(self.steps.ends)[:, None], torch.zeros(1), config.discount
        )[:, 0]

    def iterate(self) -> dict[str, dict[str, float]]:
        cfg, steps = self.config, self.steps
        terms, tokens = [], 0
        tic = time.perf_counter()
        for _ in range(cfg.updates):
            rows = self.rng.integers(len(steps.action), size=cfg.batch)
            out, read = self.policy.outputs(self.encoder, {k: v[rows] for k, v in steps.observation.items()}, steps.legal[rows])
            legal, action = torch.from_numpy(steps.legal[rows]).to(self.device), torch.from_numpy(steps.action[rows]).to(self.device)
            term = {
                "policy": -chosen_log_prob(out.policy_logits, legal, action).mean(),
                "goal": losses.goal_loss(out.goal_logits, torch.from_numpy(steps.goal[rows]).to(self.device)),
                "value": losses.value_loss(out.value, self.returns[rows].to(self.device)),
            }
            total = term["policy"] + cfg.goal_weight * term["goal"] + cfg.value_weight * term["value"]
            grad_norm = self.apply_gradients(total, cfg.grad_clip, term)
            accuracy = (out.policy_logits.argmax(dim=1) == action).float().mean()
            terms.append({**{k: v.item() for k, v in term.items()}, "total": total.item(), "accuracy": accuracy.item(), "grad_norm": grad_norm})
            tokens += read
        self.env_steps += cfg.updates * cfg.batch
        return {"losses": {key: float(np.mean([t[key] for t in terms])) for key in terms[0]}, "perf": {"tokens_per_s": tokens / (time.perf_counter() - tic)}}
