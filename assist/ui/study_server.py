"""The study server: a start page where each participant joins a condition, and each
participant's own play page, all on this machine.

    server = StudyServer(Study(conditions, "runs/study"), port=0).start()
    print(server.url)   # the start page; server.stop() ends every session and logs it

Every session is a :class:`~assist.ui.study.Study` entry (its own game, clock and
recording) served at ``/s/<token>/`` by its :class:`~assist.ui.server.SeatApp`: the same
page and the same endpoints as a single player's, but only those a participant needs (no
saving, downloading or new episode: the study saves, one episode per session). A thread
calls :meth:`Study.sweep <assist.ui.study.Study.sweep>` every :data:`SWEEP_S` seconds
(finished and idle sessions end there). The HTTP checks (Host, Origin, bodies, time-outs)
are :mod:`assist.ui.web`'s.

Endpoints (JSON unless said otherwise):

==============================  ===========================================================
``GET /``                       the start page (``static/study.html``), or, when every slot
                                is taken, 503 with the refusal page (``static/full.html``)
``GET /api/study``              ``{"assign", "conditions"}`` (the names when participants
                                choose, else null) ``, "free", "max_sessions"}``
``POST /api/join``              ``{"participant": id or "", "condition": name}`` (no
                                condition when assigned): ``{"participant", "url"}``; 400
                                naming the valid choices, 503 when full
``GET /s/<token>/``             the participant's play page (``static/index.html``)
``GET /s/<token>/api/info``     as the play server's, with ``study: {"participant"}``
``GET /s/<token>/api/state``    as the play server's, with ``ended`` (why the session
                                ended, null while it runs)
``POST /s/<token>/api/start``   start this session's clock
``POST /s/<token>/api/action``  queue an action (400 once the session has ended)
==============================  ===========================================================
"""

from __future__ import annotations

import logging
import re
import threading
from http import HTTPStatus
from typing import Any

from assist.ui.study import Entry, Study, StudyFull
from assist.ui.web import LocalServer, Refused, Reply, json_reply

log = logging.getLogger(__name__)
SWEEP_S = 0.25
"""Seconds between sweeps: a finished session frees its slot within about this long."""
SESSION_PATH = re.compile(r"/s/([A-Za-z0-9_-]+)/(.*)")
"""A session's address: ``/s/<token>/<rest>``."""
JOIN_KEYS = ("participant", "condition")


class StudyServer(LocalServer):
    """Serves ``study``'s start page and its participants' sessions. ``host``, ``port``,
    ``timeout_s``: :class:`~assist.ui.web.LocalServer`'s."""

    def __init__(self, study: Study, host: str = "127.0.0.1", port: int = 8000, timeout_s: float = 10.0):
        self.study = study
        super().__init__(host, port, timeout_s, name="assist-study")
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep, name="study-sweeper", daemon=True)

    def starting(self) -> None:
        self._sweeper.start()

    def stopped(self) -> None:
        """Stop sweeping, and end every running session (``stopped``)."""
        self._stop.set()
        if self._sweeper.is_alive():
            self._sweeper.join()
        self.study.close()

    def _sweep(self) -> None:
        while not self._stop.wait(SWEEP_S):
            try:
                self.study.sweep()
            except OSError:  # a recording or the log could not be written (disk full): say so, and keep sweeping
                log.exception("a study sweep could not write a recording or the sessions log")

    # ------------------------------------------------------------------ endpoints

    def get(self, path: str) -> Reply:
        if path == "/":
            return self.page("study.html") if self.study.free() > 0 else self.page("full.html")._replace(status=HTTPStatus.SERVICE_UNAVAILABLE)
        if path == "/api/study":
            return json_reply(self.description())
        entry, rest = self.session_at(path)
        if rest == "":
            return self.page("index.html")
        if rest == "api/info":
            return entry.app.get("info")
        if rest == "api/state":
            self.study.seen(entry)
            return json_reply({**entry.app.state(), "ended": entry.ended})
        raise Refused(HTTPStatus.NOT_FOUND, f"no such page {path!r}; a session has api/info and api/state (the study saves its recording)")

    def post(self, path: str, body: dict[str, Any]) -> Reply:
        if path == "/api/join":
            return json_reply(self.join(body))
        entry, rest = self.session_at(path)
        if entry.ended is not None and rest in ("api/start", "api/action"):
            raise ValueError(f"this session has ended ({entry.ended}); join again at the start page")
        if rest == "api/start":
            return json_reply(self.study.begin(entry))
        if rest == "api/action":
            return entry.app.post("action", body)
        raise Refused(HTTPStatus.NOT_FOUND, f"no such endpoint {path!r}; a session takes api/start and api/action (the study saves its recording)")

    def description(self) -> dict[str, Any]:
        """What the start page shows: how conditions are given, the names to choose from, free slots."""
        study = self.study
        conditions = list(study.conditions) if study.assign == "choose" else None
        return {"assign": study.assign, "conditions": conditions, "free": study.free(), "max_sessions": study.max_sessions}

    def join(self, body: dict[str, Any]) -> dict[str, Any]:
        """A new session for the participant and condition ``body`` names; 503 when full,
        400 (a ValueError naming the valid choices) for a bad id or condition."""
        unknown = sorted(set(body) - set(JOIN_KEYS))
        if unknown:
            raise ValueError(f"unknown key(s) {unknown}: send {{'participant': <id or ''>, 'condition': <name>}}")
        try:
            entry = self.study.join(body.get("participant"), body.get("condition"))
        except StudyFull as full:
            raise Refused(HTTPStatus.SERVICE_UNAVAILABLE, str(full)) from None
        return {"participant": entry.participant, "url": f"/s/{entry.token}/"}

    def session_at(self, path: str) -> tuple[Entry, str]:
        """The session a ``/s/<token>/...`` path names and the rest of the path; 404 if none."""
        match = SESSION_PATH.fullmatch(path)
        if match is None:
            raise Refused(HTTPStatus.NOT_FOUND, f"no such page {path!r}")
        try:
            return self.study.find(match[1]), match[2]
        except KeyError:
            raise Refused(HTTPStatus.NOT_FOUND, "no session at this address (it ended or expired): join again at the start page") from None


def serve(study: Study, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve until interrupted (Ctrl-C), then end and log every running session."""
    server = StudyServer(study, host, port).start()
    print(
        f"study of {len(study.conditions)} conditions {list(study.conditions)} ({study.assign}), at most {study.max_sessions} at once, "
        f"at {server.url}: each participant opens it and joins (Ctrl-C to stop)",
        flush=True,
    )
    print(f"recordings go to {study.folder / 'recordings'}, one line per ended session to {study.log_path}", flush=True)
    server.run_until_interrupted()
    print(f"study stopped; summarize it with: python scripts/summarize.py {study.folder}", flush=True)
