"""Tokenizers over the text codec's text, built locally with ``tokenizers``: the default
word-level one (:func:`build_tokenizer`) and a byte-level BPE (:func:`build_bpe_tokenizer`),
trained on the same text.

The word-level one splits text into *pieces*: a run of letters (and underscores), a single digit, or a
single punctuation mark, each carrying a ``▁`` marker when a space came before it:

    "place planks 10 2 3"  ->  ▁place ▁planks ▁1 0 ▁2 ▁3
    "step 3/60; reach 4.5" ->  ▁step ▁3 / 6 0 ; ▁reach ▁4 . 5

Whitespace runs (newlines included) become one space first. Because every piece keeps
its space marker, decoding is exact (``decode(encode(text)) == text`` for normalized text,
which the free-text mode relies on), and any number is spelled by ten digit pieces.

The vocabulary is every piece of every game's action names (both seats) and of the
prompts along random rollouts of every configuration in :func:`vocabulary_cores`, plus the
digits and the special tokens; nothing is written by hand. Prompts thereby tokenize
without ``<unk>`` (``tests/test_llm_tokenizer.py`` checks it on fresh rollouts). Those
are `build`'s default prompt format (``v1``); the other formats
(:data:`envs.building.render.PROMPTS`) are worded in the same pieces, so the vocabulary,
and with it the default LM (what ``algo.init=null`` means in a committed run's config),
stays as it was (the same test checks every format).

The byte-level BPE learns its merges from that same text and needs no vocabulary of
words: any text, even outside the grammar, encodes without ``<unk>``, as the tokenizers
of pretrained models (GPT-2's, Qwen2's) do. Either is a
:class:`~transformers.PreTrainedTokenizerFast`: ``save_pretrained`` writes it,
``AutoTokenizer.from_pretrained`` reads it back.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

import envs
from envs.building.config import PRESETS as BUILD_PRESETS
from envs.core import AGENTS, GameCore
from envs.kitchen.variants import VARIANTS as KITCHEN_VARIANTS

SPACE = "▁"
"""The marker of a preceding space inside a piece (SentencePiece's convention)."""
PIECE = rf"{SPACE}?(?:\d|[^\W\d]+|[^\w\s])"
"""One piece: an optional space marker, then a digit, a run of letters/underscores, or a punctuation mark."""
BOS, EOS, PAD, UNK = "<s>", "</s>", "<pad>", "<unk>"
SEPARATOR = "\naction:"
"""Ends every prompt: the action follows it (as ``" " + action text``, then EOS)."""
ROLLOUT_STEPS = 40
"""Steps of random play per configuration when collecting prompt text."""
BPE_VOCAB = 512
"""Default size of :func:`build_bpe_tokenizer`'s vocabulary: 256 bytes, 3 special tokens
and the most frequent merges (the games' text has about 570 tokens' worth of merges, so
some words stay split)."""


def vocabulary_cores() -> Iterator[GameCore]:
    """Every game configuration whose text the default vocabulary covers: each `build`
    preset with chat on (chat adds the ``say`` words) and each `kitchen` variant."""
    for preset in BUILD_PRESETS:
        yield envs.make_core("build", preset=preset, chat=True)
    for variant in KITCHEN_VARIANTS:
        yield envs.make_core("kitchen", variant=variant)


def core_texts(core: GameCore, seed: int = 0, batch: int = 8, steps: int = ROLLOUT_STEPS) -> Iterator[str]:
    """Text ``core`` shows an LM: every action name of both seats, and both seats'
    prompts along ``batch`` games of ``steps`` random legal steps (finished games restart)."""
    for agent in AGENTS:
        yield from core.action_names(agent)
    rng = np.random.default_rng(seed)
    state = core.reset(batch, rng)
    for _ in range(steps):
        for agent in AGENTS:
            observation = core.observe(state, agent)
            for row in range(batch):
                yield core.describe_observation({key: value[row] for key, value in observation.items()}, agent)
        legal = [core.legal_mask(state, agent) for agent in AGENTS]
        core.step(state, np.stack([np.argmax(np.where(mask, rng.random(mask.shape), -1.0), axis=1) for mask in legal], axis=1))
        if state.done.all():
            state = core.reset(batch, rng)


def _normalizer() -> normalizers.Normalizer:
    """Whitespace runs to one space, stripped, each space as the marker, one marker in front."""
    return normalizers.Sequence(
        [normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip(), normalizers.Prepend(" "), normalizers.Replace(" ", SPACE)]
    )


def build_tokenizer(texts: Iterator[str] | None = None) -> PreTrainedTokenizerFast:
    """A word-level tokenizer whose vocabulary is every piece of ``texts`` (default: the
    text of every configuration in :func:`vocabulary_cores`), the digits with and
    without the space marker, and the special tokens ``<pad> <unk> <s> </s>``.

    Encoding with special tokens prepends ``<s>``; the separator (:data:`SEPARATOR`) is
    in the vocabulary.
    """
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    tokenizer.normalizer = _normalizer()
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(PIECE), behavior="isolated")
    tokenizer.decoder = decoders.Metaspace(replacement=SPACE, prepend_scheme="always")
    trainer = trainers.WordLevelTrainer(special_tokens=[PAD, UNK, BOS, EOS], min_frequency=0, show_progress=False)
    return _trained(tokenizer, trainer, texts, unk_token=UNK)


def build_bpe_tokenizer(texts: Iterator[str] | None = None, vocab_size: int = BPE_VOCAB) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (GPT-2's pre-tokenizer and its 256-byte alphabet, so any
    text encodes and decodes exactly, with no ``<unk>``) with ``vocab_size`` tokens
    learned from the same ``texts`` as :func:`build_tokenizer` (default: every configuration in
    :func:`vocabulary_cores`), and the special tokens ``<pad> <s> </s>``.

    Encoding with special tokens prepends ``<s>``. The pre-tokenizer starts a new piece at
    every space, so no merge crosses the space before an action: a prompt's ids followed by
    an action's are the ids of the prompt's text followed by the action's
    (``tests/test_llm_architectures.py`` checks it).
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[PAD, BOS, EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    return _trained(tokenizer, trainer, texts)


def _trained(tokenizer: Tokenizer, trainer: trainers.Trainer, texts: Iterator[str] | None, **special: str) -> PreTrainedTokenizerFast:
    """``tokenizer`` trained by ``trainer`` on ``texts`` (None: the text of every
    :func:`vocabulary_cores` configuration) and the fixed texts, prepending ``<s>`` when
    encoding with special tokens, wrapped for ``transformers`` with ``<s> </s> <pad>`` and ``special``."""
    if texts is None:
        texts = (text for core in vocabulary_cores() for text in core_texts(core))
    tokenizer.train_from_iterator(_with_fixed_texts(texts), trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", special_tokens=[(BOS, tokenizer.token_to_id(BOS))])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, pad_token=PAD, **special)


def _with_fixed_texts(texts: Iterator[str]) -> Iterator[str]:
    """``texts`` after the separator and the ten digits with and without a space before them."""
    yield SEPARATOR
    yield " ".join(map(str, range(10)))
    yield "".join(map(str, range(10)))
    yield from texts
