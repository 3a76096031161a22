"""A live game between people and AI players: actions are submitted, a tick applies them.

One :class:`Session` runs one game at a time (B = 1) of a game core. Each seat is held
either by a :class:`~assist.players.base.Player` (it is asked for its action at tick
time) or by a person (``None``): a person's actions are queued with :meth:`Session.submit`
from any thread, and each :meth:`Session.tick` applies the oldest queued action of each
person's seat, or the no-op when there is none. A person therefore never blocks the game:
the terminal view ticks after each line (or after an input timeout), the browser server
ticks on a clock (:class:`Ticker`).

Every step goes into the recording (format ``assist-recording/v1``, see
:mod:`assist.recording`): :meth:`Session.save` writes the finished episodes and the one
being played, and each of them replays exactly from its seed and goal.

Thread safety: ticks are serialized by one lock, and the state, the queues and the
recorded steps are read and written under a second one; an AI player thinks under the
first only, so people can submit and views can read while it does.
"""

from __future__ import annotations

import collections
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from assist import recording
from assist.players.base import Player
from assist.rollout import Episodes, turn_for
from envs.core import AGENTS, BatchState, GameCore

MAX_QUEUED = 4
"""Actions a person may have waiting at once; more are refused until ticks catch up."""


class SessionError(ValueError):
    """An action a session cannot take (bad id, illegal now, queue full, game over)."""


class Step(NamedTuple):
    """One applied step: the joint actions ([2] ints, human then assistant), the shared
    reward, which seats' actions were illegal ([2] bools), and the step index t."""

    actions: tuple[int, int]
    reward: float
    illegal: tuple[bool, bool]
    t: int


class Snapshot(NamedTuple):
    """A consistent copy of what views show.

    state: a copy of the game state (B = 1). episode: index of the episode being played.
    last: the last applied :class:`Step` (None before the first).
    queued: actions waiting per person's seat. metrics: the core's metrics of row 0.
    """

    state: BatchState
    episode: int
    last: Step | None
    queued: dict[str, list[int]]
    metrics: dict[str, float]


class Session:
    """One game at a time between the players of ``seats``.

    Args:
        core: the game core (played at B = 1).
        seats: ``{agent: player or None}`` for both agents; None marks a person's seat.
        seed: seeds the episodes: episode i resets from the i-th draw of
            ``np.random.default_rng(seed)``, the AI players from ``default_rng([seed, 1])``.
        header_seats: the recording header's ``seats`` entry (player names; see
            :mod:`assist.recording`); by default ``person`` for people, the class name otherwise.
        game_config: the recording header's ``config``: the options that make the game
            (default: ``core.options``, the core's own).
    """

    def __init__(
        self,
        core: GameCore,
        seats: dict[str, Player | None],
        seed: int = 0,
        header_seats: dict[str, dict[str, Any]] | None = None,
        game_config: dict[str, Any] | None = None,
    ):
        if set(seats) != set(AGENTS):
            raise ValueError(f"seats must name exactly the agents {list(AGENTS)}, got {sorted(seats)}")
        self.core = core
        self.players = dict(seats)
        self.persons = [agent for agent in AGENTS if seats[agent] is None]
        default_seats = {
            agent: {"player": "person" if player is None else type(player).__name__, "person": player is None} for agent, player in seats.items()
        }
        self.header = recording.header(core.name, dict(core.options if game_config is None else game_config), header_seats or default_seats)
        self._seeds = np.random.default_rng(seed)
        self._player_rng = np.random.default_rng([seed, 1])
        self._tick_lock = threading.Lock()
        self._lock = threading.Lock()
        self._finished: list[dict[str, Any]] = []
        self._episode = -1
        self._start_episode()

    # ------------------------------------------------------------------ episodes

    def _start_episode(self) -> None:
        """Reset to a fresh episode (callers hold both locks, or construct)."""
        self._episode += 1
        self._seed = int(self._seeds.integers(0, 2**62))
        self._state = self.core.reset(1, np.random.default_rng(self._seed))
        self._steps: list[Step] = []
        self._queues = {agent: collections.deque() for agent in self.persons}
        for player in self.players.values():
            if player is not None:
                player.reset(1, self._player_rng)

    def new_episode(self) -> None:
        """Keep the current episode for the recording (if it has steps) and start the next."""
        with self._tick_lock, self._lock:
            if self._steps:
                self._finished.append(self._episode_line())
            self._start_episode()

    @property
    def done(self) -> bool:
        """Whether the current episode is over."""
        with self._lock:
            return bool(self._state.done[0])

    # ------------------------------------------------------------------ actions

    def legal(self, agent: str) -> np.ndarray:
        """[A] bool: ``agent``'s legal actions now."""
        with self._lock:
            return self.core.legal_mask(self._state, agent)[0]

    def submit(self, agent: str, action: int) -> None:
        """Queue ``action`` (an id legal now) for the person in ``agent``'s seat.

        It is applied at a later tick, after the actions queued before it; if the game has
        changed by then so that it is illegal, the core applies it as a flagged no-op.
        Raises :class:`SessionError` naming the problem otherwise.
        """
        if agent not in self.persons:
            raise SessionError(f"{agent!r} is not a person's seat; people play {self.persons}")
        with self._lock:
            if self._state.done[0]:
                raise SessionError("the episode is over; start a new one")
            legal = self.core.legal_mask(self._state, agent)[0]
            if isinstance(action, bool) or not isinstance(action, (int, np.integer)) or not 0 <= action < len(legal):
                raise SessionError(f"action {action!r} must be an action id in [0, {len(legal)})")
            if not legal[action]:
                raise SessionError(f"action {int(action)} is not legal for {agent} now")
            if len(self._queues[agent]) >= MAX_QUEUED:
                raise SessionError(f"{MAX_QUEUED} actions are already waiting for {agent}; wait for the next tick")
            self._queues[agent].append(int(action))

    def tick(self) -> Step | None:
        """Apply one step: each person's oldest queued action (no-op if none) and each AI
        player's action for the current state. Returns the :class:`Step`, or None when the
        episode is already over."""
        with self._tick_lock:
            if self._state.done[0]:
                return None
            joint = np.zeros((1, 2), np.int64)
            for i, agent in enumerate(AGENTS):  # only ticks change the state, and we hold the tick lock
                player = self.players[agent]
                if player is not None:
                    joint[0, i] = player.act(turn_for(self.core, player, self._state, agent))[0]
            with self._lock:
                for agent in self.persons:
                    if self._queues[agent]:
                        joint[0, AGENTS.index(agent)] = self._queues[agent].popleft()
                result = self.core.step(self._state, joint)
                step = Step(
                    actions=(int(joint[0, 0]), int(joint[0, 1])),
                    reward=float(result.reward[0]),
                    illegal=(bool(result.illegal[0, 0]), bool(result.illegal[0, 1])),
                    t=int(self._state.t[0]),
                )
                self._steps.append(step)
                return step

    # ------------------------------------------------------------------ views and recording

    def snapshot(self) -> Snapshot:
        """A consistent copy of the current game for views."""
        with self._lock:
            return Snapshot(
                state=self._state.copy(),
                episode=self._episode,
                last=self._steps[-1] if self._steps else None,
                queued={agent: list(queue) for agent, queue in self._queues.items()},
                metrics={key: float(value[0]) for key, value in self.core.metrics(self._state).items()},
            )

    def _episode_line(self) -> dict[str, Any]:
        """The current episode in the recording format (callers hold the lock)."""
        T = len(self._steps)
        episode = Episodes(
            seeds=np.array([self._seed], np.int64),
            metrics=self.core.metrics(self._state),
            actions=np.array([s.actions for s in self._steps], np.int64).reshape(T, 1, 2),
            rewards=np.array([s.reward for s in self._steps], np.float32).reshape(T, 1),
            illegal=np.array([s.illegal for s in self._steps], bool).reshape(T, 1, 2),
            lengths=np.array([T], np.int32),
            state=self._state,
        )
        return recording.episode_lines(episode, self._state.goal, first=self._episode)[0]

    def episodes(self, unfinished: bool = True) -> list[dict[str, Any]]:
        """The recording's episode lines: the finished episodes, then the current one if it has
        steps (and, with ``unfinished=False``, only once it is over: its line holds the goal)."""
        with self._lock:
            current = self._steps and (unfinished or self._state.done[0])
            return self._finished + ([self._episode_line()] if current else [])

    def save(self, path: str | Path) -> Path:
        """Write the recording to ``path`` (atomically; folders are created) and return it."""
        recording.write(path, self.header, self.episodes())
        return Path(path)


class Ticker:
    """Ticks a session every ``interval`` seconds on a daemon thread until :meth:`stop`;
    while an episode is over it waits (ticks return None) until a new one starts.

    The clock: with ``started`` False nothing ticks until :meth:`begin` (a participant
    pressed start); with ``away_after`` (seconds) it pauses while no one has been
    :meth:`seen` for that long (the page polls; a closed tab stops polling) and goes on
    where it was when they are back. :meth:`clock` says which: ``"waiting"``,
    ``"running"`` or ``"paused"``.

    ``errors`` collects what a tick raised (an AI player's failure): the ticker stops
    there, and the view shows the message, rather than dying silently.
    """

    def __init__(self, session: Session, interval: float, started: bool = True, away_after: float | None = None):
        if not interval > 0:
            raise ValueError(f"tick interval={interval} must be > 0 seconds")
        if away_after is not None and not away_after > 0:
            raise ValueError(f"away_after={away_after} must be > 0 seconds (None: never pause)")
        self.session = session
        self.interval = interval
        self.away_after = away_after
        self.errors: list[str] = []
        self._started = threading.Event()
        if started:
            self._started.set()
        self._last_seen = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="session-ticker", daemon=True)

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def begin(self) -> None:
        """Start the clock (a participant is there and pressed start)."""
        self.seen()
        self._started.set()

    def seen(self) -> None:
        """A participant is still there (their page asked for the state)."""
        self._last_seen = time.monotonic()

    def clock(self) -> str:
        """``"waiting"`` (not begun), ``"paused"`` (no one seen for ``away_after`` s) or ``"running"``."""
        if not self._started.is_set():
            return "waiting"
        away = self.away_after is not None and time.monotonic() - self._last_seen > self.away_after
        return "paused" if away else "running"

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.clock() != "running":
                continue
            try:
                self.session.tick()
            except Exception as error:  # a failing AI player must show, not kill the server
                self.errors.append(f"{type(error).__name__}: {error}")
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
