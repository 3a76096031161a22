"""Play a session from a terminal, in either seat: the ANSI view, the text codec's prompt,
typed actions.

Each step shows the game (the goal only to the human's seat), the seat's prompt and what
both seats did last, then reads one line: an action in the codec's words, ``help``,
``quit``, or an empty line for the no-op. With a ``timeout`` (seconds), a step with no
valid line by then is a no-op: the game goes on without the person. Unparseable or
illegal lines are explained and asked again within the same step; they never end the game.
End of input ends play (like ``quit``); the caller saves the recording.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import TextIO

from assist.players.terminal import interpret
from assist.ui.session import Session, Snapshot
from envs.codec import TextCodec
from envs.core import AGENTS, HUMAN

QUIT_WORDS = ("quit", "exit")
TIMED_OUT = object()
"""What :meth:`LineReader.read` returns when no line came in time."""


class LineReader:
    """Lines of a text stream, read on a daemon thread so that a wait can time out.
    ``read`` returns a line, ``None`` at end of input, or :data:`TIMED_OUT`."""

    def __init__(self, stream: TextIO):
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ended = False
        threading.Thread(target=self._pump, args=(stream,), name="terminal-input", daemon=True).start()

    def _pump(self, stream: TextIO) -> None:
        for line in iter(stream.readline, ""):
            self._lines.put(line)
        self._lines.put(None)

    def read(self, timeout: float | None):
        if self._ended:
            return None
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return TIMED_OUT
        self._ended = line is None
        return line


def view(session: Session, seat: str, snap: Snapshot, codec: TextCodec) -> str:
    """The text a person in ``seat`` sees: the picture, the last step, the prompt."""
    core = session.core
    lines = [core.render_ansi(snap.state, 0, goal=seat == HUMAN)]
    if snap.last is not None:
        said = [
            f"{'you' if agent == seat else agent}: {codec.action_text(agent, action)}{' (illegal: no-op)' if illegal else ''}"
            for agent, action, illegal in zip(AGENTS, snap.last.actions, snap.last.illegal)
        ]
        reward = f"; reward {snap.last.reward:+g}" if seat == HUMAN else ""  # the reward would reveal the goal
        lines.append("last step: " + "; ".join(said) + reward)
    observation = {key: value[0] for key, value in core.observe(snap.state, seat).items()}
    lines.append(codec.prompt(observation, seat))
    return "\n".join(lines)


def play(session: Session, seat: str, stdin: TextIO, stdout: TextIO, timeout: float | None = None, episodes: int = 1) -> int:
    """Let the person at ``stdin``/``stdout`` play ``seat`` of ``session`` for ``episodes``
    episodes (or until ``quit`` or end of input). Returns the number of steps played."""
    if seat not in session.persons:
        raise ValueError(f"{seat!r} is not a person's seat in this session; people play {session.persons}")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout={timeout} must be > 0 seconds, or None to wait for each line")
    codec = TextCodec(session.core)
    reader = LineReader(stdin)
    steps, played = 0, 0

    def say(text: str) -> None:
        print(text, file=stdout, flush=True)

    while True:
        snap = session.snapshot()
        if snap.state.done[0]:
            say(view(session, seat, snap, codec))
            say("episode over: " + ", ".join(f"{key} {value:g}" for key, value in snap.metrics.items()))
            played += 1
            if played >= episodes:
                return steps
            session.new_episode()
            continue
        say(view(session, seat, snap, codec))
        action = ask(reader, codec, seat, session.legal(seat), stdout, timeout)
        if action is None:
            say("bye")
            return steps
        if action:
            session.submit(seat, action)
        session.tick()
        steps += 1


def ask(reader: LineReader, codec: TextCodec, seat: str, legal, stdout: TextIO, timeout: float | None) -> int | None:
    """One step's action id from the person (0 if the time ran out), or None to stop."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        stdout.write(f"{seat}> ")
        stdout.flush()
        line = reader.read(None if deadline is None else max(deadline - time.monotonic(), 0.0))
        if line is TIMED_OUT:
            print("\n(no input in time: no-op)", file=stdout, flush=True)
            return 0
        if line is None or line.strip().lower() in QUIT_WORDS:
            return None
        reply = interpret(codec, seat, line, legal)
        if reply.action is not None:
            return reply.action
        print(reply.message, file=stdout, flush=True)
