"""The algorithms by their ``algo`` name: each one's settings schema and trainer, the one
table that the config store (:func:`assist.config.register`), the train CLI
(:func:`assist.cli.train.make_trainer`) and the tests read.

A trainer is named by its import path and imported only when it is built, so that
composing a config never imports ``transformers`` (the LM stages'). Every trainer is
built the same way, ``trainer(context, config=..., **parts)``: a
:class:`~assist.learning.trainer.TrainingContext`, its settings, and the parts its entry
names, which the caller builds from the config (a trainer never looks anything up by
name above its layer):

- ``net``: the policy-value network (``cfg.model``, its initial weights from the seed);
- ``search``: the search settings (``cfg.search``);
- ``episode_player``: the assistant-seat player of the episodes an LM stage plays at its
  start, the one ``config.episode_player()`` names (None where it names none);
- ``belief``: the search loop's frozen belief model, an Evaluator of the network of
  ``config.belief_run`` (None where it names none).
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

from assist.learning.assistancezero import AssistanceZeroConfig
from assist.learning.llm_configs import PretrainConfig, RLFTConfig, SearchLoopConfig, SFTConfig
from assist.learning.ppo import PPOConfig

PARTS = ("net", "search", "episode_player", "belief")
"""What a trainer may take beside its context and settings (see the module docstring)."""


class Algorithm(NamedTuple):
    """One algorithm: ``config``, its settings schema (a dataclass); ``trainer``, its
    trainer class as ``"module:Class"``; ``parts``, the keyword arguments of that class
    beside ``context`` and ``config`` (names from :data:`PARTS`)."""

    config: type
    trainer: str
    parts: tuple[str, ...]

    def trainer_class(self) -> type:
        """The trainer class, imported now."""
        module, name = self.trainer.split(":")
        return getattr(importlib.import_module(module), name)


ALGORITHMS: dict[str, Algorithm] = {
    "assistancezero": Algorithm(AssistanceZeroConfig, "assist.learning.assistancezero:AssistanceZeroTrainer", ("net", "search")),
    "ppo": Algorithm(PPOConfig, "assist.learning.ppo:PPOTrainer", ("net",)),
    "pretrain": Algorithm(PretrainConfig, "assist.learning.llm_pretrain:PretrainTrainer", ("episode_player",)),
    "sft": Algorithm(SFTConfig, "assist.learning.llm_sft:SFTTrainer", ("episode_player",)),
    "rlft": Algorithm(RLFTConfig, "assist.learning.llm_rlft:RLFTTrainer", ("episode_player",)),
    "search_loop": Algorithm(SearchLoopConfig, "assist.learning.llm_search:LMSearchTrainer", ("search", "belief")),
}
"""Every algorithm by its ``algo`` name; the LM pipeline's stages last, in pipeline order."""
