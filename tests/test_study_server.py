"""The study server over HTTP on 127.0.0.1: participants join from the start page, play at
once in their own sessions, and each recording holds only its own steps (the registry
itself: test_study.py; the start page in Chromium: test_browser.py)."""

import threading

import pytest

import envs.building as build
from assist import recording
from assist.registry import make_player
from assist.ui import study_log
from assist.ui.session import Session
from assist.ui.study import Study
from assist.ui.study_server import StudyServer
from envs.core import ASSISTANT, HUMAN
from tests.test_server import exchange, raw_post, request, status_and_error, wait_for


@pytest.fixture(scope="module")
def core():
    return build.make_core("tiny", goal_split="test", horizon=8)


@pytest.fixture
def serve(core, tmp_path):
    servers = []

    def start(tick_ms=30, **options):
        def condition(assistant):
            return lambda seed: (Session(core, {HUMAN: None, ASSISTANT: make_player(assistant, core, ASSISTANT)}, seed=seed), HUMAN)

        study = Study({"noop": condition("noop"), "oracle": condition("oracle")}, tmp_path / "study", tick_ms=tick_ms, **options)
        server = StudyServer(study, port=0).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def play(server, participant, pick, results):
    """One participant over HTTP: join the noop condition, queue three of the action ``pick``
    chooses from the legal ones, press Start, wait for the end; ``results[participant]`` is
    (the action id, the final state)."""
    status, joined = request(server, "/api/join", {"participant": participant, "condition": "noop"})
    assert status == 200, joined
    url = joined["url"]
    state = request(server, url + "api/state")[1]
    action = pick(state["legal"])
    for _ in range(3):
        assert request(server, url + "api/action", {"action": action})[0] == 200
    assert request(server, url + "api/start", {}) == (200, {"clock": "running"})
    wait_for(lambda: request(server, url + "api/state")[1]["ended"] is not None)
    results[participant] = (action, request(server, url + "api/state")[1])


def test_two_participants_play_at_once_and_each_recording_holds_only_its_own_steps(serve):
    server = serve()
    page = request(server, "/")[1]
    assert "Participant id" in page and request(server, "/api/study")[1]["conditions"] == ["noop", "oracle"]
    results = {}
    picks = {"A": lambda legal: legal[1], "B": lambda legal: legal[-1]}
    threads = [threading.Thread(target=play, args=(server, who, pick, results)) for who, pick in picks.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results["A"][0] != results["B"][0] and all(state["ended"] == "finished" and state["done"] for _, state in results.values())
    folder = server.study.folder
    for who, (action, _) in results.items():
        (episode,) = recording.read(folder / "recordings" / f"{who}__noop.jsonl").episodes
        assert episode["actions"][:, 0].tolist() == [action] * 3 + [0] * 5  # its own three actions, then no input
    lines = study_log.read(folder / "sessions.jsonl")
    assert sorted((line["participant"], line["condition"], line["ended"]) for line in lines) == [("A", "noop", "finished"), ("B", "noop", "finished")]
    assert all(line["length"] == 8 and line["duration_s"] > 0 for line in lines)


def test_a_full_study_shows_the_refusal_page_and_a_session_that_ends_frees_its_slot(serve):
    server = serve(max_sessions=1)
    url = request(server, "/api/join", {"participant": "A", "condition": "oracle"})[1]["url"]
    status, page = request(server, "/")
    assert status == 503 and "Every session of this study is taken" in page
    assert request(server, "/api/join", {"participant": "B", "condition": "oracle"}) == (
        503,
        {"error": "all 1 sessions of this study are taken: please wait for one to end and try again"},
    )
    request(server, url + "api/start", {})
    wait_for(lambda: request(server, "/")[0] == 200)
    assert request(server, "/")[0] == 200 and request(server, "/api/study")[1]["free"] == 1


def test_bad_joins_name_the_valid_choices_and_a_session_offers_only_playing(serve):
    server = serve()
    assert request(server, "/api/join", {"participant": "A", "condition": "pizza"}) == (
        400,
        {"error": "no condition 'pizza'; the conditions are ['noop', 'oracle']"},
    )
    assert "letters, digits" in request(server, "/api/join", {"participant": "../A", "condition": "noop"})[1]["error"]
    assert "unknown key(s) ['seat']" in request(server, "/api/join", {"seat": "human"})[1]["error"]
    status, joined = request(server, "/api/join", {"participant": "", "condition": "noop"})
    url = joined["url"]
    assert status == 200 and joined["participant"] == "p001"
    assert "<canvas" in request(server, url)[1] and request(server, url + "api/info")[1]["study"] == {"participant": "p001"}
    for path in ("api/recording", "api/save", "api/new_episode"):
        assert request(server, url + path, {} if path != "api/recording" else None)[0] == 404, path
    assert request(server, "/s/not-a-session/api/state")[0] == 404
    server.study.close()  # as when the server stops: the session ends, logged as stopped
    assert request(server, url + "api/action", {"action": 0}) == (400, {"error": "this session has ended (stopped); join again at the start page"})
    assert request(server, url + "api/state")[1]["ended"] == "stopped"


def test_the_study_binds_this_machine_only_and_refuses_other_sites(serve):
    server = serve()
    assert server.httpd.server_address[0] == "127.0.0.1"
    reply = exchange(server, raw_post("/api/join", b"{}", b"Host: 127.0.0.1:PORT\r\nOrigin: http://evil.example\r\n"))
    assert status_and_error(reply)[0] == 403 and server.study.free() == 4
