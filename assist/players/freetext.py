"""Free-text mode: the LM writes its action and the text codec parses it.

The LM continues each game's prompt (greedy, or sampled at a temperature) for at most
``max_new_tokens`` tokens or until EOS; the first line of the answer goes to
``TextCodec.parse``, and when the whole line names no action, its longest prefix of words
that does is read (counted in :attr:`FreeTextPlayer.trailing`): an LM trained to score
complete actions among candidates need not have learned to stop after one, and writes on
(``place dirt 3 2 2 2 2 ...``). An answer that names no action (``ActionParseError``) or names an
illegal one is replaced by the no-op (action 0), counted (:attr:`FreeTextPlayer.unparseable`,
:attr:`FreeTextPlayer.illegal`) and logged on this module's logger
(``assist.players.freetext``, level INFO) with the answer and the reason.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from assist.llm.encoding import TextEncoder
from assist.llm.scoring import check_positions, pad_prompts
from assist.players.base import BasePlayer, Turn
from envs.core import ActionParseError, GameCore

log = logging.getLogger(__name__)
NOOP = 0
"""The action an invalid answer becomes (every game's action 0 is its no-op)."""


class FreeTextPlayer(BasePlayer):
    """Acts by letting ``lm`` write the action as text.

    Args:
        temperature: 0 for greedy decoding, else sampling at this temperature (seeded
            from the player's random generator, so episodes replay).
        max_new_tokens: the longest answer in tokens.

    Attributes:
        answers, unparseable, illegal: answers read so far, and how many of them named no
            action or an illegal one (both played as the no-op).
        trailing: answers whose action was followed by more words (read without them).
        last_answers: the B answer texts of the latest turn.
    """

    def __init__(
        self,
        core: GameCore,
        seat: str,
        lm: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        temperature: float = 0.0,
        max_new_tokens: int = 16,
    ):
        super().__init__(core, seat)
        if not temperature >= 0:
            raise ValueError(f"temperature={temperature!r} must be >= 0 (0: greedy)")
        if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens={max_new_tokens!r} must be a positive int")
        self.lm, self.tokenizer = lm, tokenizer
        self.encoder = TextEncoder(core, tokenizer, seat)
        self.temperature, self.max_new_tokens = float(temperature), max_new_tokens
        self.answers = self.unparseable = self.illegal = self.trailing = 0
        self.last_answers: list[str] = []

    def act(self, turn: Turn) -> np.ndarray:
        self.last_answers = self.generate(self.encoder.prompts(turn.observation))
        actions = np.full(len(turn.legal), NOOP, np.int64)
        for row, answer in enumerate(self.last_answers):
            self.answers += 1
            try:
                action, trailing = self.read(answer)
            except ActionParseError as err:
                self.unparseable += 1
                log.info("%s: %s; playing the no-op", self.seat, err)
                continue
            self.trailing += trailing
            if not turn.legal[row, action]:
                self.illegal += 1
                log.info("%s answer %r is illegal now; playing the no-op", self.seat, answer)
                continue
            actions[row] = action
        return actions

    def read(self, answer: str) -> tuple[int, bool]:
        """The action ``answer`` names and whether more words followed it: the whole
        answer's, else its longest word prefix's; the whole answer's ActionParseError when
        no prefix names an action."""
        try:
            return self.encoder.codec.parse(self.seat, answer), False
        except ActionParseError:
            words = answer.split()
            for end in range(len(words) - 1, 0, -1):
                try:
                    return self.encoder.codec.parse(self.seat, " ".join(words[:end])), True
                except ActionParseError:
                    continue
            raise

    def generate(self, prompts: list[list[int]]) -> list[str]:
        """The LM's answer to each prompt (token ids): the decoded text up to EOS, first line only."""
        device = self.lm.device
        batch = pad_prompts(prompts, self.tokenizer.pad_token_id, device)
        check_positions(self.lm, batch.ids.shape[1] + self.max_new_tokens)
        sampling = (
            {"do_sample": True, "temperature": self.temperature, "top_k": 0, "top_p": 1.0} if self.temperature > 0 else {"do_sample": False}
        )
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.inference_mode():
            torch.manual_seed(int(self.rng.integers(2**63)))
            out = self.lm.generate(
                input_ids=batch.ids,
                attention_mask=batch.mask,
                max_new_tokens=self.max_new_tokens,
                eos_token_id=self.tokenizer.eos_token_id,
                pad_token_id=self.tokenizer.pad_token_id,
                **sampling,
            )
        texts = self.tokenizer.batch_decode(out[:, batch.ids.shape[1] :], skip_special_tokens=True)
        return [text.strip().split("\n")[0] for text in texts]
