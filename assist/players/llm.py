"""The LM assistant as players (:mod:`assist.llm`), from a local model directory.

- ``llm``: scores every legal action's text after the prompt and plays the most likely
  one (or samples at ``temperature``); with ``simulations`` > 0 it searches instead, with
  the LM's scores as the MCTS prior and its heads as value, goal belief and human model.
- ``llm_text``: the LM writes its action and the codec parses it (free-text mode).

``path``: any local Hugging Face causal-LM directory (``save_pretrained`` of a model and
its tokenizer; ``heads.safetensors`` beside it if trained); None: the default small model,
created in ``runs/llm/default`` on first use.

:mod:`assist.llm` is imported when one of these players is made, not with this module:
``transformers`` takes seconds to import, and every entry point imports the players.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from assist.models.torch_evaluator import resolve_device
from assist.players.base import MemoryPlayer
from assist.players.policy import PolicyPlayer
from assist.players.search import SearchPlayer
from assist.search.config import SearchConfig, check_search_settings
from envs.core import ASSISTANT, GameCore

if TYPE_CHECKING:
    from assist.players.freetext import FreeTextPlayer


def llm(
    core: GameCore,
    seat: str,
    path: str | None = None,
    temperature: float = 0.0,
    simulations: int = 0,
    search: Mapping[str, Any] | None = None,
    device: str = "auto",
) -> MemoryPlayer:
    """The LM assistant of model directory ``path`` in the assistant's seat: its most
    likely legal action (``temperature`` 0), a sample at ``temperature`` > 0, or with
    ``simulations`` > 0 the best action of an MCTS over it (no root noise), with the
    search settings ``search`` (``{setting: value}``, the others :class:`SearchConfig`'s
    defaults)."""
    if seat != ASSISTANT:
        raise ValueError(f"the llm player sits in the {ASSISTANT} seat, not {seat!r}; for another seat use llm_text")
    if not temperature >= 0 or not isinstance(simulations, int) or simulations < 0:
        raise ValueError(f"llm: temperature={temperature!r} must be >= 0 and simulations={simulations!r} an int >= 0")
    check_search_settings(search or {})
    from assist.llm.evaluator import LMEvaluator

    evaluator = LMEvaluator.load(core, path, device)
    if simulations:
        return SearchPlayer(core, seat, evaluator, SearchConfig(**(search or {})).for_evaluation(simulations))
    return PolicyPlayer(core, seat, evaluator, sample=temperature > 0, temperature=temperature or 1.0)


def llm_text(
    core: GameCore, seat: str, path: str | None = None, temperature: float = 0.0, max_new_tokens: int = 16, device: str = "auto"
) -> FreeTextPlayer:
    """The LM of model directory ``path`` writing its actions as text (any seat):
    greedy at ``temperature`` 0, else sampled; at most ``max_new_tokens`` tokens."""
    from assist.llm.lm import ensure_default_lm, load_lm
    from assist.players.freetext import FreeTextPlayer

    lm, tokenizer = load_lm(ensure_default_lm() if path is None else path, resolve_device(device))
    return FreeTextPlayer(core, seat, lm, tokenizer, temperature, max_new_tokens)
