"""The browser front end of one session: a person's seat served on this machine.

    server = PlayServer(session, "human_0", "runs/play/recording.jsonl", port=0).start()
    print(server.url)   # open it; server.stop() when done

A :class:`SeatApp` is one person's seat in one :class:`~assist.ui.session.Session`: its
endpoints, and the :class:`~assist.ui.session.Ticker` that ticks the session on a
background thread every ``tick_ms`` milliseconds once the person has pressed start, so the
AI player acts live whether or not the person does. The clock waits for that start (an
episode is not over before the page has loaded) and pauses while the page is gone (no
state request for :data:`AWAY_S` seconds; the page asks every 0.2 s). A
:class:`PlayServer` serves one seat at ``/`` (the study server, :mod:`assist.ui.study_server`,
serves one per participant); the HTTP checks are :mod:`assist.ui.web`'s.

Endpoints (JSON unless said otherwise; the page asks for them relative to its own address):

==========================  ===============================================================
``GET /``                   the page (``static/index.html``)
``GET /static/<name>``      the page's scripts (``vendor/``: three.js) and style sheet
``GET /api/info``           the game, the seat, action texts (:func:`~assist.ui.views.game_info`)
``GET /api/state``          the current view (:func:`~assist.ui.views.state_view`),
                            ``clock`` (``waiting``, ``running`` or ``paused``) and
                            ``error``: why the ticker stopped, if it did
``POST /api/start``         start the clock; ``{"clock": "running"}``
``POST /api/action``        ``{"text": "place planks 1 1 2"}`` (the codec's words) or
                            ``{"action": id}``: queued for the next tick; 400 with
                            ``{"error": ...}`` if it is not a legal action now
``POST /api/save``          write the recording; ``{"path", "episodes"}``
``POST /api/new_episode``   keep the episode in the recording and start the next one
``GET /api/recording``      the recording as JSONL (``assist-recording/v1``); for the
                            assistant's seat without the episode being played (its goal)
==========================  ===============================================================
"""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
from typing import Any

from assist import recording
from assist.ui import views
from assist.ui.session import Session, Ticker
from assist.ui.web import LocalServer, Refused, Reply, json_reply
from envs.codec import TextCodec
from envs.core import HUMAN

AWAY_S = 2.0
"""Seconds without a state request from the page after which the clock pauses (the page asks every 0.2 s)."""
GETS = ("info", "state", "recording")
"""The seat's GET endpoints, under ``api/``."""
POSTS = ("start", "action", "save", "new_episode")
"""The seat's POST endpoints, under ``api/``."""


class SeatApp:
    """The person in ``seat`` of ``session``: the endpoints and the clock; saves to ``recording_path``.

    Args:
        tick_ms: milliseconds between ticks.
        extra_info: entries added to ``/api/info`` (the study server's ``study``).
    """

    def __init__(self, session: Session, seat: str, recording_path: str | Path, tick_ms: int = 500, extra_info: dict[str, Any] | None = None):
        if seat not in session.persons:
            raise ValueError(f"{seat!r} is not a person's seat in this session; people play {session.persons}")
        self.session, self.seat = session, seat
        self.recording_path = Path(recording_path)
        self.codec = TextCodec(session.core)
        self.info = {**views.game_info(session.core, seat), **(extra_info or {})}
        self.ticker = Ticker(session, tick_ms / 1000.0, started=False, away_after=AWAY_S)

    def get(self, name: str) -> Reply:
        """The answer to ``GET api/<name>`` (one of :data:`GETS`)."""
        if name == "recording":
            return Reply(HTTPStatus.OK, self.recording_text().encode(), "application/x-ndjson")
        if name not in GETS:
            raise Refused(HTTPStatus.NOT_FOUND, f"no such page 'api/{name}'; GET one of {[f'api/{n}' for n in GETS]}")
        return json_reply(self.info if name == "info" else self.state())

    def post(self, name: str, body: dict[str, Any]) -> Reply:
        """The answer to ``POST api/<name>`` (one of :data:`POSTS`) with ``body``."""
        routes = {"start": lambda: self.start_clock(), "action": lambda: self.act(body), "save": self.save, "new_episode": self.new_episode}
        if name not in routes:
            raise Refused(HTTPStatus.NOT_FOUND, f"no such endpoint 'api/{name}'; POST to one of {[f'api/{n}' for n in POSTS]}")
        return json_reply(routes[name]())

    def state(self) -> dict[str, Any]:
        view = views.state_view(self.session.core, self.seat, self.session.snapshot(), self.codec)
        self.ticker.seen()
        view["clock"] = self.ticker.clock()
        view["error"] = self.ticker.errors[0] if self.ticker.errors else None
        return view

    def start_clock(self) -> dict[str, Any]:
        self.ticker.begin()
        return {"clock": self.ticker.clock()}

    def act(self, body: dict[str, Any]) -> dict[str, Any]:
        """Queue the action ``body`` names; raises ValueError (a 400) with the reason."""
        if "text" in body:
            action = self.codec.parse(self.seat, body["text"])
        elif "action" in body:
            action = body["action"]
        else:
            raise ValueError('send {"text": "<action in words>"} or {"action": <id>}')
        self.session.submit(self.seat, action)
        return {"queued": self.codec.action_text(self.seat, action)}

    def save(self) -> dict[str, Any]:
        path = self.session.save(self.recording_path)
        return {"path": str(path), "episodes": len(recording.read(path, self.session.core).episodes)}

    def new_episode(self) -> dict[str, Any]:
        self.session.new_episode()
        return {"episode": self.session.snapshot().episode}

    def recording_text(self) -> str:
        """The recording; for the assistant's seat without the episode being played (its line holds the goal)."""
        return recording.dumps(self.session.header, self.session.episodes(unfinished=self.seat == HUMAN))


class PlayServer(LocalServer):
    """Serves ``session`` to the person in ``seat`` at ``/``; saves the recording to
    ``recording_path``. ``host``, ``port``, ``timeout_s``: :class:`~assist.ui.web.LocalServer`'s;
    ``tick_ms``: :class:`SeatApp`'s."""

    def __init__(
        self,
        session: Session,
        seat: str,
        recording_path: str | Path,
        host: str = "127.0.0.1",
        port: int = 8000,
        tick_ms: int = 500,
        timeout_s: float = 10.0,
    ):
        self.app = SeatApp(session, seat, recording_path, tick_ms)
        super().__init__(host, port, timeout_s, name="assist-play")

    @property
    def session(self) -> Session:
        return self.app.session

    @property
    def ticker(self) -> Ticker:
        return self.app.ticker

    def starting(self) -> None:
        self.ticker.start()

    def stopped(self) -> None:
        self.ticker.stop()

    def get(self, path: str) -> Reply:
        if path == "/":
            return self.page("index.html")
        if path.startswith("/api/"):
            return self.app.get(path.removeprefix("/api/"))
        return super().get(path)

    def post(self, path: str, body: dict[str, Any]) -> Reply:
        if path.startswith("/api/"):
            return self.app.post(path.removeprefix("/api/"), body)
        return super().post(path, body)


def serve(session: Session, seat: str, recording_path: Path, host: str = "127.0.0.1", port: int = 8000, tick_ms: int = 500) -> None:
    """Serve until interrupted (Ctrl-C), then save the recording."""
    server = PlayServer(session, seat, recording_path, host, port, tick_ms).start()
    print(f"playing {session.core.name} as {seat} at {server.url}: open it and press Start (Ctrl-C to stop; the page's Save button saves the recording)", flush=True)
    server.run_until_interrupted()
    print(f"recording saved to {server.session.save(recording_path)}", flush=True)
