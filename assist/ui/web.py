"""The local HTTP plumbing the play server and the study server share.

A :class:`LocalServer` binds 127.0.0.1 unless told otherwise, serves only the files of
its own ``static`` folder (looked up by exact name in a table read at start, so nothing
else can be reached; three.js is among them, in ``static/vendor``: the pages fetch nothing
from the internet) and hands every other request to its subclass's :meth:`LocalServer.get`
and :meth:`LocalServer.post`, which answer with a :class:`Reply`.

Only the pages this server served may use it: a request whose Host is not this machine's
name and port (``127.0.0.1``, ``localhost``, ``[::1]`` or the bound address; DNS
rebinding) or whose Origin is another site's (any page the person visits) gets 403.
A body must have a Content-Length of at most :data:`MAX_BODY` bytes and be a JSON object
(else 400 or 413), and a connection that keeps the server waiting ``timeout_s`` seconds
for its request is closed. A ValueError raised by an endpoint (a codec's, a session's)
is the client's: 400 with ``{"error": ...}``. It stays on the standard library's
``http.server``: measured, Starlette on uvicorn answered no faster (about 1 ms either
way), added 1.8 MB of packages, and would still need these checks written by hand (it
held idle connections open and served a foreign Origin).
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
from typing import Any, BinaryIO, NamedTuple

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY = 4096
"""Largest request body accepted, in bytes (an action is a few dozen)."""
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
"""The names of this machine a request's Host may give (with the server's port)."""


class Refused(Exception):
    """A request refused: its HTTP ``status`` and a one-line reason (sent as ``{"error": reason}``)."""

    def __init__(self, status: HTTPStatus, reason: str):
        super().__init__(reason)
        self.status = status


class Reply(NamedTuple):
    """An answer: HTTP status, body bytes and content type."""

    status: int
    body: bytes
    kind: str


def json_reply(obj: Any, status: int = HTTPStatus.OK) -> Reply:
    """``obj`` as a JSON answer."""
    return Reply(status, json.dumps(obj).encode(), "application/json")


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


class LocalServer:
    """A threaded HTTP server for pages of :data:`STATIC_DIR`; subclasses answer the rest.

    Args:
        host: the address to bind (127.0.0.1: this machine only).
        port: the port (0: a free one; see :attr:`url`).
        timeout_s: seconds a connection may keep the server waiting for (the rest of) its
            request, or for reading the answer, before it is closed.
        name: the server thread's name and the ``Server`` header.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 8000, timeout_s: float = 10.0, name: str = "assist-play"):
        if not is_loopback(host):
            log.warning("serving on %s: anyone who can reach this address can play and save recordings", host)
        self.name = name
        self.files = static_files()
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

    def start(self) -> LocalServer:
        """Start what :meth:`starting` starts, then serve on a background thread; returns self."""
        self.starting()
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True)
        self._thread.start()
        return self

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises KeyboardInterrupt here)."""
        self._thread.join()

    def stop(self) -> None:
        """Stop serving, then what :meth:`stopped` stops."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.stopped()

    def run_until_interrupted(self) -> None:
        """Block until Ctrl-C (or the server stops), then :meth:`stop`."""
        try:
            self.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def starting(self) -> None:
        """Start the subclass's background work (a session's ticker) before serving."""

    def stopped(self) -> None:
        """Stop the subclass's background work once no request is served."""

    def page(self, name: str) -> Reply:
        """The static file ``name`` (``index.html``)."""
        return Reply(HTTPStatus.OK, *self.files[name])

    # ------------------------------------------------------------------ what subclasses answer

    def get(self, path: str) -> Reply:
        """The answer to ``GET path`` (no query string) that is not a static file; raise
        :class:`Refused` for an error."""
        raise Refused(HTTPStatus.NOT_FOUND, f"no such page {path!r}")

    def post(self, path: str, body: dict[str, Any]) -> Reply:
        """The answer to ``POST path`` with the JSON object ``body``; raise :class:`Refused`
        or ValueError (a 400) for an error."""
        raise Refused(HTTPStatus.NOT_FOUND, f"no such endpoint {path!r}")

    # ------------------------------------------------------------------ checks and the handler

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
            server_version = app.name
            timeout = timeout_s  # a socket timeout: half-open connections are dropped

            def log_message(self, format: str, *args) -> None:
                log.debug("%s " + format, self.address_string(), *args)

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.kind)
                self.send_header("Content-Length", str(len(reply.body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(reply.body)

            def parse_request(self) -> bool:
                """Read the request line and headers; False (the answer sent) if they are bad or
                :meth:`LocalServer.check_origin` refuses them: no request method runs then."""
                if not super().parse_request():
                    return False
                try:
                    app.check_origin(self.headers)
                except Refused as refused:
                    self._send(json_reply({"error": str(refused)}, refused.status))
                    return False
                return True

            def _answer(self, respond) -> None:
                try:
                    self._send(respond())
                except Refused as refused:
                    self._send(json_reply({"error": str(refused)}, refused.status))
                except ValueError as error:  # codec and session errors are the client's
                    self._send(json_reply({"error": str(error)}, HTTPStatus.BAD_REQUEST))

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                name = path.removeprefix("/static/") if path.startswith("/static/") else None
                self._answer(lambda: app.page(name) if name in app.files else app.get(path))

            def do_POST(self) -> None:
                self._answer(lambda: app.post(self.path, read_json(self.headers, self.rfile)))

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
