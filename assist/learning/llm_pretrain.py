"""Stage 1 of the LM pipeline, ``algo=pretrain``: next-token training on text transcripts.

The corpus: ``episodes`` episodes of the human model with the ``assistant`` player
(``noop`` by default, so the text is scripted-human play; ``oracle`` adds a goal-knowing
assistant), made once at the start. Each step of each of ``seats`` becomes one text in
the LM assistant's own grammar: the seat's prompt (the text codec's, ending with the
separator) followed by the action it took (``" " + action text`` and EOS), as the same
token ids the assistant later scores (:class:`~assist.llm.encoding.TextEncoder`). The
human's prompts show the goal, so a model pretrained on them has seen goal-directed
building without being taught to assist.

Each iteration takes ``updates`` Adam steps, each on ``batch`` texts drawn at random,
minimizing the mean next-token cross-entropy over their real tokens (padding masked).
Logged: ``losses/next_token`` (nats per token), ``losses/grad_norm``,
``perf/tokens_per_s``; ``env_steps`` counts the transcript steps trained on.
"""

from __future__ import annotations

import time

import numpy as np

from assist import recording
from assist.learning.llm_stage import LMTrainer, rollout_episodes
from assist.learning.losses import next_token_loss
from assist.llm.encoding import TextEncoder
from assist.llm.scoring import check_positions, pad_candidates, positions
from envs.core import GameCore


def transcripts(core: GameCore, tokenizer, episodes: list[dict], seats: list[str]) -> list[list[int]]:
    """The token ids of every step of ``seats`` in ``episodes``: the seat's prompt, then its action."""
    texts: list[list[int]] = []
    for seat in seats:
        encoder = TextEncoder(core, tokenizer, seat)
        steps = recording.seat_steps(core, episodes, seat)
        texts.extend(prompt + encoder.actions[action] for prompt, action in zip(encoder.prompts(steps.observation), steps.action))
    return texts


class PretrainTrainer(LMTrainer):
    """Pretrains the LM of ``config.init`` on transcripts of ``human`` (with
    ``config.assistant``) on ``core``; evaluates on ``eval_core`` with ``eval_human``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        core, config = self.core, self.config
        self.texts = transcripts(core, self.tokenizer, rollout_episodes(core, self.human, self.episode_player, config.episodes, self.seed), config.seats)

    def iterate(self) -> dict[str, dict[str, float]]:
        cfg, lm = self.config, self.policy.lm
        losses, norms, tokens = [], [], 0
        tic = time.perf_counter()
        for _ in range(cfg.updates):
            rows = self.rng.integers(len(self.texts), size=cfg.batch)
            batch = pad_candidates([self.texts[row] for row in rows], [0] * len(rows), self.tokenizer.pad_token_id, self.device)  # right-padded texts
            check_positions(lm, batch.ids.shape[1])
            logits = lm(input_ids=batch.ids, attention_mask=batch.mask, position_ids=positions(batch.mask)).logits
            loss = next_token_loss(logits, batch.ids, batch.mask)
            norms.append(self.apply_gradients(loss, cfg.grad_clip, {"next_token": loss}))
            losses.append(loss.item())
            tokens += int(batch.mask.sum())
        self.env_steps += cfg.updates * cfg.batch
        return {
            "losses": {"next_token": float(np.mean(losses)), "total": float(np.mean(losses)), "grad_norm": float(np.mean(norms))},
            "perf": {"tokens_per_s": tokens / (time.perf_counter() - tic)},
        }
