"""A person at a terminal in either seat: the ANSI view, the prompt, typed actions.

Each step shows the game and the seat's prompt, then reads one line: an action in the
text codec's words (``help`` lists the legal ones, ``help all`` every one of them), an
empty line or end of input for the no-op.
Unparseable or illegal lines are explained and asked again, a few times at most, then
the step is a no-op: a person never crashes or stalls a run.
"""

from __future__ import annotations

import sys
from typing import ClassVar, NamedTuple, TextIO

import numpy as np

from assist.players.base import BasePlayer, Turn
from envs.codec import TextCodec
from envs.core import HUMAN, ActionParseError, GameCore

MAX_TRIES = 3
HELP_SHOWN = 20
"""How many legal actions ``help`` lists before it says how many more there are (``help all``: every one)."""


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
        self._say(self.core.render_ansi(turn.state, 0, goal=self.seat == HUMAN))
        self._say(self.codec.prompt({k: v[0] for k, v in turn.observation.items()}, self.seat))
        actions[0] = self._read_action(turn.legal[0])
        return actions

    def _read_action(self, legal: np.ndarray) -> int:
        for _ in range(MAX_TRIES):
            self.stdout.write(f"{self.seat}> ")
            self.stdout.flush()
            reply = interpret(self.codec, self.seat, self.stdin.readline(), legal)
            if reply.action is not None:
                return reply.action
            self._say(reply.message)
        self._say("no valid action: no-op this step")
        return 0


class Reply(NamedTuple):
    """What a typed line means: ``action`` to play (None: none, ``message`` says why)."""

    action: int | None
    message: str = ""


def interpret(codec: TextCodec, seat: str, line: str, legal: np.ndarray) -> Reply:
    """The meaning of one typed ``line`` for ``seat`` given its legal actions ([A] bool):
    an empty line is the no-op; ``help`` and ``help all`` list legal actions
    (:func:`legal_actions`); anything else must be a legal action in the codec's words, or
    the reply explains what is wrong."""
    text = line.strip()
    if not text:
        return Reply(0)
    if text.lower() in ("help", "help all"):
        return Reply(None, legal_actions(codec, seat, legal, every=text.lower() == "help all"))
    try:
        action = codec.parse(seat, text)
    except ActionParseError as error:
        return Reply(None, f"not an action: {error}")
    if not legal[action]:
        return Reply(None, f"{text!r} is not legal now; type 'help' for legal actions")
    return Reply(action)


def legal_actions(codec: TextCodec, seat: str, legal: np.ndarray, every: bool = False) -> str:
    """``help``'s answer for ``seat`` given its legal actions ([A] bool): the first
    :data:`HELP_SHOWN` of them in the codec's words and how many more there are, or with
    ``every`` all of them."""
    ids = np.flatnonzero(legal)
    shown = ids if every else ids[:HELP_SHOWN]
    names = ", ".join(codec.action_text(seat, a) for a in shown)
    if len(shown) == len(ids):
        return f"legal actions ({len(ids)}): {names}"
    return f"legal actions include: {names}, and {len(ids) - len(shown)} more ({len(ids)} in all; 'help all' lists every one)"
