"""The play session: people queue actions, a tick applies them, every step is recorded."""

import threading
import time

import numpy as np
import pytest

import envs.building as build
import envs.kitchen
from assist import recording
from assist.registry import make_player
from assist.ui.session import MAX_QUEUED, Session, SessionError, Ticker
from envs.core import ASSISTANT, HUMAN


@pytest.fixture(scope="module")
def core():
    return build.make_core("tiny", goal_split="test")


def person_with(core, assistant="oracle", seed=0):
    return Session(core, {HUMAN: None, ASSISTANT: make_player(assistant, core, ASSISTANT)}, seed=seed)


def a_legal_move(session, agent):
    legal = session.legal(agent)
    return int(np.flatnonzero(legal[1:7])[0] + 1)


def test_a_person_who_submits_nothing_plays_the_noop(core):
    session = person_with(core, "noop")
    step = session.tick()
    assert step.actions == (0, 0) and step.t == 1


def test_submitted_actions_are_applied_in_order_one_per_tick(core):
    session = person_with(core, "noop")
    first = a_legal_move(session, HUMAN)
    session.submit(HUMAN, first)
    session.submit(HUMAN, 0)
    assert session.snapshot().queued[HUMAN] == [first, 0]
    assert session.tick().actions[0] == first
    assert session.tick().actions[0] == 0
    assert session.tick().actions[0] == 0  # the queue is empty: no-op


def test_ai_players_act_at_tick_time_without_any_input(core):
    session = person_with(core, "oracle")
    before = session.snapshot().metrics["goal_pct"]
    for _ in range(10):
        session.tick()
    after = session.snapshot()
    assert after.metrics["goal_pct"] > before and after.state.parts[0, 1] > 0  # the oracle built alone


def test_bad_submissions_are_refused_with_a_reason(core):
    session = person_with(core)
    with pytest.raises(SessionError, match="not a person's seat"):
        session.submit(ASSISTANT, 0)
    with pytest.raises(SessionError, match=r"action id in \[0, "):
        session.submit(HUMAN, core.num_actions(HUMAN))
    illegal = int(np.flatnonzero(~session.legal(HUMAN))[0])
    with pytest.raises(SessionError, match="not legal"):
        session.submit(HUMAN, illegal)
    for _ in range(MAX_QUEUED):
        session.submit(HUMAN, 0)
    with pytest.raises(SessionError, match="already waiting"):
        session.submit(HUMAN, 0)


def test_after_the_episode_ends_ticks_do_nothing_and_submissions_are_refused(core):
    session = person_with(core, "noop")
    while session.tick() is not None:
        pass
    assert session.done and session.snapshot().state.t[0] == core.horizon
    with pytest.raises(SessionError, match="over"):
        session.submit(HUMAN, 0)


def test_the_recording_replays_every_episode_exactly(core, tmp_path):
    session = person_with(core, "oracle", seed=5)
    rng = np.random.default_rng(0)
    for episode in range(2):
        for _ in range(15):
            legal = np.flatnonzero(session.legal(HUMAN))
            session.submit(HUMAN, int(rng.choice(legal)))
            session.tick()
        final = session.snapshot().state
        if episode == 0:
            session.new_episode()
    saved = recording.read(session.save(tmp_path / "session.jsonl"))
    assert saved.header["seats"][HUMAN]["person"] and not saved.header["seats"][ASSISTANT]["person"]
    assert [e["episode"] for e in saved.episodes] == [0, 1] and all(len(e["actions"]) == 15 for e in saved.episodes)
    replayed = recording.replay_state(core, saved.episodes[1])
    assert np.array_equal(replayed.world, final.world) and np.array_equal(replayed.pos, final.pos)
    assert saved.episodes[0]["seed"] != saved.episodes[1]["seed"]


@pytest.mark.parametrize("game", ["build", "kitchen"])
def test_the_recording_header_holds_the_options_that_make_the_game_played(core, tmp_path, game):
    played = core if game == "build" else envs.kitchen.make_core("red_blue", human="boltzmann", beta=2.0, horizon=3)
    session = Session(played, {HUMAN: make_player("random", played, HUMAN), ASSISTANT: make_player("random", played, ASSISTANT)}, seed=2)
    for _ in range(3):
        session.tick()
    saved, remade = recording.read_game(session.save(tmp_path / "session.jsonl"))
    assert saved.header["config"] == played.options and remade.options == played.options
    replayed, final = recording.replay_state(remade, saved.episodes[0]), session.snapshot().state
    assert all(np.array_equal(value, getattr(final, name)) for name, value in vars(replayed).items())


def test_sessions_with_the_same_seed_play_the_same_games(core):
    a, b = (person_with(core, "oracle", seed=9) for _ in range(2))
    for _ in range(8):
        a.tick(), b.tick()
    assert np.array_equal(a.snapshot().state.world, b.snapshot().state.world)


def test_concurrent_submitters_and_a_ticker_lose_no_applied_step(core):
    session = person_with(core, "oracle")
    ticker = Ticker(session, interval=0.002).start()
    refused = []

    def press():
        for _ in range(30):
            try:
                session.submit(HUMAN, 0)
            except SessionError as error:
                refused.append(str(error))

    threads = [threading.Thread(target=press) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 10
    while session.snapshot().state.t[0] < 1 and time.monotonic() < deadline:  # a loaded machine may not have ticked yet
        time.sleep(0.01)
    ticker.stop()
    snap = session.snapshot()
    (episode,) = session.episodes()
    assert len(episode["actions"]) == snap.state.t[0] and not ticker.errors
    assert all("waiting" in message or "over" in message for message in refused)


def test_a_failing_ai_player_stops_the_ticker_with_its_message(core):
    class Broken:
        privileged = False

        def reset(self, batch, rng):
            pass

        def act(self, turn):
            raise RuntimeError("model file vanished")

    session = Session(core, {HUMAN: None, ASSISTANT: Broken()})
    ticker = Ticker(session, interval=0.001).start()
    ticker._thread.join(timeout=5)
    assert ticker.errors == ["RuntimeError: model file vanished"]


def test_a_person_can_take_the_assistant_seat_of_a_kitchen_game():
    core = envs.kitchen.make_core("cake_or_pie")
    session = Session(core, {HUMAN: make_player("model", core, HUMAN), ASSISTANT: None}, seed=1)
    choice = int(np.flatnonzero(session.legal(ASSISTANT))[-1])
    session.submit(ASSISTANT, choice)
    assert session.tick().actions[1] == choice


def test_seats_must_name_both_agents(core):
    with pytest.raises(ValueError, match="exactly the agents"):
        Session(core, {HUMAN: None})
