"""A person at a terminal in either seat: the ANSI view, the prompt, typed actions.

Each step shows the game and the seat's prompt, then reads one line: an action in the
text codec's words (``help`` lists some), an empty line or end of input for the no-op.
Unparseable or illegal lines are explained and asked again, a few times at most, then
the step is a no-op: a person never crashes or stalls a run.
"""

from __future__ import annotations

import sys
from typing import ClassVar, TextIO

import numpy as np

from assist.players.base import BasePlayer, Turn
from envs.codec import TextCodec
from envs.core import ActionParseError, GameCore

MAX_TRIES = 3


class TerminalPlayer(BasePlayer):
    """Plays game row 0 of the batch by reading lines from ``stdin`` (other rows no-op)."""

    privileged: ClassVar[bool] = True
    """A person sees the full game picture (the human seat's picture holds its goal)."""

    def __init__(self, core: GameCore, seat: str, stdin: TextIO | None = None, stdout: TextIO | None = None):
        super().__init__(core, seat)
        self.codec = TextCodec(core)
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout

    def _say(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def act(self, turn: Turn) -> np.ndarray:
        actions = np.zeros(len(turn.legal), np.int64)
        self._say(self.core.render_ansi(turn.state, 0))
        self._say(self.codec.prompt({k: v[0] for k, v in turn.observation.items()}, self.seat))
        actions[0] = self._read_action(turn.legal[0])
        return actions

    def _read_action(self, legal: np.ndarray) -> int:
        for _ in range(MAX_TRIES):
            self.stdout.write(f"{self.seat}> ")
            self.stdout.flush()
            line = self.stdin.readline()
            if not line.strip():
                return 0
            if line.strip().lower() == "help":
                legal_ids = np.flatnonzero(legal)
                self._say("legal actions include: " + ", ".join(self.codec.action_text(self.seat, a) for a in legal_ids[:20]))
                continue
            try:
                action = self.codec.parse(self.seat, line)
            except ActionParseError as error:
                self._say(f"not an action: {error}")
                continue
            if legal[action]:
                return action
            self._say(f"{line.strip()!r} is not legal now; type 'help' for legal actions")
        self._say("no valid action: no-op this step")
        return 0
