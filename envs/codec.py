"""Text codec (docs/design.md, contract 3): observations to prompts, actions to short
strings and back. LM players and people in a terminal use it.

The game supplies the vocabulary (``core.action_names``) and the prompt
(``core.describe_observation``); this module only maps between them and rejects
anything that is not an action with a clear reason.
"""

from __future__ import annotations

import difflib

import numpy as np

from envs.core import AGENTS, ActionParseError, GameCore


def normalize(text: str) -> str:
    """Lower-case, strip, and collapse runs of whitespace to one space."""
    return " ".join(text.lower().split())


class TextCodec:
    """Maps ``core``'s actions to text and back, for both seats."""

    def __init__(self, core: GameCore):
        self.core = core
        self._names = {agent: core.action_names(agent) for agent in AGENTS}
        self._ids = {agent: {normalize(name): i for i, name in enumerate(names)} for agent, names in self._names.items()}
        for agent, names in self._names.items():
            if len(self._ids[agent]) != len(names):
                raise ValueError(f"{core.name}: {agent}'s action names are not unique after normalization")

    def action_text(self, agent: str, action: int) -> str:
        """The short string of ``action`` (an id in [0, A))."""
        return self._names[agent][int(action)]

    def parse(self, agent: str, text: str) -> int:
        """The action id that ``text`` names; :class:`ActionParseError` if it names none."""
        if not isinstance(text, str):
            raise ActionParseError(f"expected an action as a string, got {type(text).__name__}")
        key = normalize(text)
        if not key:
            raise ActionParseError("empty answer: expected an action such as " + repr(self._names[agent][0]))
        if key in self._ids[agent]:
            return self._ids[agent][key]
        close = difflib.get_close_matches(key, self._ids[agent].keys(), n=3, cutoff=0.6)
        hint = f"; did you mean {close}?" if close else f"; actions look like {self._names[agent][:3]}"
        raise ActionParseError(f"{text.strip()!r} is not an action of {agent} in {self.core.name}{hint}")

    def prompt(self, observation: dict[str, np.ndarray], agent: str) -> str:
        """The game's prompt for one (unbatched) observation."""
        return self.core.describe_observation(observation, agent)
