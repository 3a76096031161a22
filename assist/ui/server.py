"""A small local web server to play a session in the browser.

    server = PlayServer(session, "human_0", "runs/play/recording.jsonl", port=0).start()
    print(server.url)   # open it; server.stop() when done

It binds 127.0.0.1 unless told otherwise, serves only the files of its own ``static``
folder (looked up by exact name in a table read at start, so nothing else can be reached;
three.js is among them, in ``static/vendor``: the page fetches nothing from the internet), and ticks the
session on a background thread every ``tick_ms`` milliseconds once the person has pressed
start, so the AI player acts live whether or not the person does. The clock waits for that
start (an episode is not over before the page has loaded) and pauses while the page is
gone (no state request for :data:`AWAY_S` seconds; the page asks every 0.2 s).

Endpoints (JSON unless said otherwise):

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

Only the page this server served may use it: a request whose Host is not this machine's
name and port (``127.0.0.1``, ``localhost``, ``[::1]`` or the bound address; DNS
rebinding) or whose Origin is another site's (any page the person visits) gets 403.
A body must have a Content-Length of at most :data:`MAX_BODY` bytes and be a JSON object
(else 400 or 413), and a connection that keeps the server waiting ``timeout_s`` seconds
for its request is closed. It stays on the standard library's ``http.server``: measured,
Starlette on uvicorn answered no faster (about 1 ms either way), added 1.8 MB of packages,
and would still need these checks written by hand (it held idle connections open and
served a foreign Origin).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import mimetypes
import threading
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO

from assist import recording
from assist.ui import views
from assist.ui.session import Session, SessionError, Ticker
from envs.codec import TextCodec
from envs.core import HUMAN, ActionParseError

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY = 4096
"""Largest request body accepted, in bytes (an action is a few dozen)."""
AWAY_S = 2.0
"""Seconds without a state request from the page after which the clock pauses (the page asks every 0.2 s)."""
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
"""The names of this machine a request's Host may give (with the server's port)."""


class Refused(Exception):
    """A request refused before it reaches an endpoint: its HTTP ``status`` and a one-line reason."""

    def __init__(self, status: HTTPStatus, reason: str):
        super().__init__(reason)
        self.status = status


def static_files() -> dict[str, tuple[bytes, str]]:
    """``{name: (content, content type)}`` of the files in :data:`STATIC_DIR` and its folders,
    each named by its path there (``app.js``, ``vendor/three.module.min.js``)."""
    files = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            name = path.relative_to(STATIC_DIR).as_posix()
            files[name] = (path.read_bytes(), kind + ("; charset=utf-8" if kind.startswith("text/") or kind.endswith("javascript") else ""))
    return files


class PlayServer:
    """Serves ``session`` to the person in ``seat``; saves the recording to ``recording_path``.

    Args:
        host: the address to bind (127.0.0.1: this machine only).
        port: the port (0: a free one; see :attr:`url`).
        tick_ms: milliseconds between ticks.
        timeout_s: seconds a connection may keep the server waiting for (the rest of) its
            request, or for reading the answer, before it is closed.
    """

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
        if seat not in session.persons:
            raise ValueError(f"{seat!r} is not a person's seat in this session; people play {session.persons}")
        if not is_loopback(host):
            log.warning("serving on %s: anyone who can reach this address can play and save recordings", host)
        self.session, self.seat = session, seat
        self.recording_path = Path(recording_path)
        self.codec = TextCodec(session.core)
        self.info = views.game_info(session.core, seat)
        self.files = static_files()
        self.ticker = Ticker(session, tick_ms / 1000.0, started=False, away_after=AWAY_S)
        self.httpd = ThreadingHTTPServer((host, port), self._handler_class(timeout_s))
        self.httpd.daemon_threads = True
        port = self.httpd.server_address[1]
        self.hosts = frozenset(f"{name}:{port}" for name in (*LOOPBACK_NAMES, host.lower()))
        """The Host headers served: this machine's names and the bound address, with the port."""
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> PlayServer:
        """Start ticking and serving on background threads; returns self."""
        self.ticker.start()
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="play-server", daemon=True)
        self._thread.start()
        return self

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises KeyboardInterrupt here)."""
        self._thread.join()

    def stop(self) -> None:
        """Stop serving and ticking."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.ticker.stop()

    # ------------------------------------------------------------------ endpoints

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

    def check_origin(self, headers: Message) -> None:
        """Refuse (403) a request whose Host is not one of :attr:`hosts` (DNS rebinding: a site
        whose name now points here) or whose Origin, if it has one, is not this server's
        (a cross-site request: any page the person visits could otherwise act or save)."""
        host = (headers.get("Host") or "").lower()
        if host not in self.hosts:
            raise Refused(HTTPStatus.FORBIDDEN, f"Host {host!r} is refused: open the page at {self.url}")
        origin = headers.get("Origin")
        if origin is not None and origin.lower() != f"http://{host}":
            raise Refused(HTTPStatus.FORBIDDEN, f"a request from {origin!r} is refused: only the page at http://{host}/ may use this server")

    def _handler_class(self, timeout_s: float) -> type[BaseHTTPRequestHandler]:
        app = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "assist-play"
            timeout = timeout_s  # a socket timeout: half-open connections are dropped

            def log_message(self, format: str, *args) -> None:
                log.debug("%s " + format, self.address_string(), *args)

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, obj: Any) -> None:
                self._send(status, json.dumps(obj).encode(), "application/json")

            def parse_request(self) -> bool:
                """Read the request line and headers; False (the answer sent) if they are bad or
                :meth:`PlayServer.check_origin` refuses them: no request method runs then."""
                if not super().parse_request():
                    return False
                try:
                    app.check_origin(self.headers)
                except Refused as refused:
                    self._json(refused.status, {"error": str(refused)})
                    return False
                return True

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                name = "index.html" if path == "/" else path.removeprefix("/static/") if path.startswith("/static/") else None
                if name in app.files:
                    self._send(HTTPStatus.OK, *app.files[name])
                elif path == "/api/info":
                    self._json(HTTPStatus.OK, app.info)
                elif path == "/api/state":
                    self._json(HTTPStatus.OK, app.state())
                elif path == "/api/recording":
                    self._send(HTTPStatus.OK, app.recording_text().encode(), "application/x-ndjson")
                else:
                    self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page {path!r}"})

            def do_POST(self) -> None:
                routes = {
                    "/api/action": app.act,
                    "/api/start": lambda body: app.start_clock(),
                    "/api/save": lambda body: app.save(),
                    "/api/new_episode": lambda body: app.new_episode(),
                }
                route = routes.get(self.path)
                if route is None:
                    self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {self.path!r}; POST to one of {sorted(routes)}"})
                    return
                try:
                    self._json(HTTPStatus.OK, route(read_json(self.headers, self.rfile)))
                except Refused as refused:
                    self._json(refused.status, {"error": str(refused)})
                except (ValueError, ActionParseError, SessionError) as error:  # codec and session errors are the client's
                    self._json(HTTPStatus.BAD_REQUEST, {"error": str(error)})

        return Handler


def read_json(headers: Message, body: BinaryIO) -> dict[str, Any]:
    """The JSON object of a request's ``body`` (``{}`` when empty); raises :class:`Refused`
    (400, or 413 over :data:`MAX_BODY` bytes) before reading a length that is not one."""
    length = headers.get("Content-Length") or "0"
    if not (length.isascii() and length.isdigit() and len(length) < 20):
        raise Refused(HTTPStatus.BAD_REQUEST, f"Content-Length {length[:20]!r} is not a number of bytes")
    if int(length) > MAX_BODY:
        raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"request body over {MAX_BODY} bytes")
    try:
        obj = json.loads(body.read(int(length)) or b"{}")
    except RecursionError:
        raise Refused(HTTPStatus.BAD_REQUEST, "the request body is nested too deeply: send a flat JSON object") from None
    except ValueError as error:
        raise Refused(HTTPStatus.BAD_REQUEST, f"the request body is not JSON: {error}") from None
    if not isinstance(obj, dict):
        raise Refused(HTTPStatus.BAD_REQUEST, "the request body must be a JSON object")
    return obj


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost`` or a loopback address)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(session: Session, seat: str, recording_path: Path, host: str = "127.0.0.1", port: int = 8000, tick_ms: int = 500) -> None:
    """Serve until interrupted (Ctrl-C), then save the recording."""
    server = PlayServer(session, seat, recording_path, host, port, tick_ms).start()
    print(f"playing {session.core.name} as {seat} at {server.url}: open it and press Start (Ctrl-C to stop; the page's Save button saves the recording)", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print(f"recording saved to {server.session.save(recording_path)}", flush=True)
