"""A study's participants: a bounded, thread-safe registry of sessions, one per participant
and condition, each with its own game, clock and recording.

    study = Study({"oracle": make_oracle_session, "noop": make_noop_session}, Path("runs/study"))
    entry = study.join("P01", "oracle")   # entry.app serves the participant's seat
    study.sweep()                          # ends finished and idle sessions (the server calls it)

A *condition* is a name and a function that makes a fresh ``(Session, seat)`` from a seed:
the game and the player in the other seat (``assist.cli.play`` builds them from the config's
``study.conditions``). :meth:`Study.join` makes one, with its own
:class:`~assist.ui.server.SeatApp` (so its own clock), for the condition the participant
chose or, with ``assign="balanced"``, the one played least so far that this participant has
not played; the k-th session of each condition (k = 0, 1, ...) is seeded ``seed + k``, so
the conditions are played on the same goals in turn. At most ``max_sessions`` run at once (:class:`StudyFull` beyond); a session ends
when its episode is over (``finished``), when its page has not asked for the state for
``idle_s`` seconds (``expired``) or when the study closes (``stopped``): its recording is
written to ``recordings/<participant>__<condition>.jsonl`` (atomically; it is also rewritten
as it grows, at each :meth:`Study.sweep`, so a crash loses at most the last sweep) and one
line for it is appended to ``sessions.jsonl`` (:mod:`assist.ui.study_log`), and its slot is
free. An ended session stays readable (its page shows the end) for ``idle_s`` more seconds.

A participant plays each condition at most once: their recording's name is taken, in this
run and by the files already in the folder (a study continued in the same folder).

Thread safety: joining, finding and ending are serialized by one lock; building a session
(a trained player loads its checkpoint) and writing files happen outside it, with the slot
reserved first, so no more than ``max_sessions`` are ever built; writing files is
serialized by a second lock (two sweeps never write one recording at once).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from assist.ui import study_log
from assist.ui.server import SeatApp
from assist.ui.session import Session

NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")
"""What a participant id and a condition name may be: they name the recording file."""
ASSIGNMENTS = ("choose", "balanced")
"""How a participant gets a condition: chosen on the start page, or assigned."""
RECORDINGS = "recordings"
"""The study folder's sub-folder of recordings."""

Factory = Callable[[int], tuple[Session, str]]
"""Makes a condition's fresh session, from a seed, and the participant's seat in it."""


class StudyError(ValueError):
    """A join the study refuses (unknown condition, bad participant id, condition played)."""


class StudyFull(Exception):
    """Every session slot is taken; the message says how many and to try again later."""


@dataclasses.dataclass
class Entry:
    """One participant's session in one condition.

    ``token``: the secret part of its address (``/s/<token>/``). Times are the study's clock
    (seconds): ``joined``, ``started`` (the participant pressed Start; None before),
    ``last_seen`` (the page's last state request) and ``ended_at``. ``ended``: why it ended
    (``finished``, ``expired``, ``stopped``), None while it runs.
    """

    token: str
    participant: str
    condition: str
    app: SeatApp
    recording: Path
    joined: float
    joined_utc: str
    last_seen: float
    started: float | None = None
    ended: str | None = None
    ended_at: float | None = None
    saved_at: tuple[int, int] = (-1, -1)
    """(episode, t) of the last save: the recording is rewritten only when it changed."""


class Study:
    """The registry of a study's sessions (see the module docstring).

    Args:
        conditions: ``{name: factory}`` in the order the start page lists them (and
            balanced assignment breaks ties); names match :data:`NAME`.
        folder: the study folder (``recordings/``, ``sessions.jsonl``); created.
        max_sessions: sessions that may run at once.
        idle_s: seconds without a state request after which a session expires.
        assign: ``choose`` or ``balanced`` (:data:`ASSIGNMENTS`).
        tick_ms: each session's milliseconds between ticks.
        seed: the first session's seed in each condition (the k-th: ``seed + k``).
        clock: seconds, monotonic (tests pass their own).
    """

    def __init__(
        self,
        conditions: Mapping[str, Factory],
        folder: str | Path,
        max_sessions: int = 4,
        idle_s: float = 300.0,
        assign: str = "choose",
        tick_ms: int = 500,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not conditions:
            raise ValueError("a study needs at least one condition (study.conditions)")
        bad = [name for name in conditions if not NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"condition names {bad} must be 1 to 40 letters, digits, '_' or '-' (they name the recording files)")
        if assign not in ASSIGNMENTS:
            raise ValueError(f"assign={assign!r} must be one of {list(ASSIGNMENTS)}")
        if not max_sessions >= 1:
            raise ValueError(f"max_sessions={max_sessions} must be >= 1 (sessions at once)")
        if not idle_s > 0:
            raise ValueError(f"idle_s={idle_s} must be > 0 seconds")
        self.conditions = dict(conditions)
        self.folder = Path(folder)
        self.log_path = self.folder / study_log.FILE
        self.max_sessions, self.idle_s, self.assign, self.tick_ms, self.seed = max_sessions, idle_s, assign, tick_ms, seed
        self.clock = clock
        self._lock = threading.Lock()
        self._files = threading.Lock()
        self._entries: dict[str, Entry] = {}
        self._reserved = 0
        (self.folder / RECORDINGS).mkdir(parents=True, exist_ok=True)
        stems = [path.stem for path in (self.folder / RECORDINGS).glob("*__*.jsonl")]
        self._taken = {(stem[: -len(name) - 2], name) for stem in stems for name in self.conditions if stem.endswith(f"__{name}")}
        """(participant, condition) pairs played, in this run or before it in this folder
        (a file ``<participant>__<condition>.jsonl``; ids and names may hold ``_`` too)."""
        self._played = collections.Counter(condition for _, condition in self._taken)
        self._next_number = 1

    # ------------------------------------------------------------------ joining

    def free(self) -> int:
        """Session slots free now."""
        with self._lock:
            return self.max_sessions - self._running()

    def _running(self) -> int:
        return self._reserved + sum(entry.ended is None for entry in self._entries.values())

    def join(self, participant: str | None = None, condition: str | None = None) -> Entry:
        """Start a session for ``participant`` (None: the next free ``p001``, ``p002``, ...)
        in ``condition`` (None with ``assign="balanced"``: assigned). Raises
        :class:`StudyFull` when no slot is free, :class:`StudyError` naming what is wrong
        (and the valid choices) otherwise."""
        with self._lock:
            if self._running() >= self.max_sessions:
                raise StudyFull(f"all {self.max_sessions} sessions of this study are taken: please wait for one to end and try again")
            participant = self._participant_id(participant)
            condition = self._condition_for(participant, condition)
            self._taken.add((participant, condition))
            seed = self.seed + self._played[condition]
            self._played[condition] += 1
            self._reserved += 1
        try:
            session, seat = self.conditions[condition](seed)
            path = self.folder / RECORDINGS / f"{participant}__{condition}.jsonl"
            app = SeatApp(session, seat, path, self.tick_ms, extra_info={"study": {"participant": participant}})
            session.save(path)  # the name is taken on disk at once (a header, until steps come)
        except BaseException:
            with self._lock:
                self._taken.discard((participant, condition))
                self._played[condition] -= 1
                self._reserved -= 1
            raise
        now = self.clock()
        entry = Entry(secrets.token_urlsafe(12), participant, condition, app, path, now, utc_now(), now)
        with self._lock:
            self._reserved -= 1
            self._entries[entry.token] = entry
        app.ticker.start()
        return entry

    def _participant_id(self, participant: str | None) -> str:
        """``participant`` checked, or the next unused ``pNNN`` (callers hold the lock)."""
        used = {name for name, _ in self._taken}
        if participant is None or participant == "":
            while f"p{self._next_number:03d}" in used:
                self._next_number += 1
            return f"p{self._next_number:03d}"
        if not isinstance(participant, str) or not NAME.fullmatch(participant):
            raise StudyError(f"participant id {participant!r} must be 1 to 40 letters, digits, '_' or '-' (or empty: one is given)")
        return participant

    def _condition_for(self, participant: str, condition: str | None) -> str:
        """The condition ``participant`` plays: ``condition`` checked, or assigned (callers hold the lock)."""
        names = list(self.conditions)
        if self.assign == "balanced":
            if condition is not None:
                raise StudyError(f"this study assigns the conditions (assign=balanced): join without one, not {condition!r}")
            open_ = [name for name in names if (participant, name) not in self._taken]
            if not open_:
                raise StudyError(f"participant {participant!r} has played every condition {names}")
            return min(open_, key=lambda name: self._played[name])  # min keeps the first of equals: config order
        if condition not in self.conditions:
            raise StudyError(f"no condition {condition!r}; the conditions are {names}")
        if (participant, condition) in self._taken:
            raise StudyError(f"participant {participant!r} has played condition {condition!r} already; give another participant id")
        return condition

    # ------------------------------------------------------------------ running sessions

    def find(self, token: str) -> Entry:
        """The session at ``token`` (running, or ended less than ``idle_s`` ago); KeyError if none."""
        with self._lock:
            return self._entries[token]

    def seen(self, entry: Entry) -> None:
        """The participant's page asked for the state: the session is not idle."""
        entry.last_seen = self.clock()

    def begin(self, entry: Entry) -> dict:
        """The participant pressed Start: start the clock (the duration counts from here)."""
        if entry.started is None and entry.ended is None:
            entry.started = self.clock()
        return entry.app.start_clock()

    def sweep(self) -> list[Entry]:
        """End the sessions whose episode is over or whose page has been gone ``idle_s``
        seconds, save the others' recordings if they grew, forget sessions ended ``idle_s``
        ago; returns the sessions ended now."""
        now = self.clock()
        with self._lock:
            running = [entry for entry in self._entries.values() if entry.ended is None]
            ending = [entry for entry in running if entry.app.session.done or now - entry.last_seen > self.idle_s]
            for entry in ending:
                entry.ended, entry.ended_at = ("finished" if entry.app.session.done else "expired"), now
            for token in [t for t, e in self._entries.items() if e.ended_at is not None and now - e.ended_at > self.idle_s]:
                del self._entries[token]
        for entry in ending:
            self._close(entry)
        for entry in running:
            if entry.ended is None:
                self._save(entry)
        return ending

    def close(self) -> list[Entry]:
        """End every running session: the study server is stopping (``stopped``; ``finished``
        for one whose episode is over but that no sweep has ended yet)."""
        now = self.clock()
        with self._lock:
            ending = [entry for entry in self._entries.values() if entry.ended is None]
            for entry in ending:
                entry.ended, entry.ended_at = ("finished" if entry.app.session.done else "stopped"), now
        for entry in ending:
            self._close(entry)
        return ending

    def _save(self, entry: Entry) -> None:
        """Rewrite ``entry``'s recording if it has changed since the last save."""
        with self._files:
            snap = entry.app.session.snapshot()
            mark = (snap.episode, int(snap.state.t[0]))
            if mark != entry.saved_at and entry.ended is None:
                entry.app.session.save(entry.recording)
                entry.saved_at = mark

    def _close(self, entry: Entry) -> None:
        """Stop ``entry``'s clock, write its recording and its line of the sessions log."""
        entry.app.ticker.stop()
        metrics = entry.app.session.snapshot().metrics
        duration = 0.0 if entry.started is None else entry.ended_at - entry.started
        where = entry.recording.relative_to(self.folder).as_posix()
        line = study_log.SessionLine(entry.participant, entry.condition, entry.ended, entry.joined_utc, round(duration, 3), where, metrics)
        with self._files:
            entry.app.session.save(entry.recording)
            study_log.append(self.log_path, line)


def utc_now() -> str:
    """The time now, UTC, to the second (``2026-12-07T12:00:00Z``)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
