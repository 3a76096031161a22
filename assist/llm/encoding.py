"""Token ids of one game's prompts and actions, for one tokenizer.

The prompt of an observation is the text codec's (``TextCodec.prompt``: the world, the
human's recent actions and, with chat on, what the human said) followed by
:data:`~assist.llm.tokenizer.SEPARATOR`, tokenized with the tokenizer's special tokens.
Every action's ids are those ``" " + action text`` has after the separator, then EOS
(:func:`action_ids`), computed once: candidate sequences are always these ids,
concatenated after the prompt's, never re-tokenized text, so learning and acting see the
same tokens, and they are the ids of the prompt's text followed by the action's (for
tokenizers that start a new piece at the space, as byte-level BPE and the word-level
one do; ``tests/test_llm_architectures.py`` checks it). Ending with EOS makes the scores of all
actions a distribution over complete answers (a short action is not favoured for being
a prefix of nothing).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from assist.llm.scoring import Candidates, Prompts, pad_candidates, pad_prompts
from assist.llm.tokenizer import SEPARATOR
from envs.codec import TextCodec
from envs.core import ASSISTANT, GameCore

log = logging.getLogger(__name__)


def action_ids(tokenizer: PreTrainedTokenizerBase, names: list[str]) -> list[list[int]]:
    """Each action name's token ids as they follow a prompt, then EOS: the ids of
    ``SEPARATOR + " " + name`` after those of the separator alone (no special tokens).
    Tokenized where it is scored (after the separator), not alone, so the ids are the
    action's there whatever a tokenizer does at the start of a text. A ValueError naming
    the action when the separator's ids are not a prefix of them: a merge crosses the
    space after the separator (e.g. a BPE trained without splitting at spaces), so no ids
    are the action's alone."""
    head = tokenizer(SEPARATOR, add_special_tokens=False)["input_ids"]
    rows = tokenizer([SEPARATOR + " " + name for name in names], add_special_tokens=False)["input_ids"]
    for name, row in zip(names, rows):
        if row[: len(head)] != head or len(row) == len(head):
            raise ValueError(
                f"this tokenizer merges {SEPARATOR!r} with the action {name!r} after it, so an action's ids cannot be "
                "appended to a prompt's; use a tokenizer that starts a new token at a space (a byte-level BPE, as GPT-2's, "
                "Qwen2's or assist.llm.tokenizer.build_bpe_tokenizer)"
            )
    return [list(row[len(head) :]) + [tokenizer.eos_token_id] for row in rows]


class TextEncoder:
    """Prompts and action candidates of ``agent`` in ``core``'s game as token ids.

    Attributes:
        codec: the game's :class:`~envs.codec.TextCodec`.
        actions: ``actions[a]`` the token ids of action ``a`` (ending with EOS).
        table: every action as a right-padded candidate (:class:`Candidates` of A rows, on the CPU).

    Raises ValueError when an action's text contains a word the tokenizer does not know
    (the model could never name that action).
    """

    def __init__(self, core: GameCore, tokenizer: PreTrainedTokenizerBase, agent: str = ASSISTANT):
        self.core, self.tokenizer, self.agent = core, tokenizer, agent
        self.codec = TextCodec(core)
        names = core.action_names(agent)
        self.actions: list[list[int]] = action_ids(tokenizer, names)
        unknown = [name for name, row in zip(names, self.actions) if tokenizer.unk_token_id is not None and tokenizer.unk_token_id in row]
        if unknown:
            raise ValueError(
                f"the tokenizer does not know every word of {core.name}'s actions (e.g. {unknown[:3]}); "
                "use a model directory whose tokenizer covers this game (the default model's covers every game)"
            )
        self.table = pad_candidates(self.actions, [0] * len(self.actions), tokenizer.pad_token_id)
        self._warned_unknown = False

    def prompt_texts(self, observation: dict[str, np.ndarray]) -> list[str]:
        """The B prompt texts of a batched observation (arrays with leading B)."""
        batch = len(next(iter(observation.values())))
        return [self.codec.prompt({key: value[row] for key, value in observation.items()}, self.agent) + SEPARATOR for row in range(batch)]

    def prompts(self, observation: dict[str, np.ndarray]) -> list[list[int]]:
        """The B prompts' token ids (with the tokenizer's special tokens, e.g. BOS)."""
        ids = self.tokenizer(self.prompt_texts(observation))["input_ids"]
        unk = self.tokenizer.unk_token_id
        if unk is not None and not self._warned_unknown and any(unk in row for row in ids):
            self._warned_unknown = True
            log.warning("%s prompts contain words this tokenizer does not know (read as %s)", self.core.name, self.tokenizer.unk_token)
        return ids

    def batch(
        self, observation: dict[str, np.ndarray], legal: np.ndarray | None, device: torch.device | str = "cpu"
    ) -> tuple[Prompts, Candidates, np.ndarray]:
        """Padded prompts (B rows) and the candidates to score: every legal action of each
        game (``legal`` [B, A] bool; None: every action). Also returns [N, 2] int64 (game,
        action) of each candidate row."""
        prompts = self.prompts(observation)
        if legal is None:
            legal = np.ones((len(prompts), len(self.actions)), bool)
        pairs = np.argwhere(legal)  # [N, 2] (game, action), games in order
        if len(pairs) == 0 or not legal.any(axis=1).all():
            raise ValueError(f"every game needs a legal action; rows {np.flatnonzero(~legal.any(axis=1)).tolist()} have none")
        actions = torch.from_numpy(pairs[:, 1])
        mask = self.table.mask[actions]
        length = int(mask.sum(dim=1).max())  # trim the padding no chosen action needs
        candidates = Candidates(
            self.table.ids[actions, :length].to(device), mask[:, :length].to(device), torch.from_numpy(pairs[:, 0]).to(device)
        )
        return pad_prompts(prompts, self.tokenizer.pad_token_id, device), candidates, pairs
