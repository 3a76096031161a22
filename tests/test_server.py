"""The play server's endpoints, over HTTP on 127.0.0.1 (the browser itself: test_browser.py)."""

import fnmatch
import json
import re
import socket
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import envs.building as build
import envs.kitchen
from assist import recording
from assist.registry import make_player
from assist.ui import server as server_module
from assist.ui.server import PlayServer
from assist.ui.session import Session
from assist.ui.web import MAX_BODY, STATIC_DIR, is_loopback
from envs.core import ASSISTANT, HUMAN


def request(server, path, body=None, raw=None):
    """(status, decoded JSON or text) of a GET, or a POST when ``body``/``raw`` is given."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(server.url.rstrip("/") + path, data=data), timeout=10) as reply:
            status, text, kind = reply.status, reply.read().decode(), reply.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        status, text, kind = error.code, error.read().decode(), error.headers["Content-Type"]
    return status, json.loads(text) if kind == "application/json" else text


@pytest.fixture
def serve(tmp_path):
    servers = []

    def start(core, seat, other, tick_ms=10_000, **options):
        seats = {seat: None, (ASSISTANT if seat == HUMAN else HUMAN): make_player(other, core, ASSISTANT if seat == HUMAN else HUMAN)}
        server = PlayServer(Session(core, seats, seed=0), seat, tmp_path / "recording.jsonl", port=0, tick_ms=tick_ms, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def exchange(server, data, wait=3.0):
    """What the server sends back, until it closes, to the raw bytes ``data`` (b"" if it sends
    nothing); fails if it holds the connection open longer than ``wait`` seconds."""
    port = server.httpd.server_address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as connection:
        connection.sendall(data.replace(b"PORT", str(port).encode()))
        reply = b""
        while chunk := connection.recv(65536):
            reply += chunk
    return reply


def raw_post(path, body, headers=b"Host: 127.0.0.1:PORT\r\n"):
    """A POST of ``body`` with ``headers`` (and a Content-Length of the body unless they have one)."""
    length = b"" if b"Content-Length" in headers else b"Content-Length: %d\r\n" % len(body)
    return b"POST %s HTTP/1.1\r\n%s%s\r\n%s" % (path.encode(), headers, length, body)


def status_and_error(reply):
    """(status, the JSON error) of a raw reply."""
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["error"]


@pytest.fixture(scope="module")
def core():
    return build.make_core("tiny", goal_split="test")


def test_it_binds_this_machine_only_by_default(serve, core):
    server = serve(core, HUMAN, "oracle")
    assert server.url.startswith("http://127.0.0.1:")
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and not is_loopback("0.0.0.0")


def test_only_the_goal_of_the_human_seat_is_shown(serve, core):
    human = request(serve(core, HUMAN, "oracle"), "/api/state")[1]
    assistant = request(serve(core, ASSISTANT, "greedy"), "/api/state")[1]
    assert len(human["goal"]) == core.V and "goal" in human["text"].splitlines()[0]
    assert assistant["goal"] is None and "goal" not in assistant["text"] and "goal" not in assistant["prompt"]
    assert assistant["metrics"] is None and human["metrics"]["goal_pct"] == 0
    assert set(human["players"]) == {HUMAN, ASSISTANT} and human["legal"][0] == 0


def test_actions_in_words_are_queued_and_bad_ones_explained(serve, core):
    server = serve(core, HUMAN, "oracle")
    assert request(server, "/api/action", {"text": "noop"}) == (200, {"queued": "noop"})
    status, reply = request(server, "/api/action", {"text": "fly away"})
    assert status == 400 and "not an action of human_0" in reply["error"]
    assert request(server, "/api/action", {"action": 10**6})[0] == 400
    assert "JSON object" in request(server, "/api/action", [1])[1]["error"]
    assert request(server, "/api/action", raw=b"x" * (MAX_BODY + 1))[0] == 413
    assert request(server, "/api/state")[1]["queued"] == ["noop"]


def test_only_its_own_static_files_are_served(serve, core):
    server = serve(core, HUMAN, "oracle")
    assert "<canvas" in request(server, "/")[1] and "function draw" in request(server, "/static/app.js")[1]
    for path in ("/static/../session.py", "/static/%2e%2e/session.py", "/static//etc/passwd", "/api/nothing", "/assist/ui/server.py"):
        assert request(server, path)[0] == 404, path
    assert request(server, "/api/quit", {})[0] == 404


def test_the_3d_views_three_js_is_served_from_the_package_with_its_license(serve, core):
    server = serve(core, HUMAN, "oracle")
    page = request(server, "/")[1]
    assert "http://" not in page and "https://" not in page  # nothing from the internet
    imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', page)[1])["imports"]
    for url in ("/static/view3d.js", imports["three"], imports["three/addons/"] + "OrbitControls.js", "/static/vendor/three.core.min.js"):
        with urllib.request.urlopen(server.url.rstrip("/") + url, timeout=10) as reply:
            assert reply.headers["Content-Type"].startswith("text/javascript"), url
    assert "MIT License" in request(server, "/static/vendor/LICENSE")[1]
    vendored = sorted(p.relative_to(STATIC_DIR).as_posix() for p in (STATIC_DIR / "vendor").iterdir())
    packaged = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["assist.ui"]
    assert all(any(fnmatch.fnmatch("static/" + name, pattern) for pattern in packaged) for name in vendored)  # installed too


def wait_for(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_the_clock_waits_for_start_and_pauses_while_no_one_is_there(serve, core, monkeypatch):
    monkeypatch.setattr(server_module, "AWAY_S", 0.3)
    server = serve(core, HUMAN, "noop", tick_ms=20)  # a waiting assistant: the episode runs to the horizon
    time.sleep(0.3)
    state = request(server, "/api/state")[1]
    assert state["clock"] == "waiting" and state["t"] == 0  # nothing happened before the person pressed start
    assert request(server, "/api/start", {}) == (200, {"clock": "running"})
    wait_for(lambda: request(server, "/api/state")[1]["t"] >= 2)
    time.sleep(0.6)  # no state requests: the person left
    assert server.ticker.clock() == "paused"
    t = int(server.session.snapshot().state.t[0])
    time.sleep(0.2)
    assert int(server.session.snapshot().state.t[0]) == t  # paused: no ticks
    state = request(server, "/api/state")[1]  # back
    assert state["clock"] == "running"
    wait_for(lambda: request(server, "/api/state")[1]["t"] > t)
    assert request(server, "/api/state")[1]["t"] > t


def test_the_assistant_acts_on_the_clock_without_input(serve, core):
    server = serve(core, HUMAN, "oracle", tick_ms=20)
    request(server, "/api/start", {})
    deadline = time.monotonic() + 10
    while request(server, "/api/state")[1]["t"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    state = request(server, "/api/state")[1]
    assert state["t"] >= 3 and state["last"][ASSISTANT]["action"] != "noop"


def test_saving_and_downloading_give_the_same_replayable_recording(serve, core, tmp_path):
    server = serve(core, HUMAN, "oracle")
    server.session.tick()
    server.session.tick()
    status, reply = request(server, "/api/save", {})
    assert status == 200 and reply == {"path": str(tmp_path / "recording.jsonl"), "episodes": 1}
    saved = recording.read(tmp_path / "recording.jsonl")
    assert request(server, "/api/recording")[1] == (tmp_path / "recording.jsonl").read_text()
    assert recording.replay(core, saved.episodes[0]) == pytest.approx(saved.episodes[0]["metrics"])
    assert request(server, "/api/new_episode", {})[1] == {"episode": 1}


def test_kitchen_is_played_through_action_words(serve):
    kitchen = envs.kitchen.make_core("cake_or_pie")
    server = serve(kitchen, HUMAN, "bayes")
    info = request(server, "/api/info")[1]
    assert info["game"] == "kitchen" and "build" not in info
    state = request(server, "/api/state")[1]
    word = info["actions"][state["legal"][-1]]
    assert request(server, "/api/action", {"text": word})[1] == {"queued": word}
    server.session.tick()
    assert request(server, "/api/state")[1]["last"][HUMAN]["action"] == word


def test_a_negative_or_non_numeric_content_length_is_refused_at_once(serve, core):
    server = serve(core, HUMAN, "oracle")
    for length in (b"-1", b"abc", b"1e3", b"9" * 5000):
        status, error = status_and_error(exchange(server, raw_post("/api/action", b"{}", b"Host: 127.0.0.1:PORT\r\nContent-Length: %s\r\n" % length)))
        assert status == 400 and "Content-Length" in error, length
    assert request(server, "/api/state")[1]["queued"] == []


def test_deeply_nested_json_is_refused_with_a_reason(serve, core):
    server = serve(core, HUMAN, "oracle")
    status, reply = request(server, "/api/action", raw=b"[" * MAX_BODY)
    assert status == 400 and "nested too deeply" in reply["error"]
    assert request(server, "/api/action", raw=b"\xff{")[0] == 400


def test_a_connection_that_sends_nothing_or_half_a_request_is_closed_after_the_timeout(serve, core):
    server = serve(core, HUMAN, "oracle", timeout_s=0.5)
    half_body = raw_post("/api/action", b'{"te', b"Host: 127.0.0.1:PORT\r\nContent-Length: 100\r\n")
    for data in (b"", b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n", half_body):
        started = time.monotonic()
        assert exchange(server, data, wait=3.0) == b"", data
        assert time.monotonic() - started < 2.0
    assert request(server, "/api/state")[0] == 200


def test_requests_from_other_sites_are_refused(serve, core):
    server = serve(core, HUMAN, "oracle")
    for origin in (b"http://evil.example", b"null", b"http://127.0.0.1:1", b"https://127.0.0.1:PORT"):
        status, error = status_and_error(exchange(server, raw_post("/api/new_episode", b"{}", b"Host: 127.0.0.1:PORT\r\nOrigin: %s\r\n" % origin)))
        assert status == 403 and "refused" in error, origin
    assert request(server, "/api/state")[1]["episode"] == 0
    same_site = exchange(server, raw_post("/api/new_episode", b"{}", b"Host: localhost:PORT\r\nOrigin: http://localhost:PORT\r\n"))
    assert same_site.startswith(b"HTTP/1.0 200") and json.loads(same_site.partition(b"\r\n\r\n")[2]) == {"episode": 1}


def test_only_a_loopback_host_name_is_served_against_dns_rebinding(serve, core):
    server = serve(core, HUMAN, "oracle")
    for host in (b"evil.example:PORT", b"127.0.0.1:1", b"127.0.0.1", b"localhost.evil.example:PORT"):
        status, error = status_and_error(exchange(server, b"GET /api/state HTTP/1.1\r\nHost: %s\r\n\r\n" % host))
        assert status == 403 and "Host" in error, host
    assert status_and_error(exchange(server, b"GET /api/recording HTTP/1.0\r\n\r\n"))[0] == 403
    for host in (b"127.0.0.1:PORT", b"localhost:PORT", b"[::1]:PORT"):
        assert exchange(server, b"GET /api/info HTTP/1.1\r\nHost: %s\r\n\r\n" % host).startswith(b"HTTP/1.0 200"), host


def test_the_assistant_seat_downloads_no_goal_before_the_episode_ends(serve, core):
    server = serve(core, ASSISTANT, "greedy")
    server.session.tick()
    playing = request(server, "/api/recording")[1]
    assert playing.count("\n") == 1 and '"goal":' not in playing  # the header only (its config names goal_split, no goal)
    while server.session.tick() is not None:
        pass
    header, episode = map(json.loads, request(server, "/api/recording")[1].splitlines())
    assert len(episode["goal"][0]) == core.V and "goal_pct" in episode["metrics"]
