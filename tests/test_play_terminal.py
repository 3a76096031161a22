"""Terminal play through a session, driven by scripted input; the recording replays."""

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

import envs
from assist import recording
from assist.cli import CONFIG_DIR
from assist.cli.play import make_session, run
from assist.players.terminal import HELP_SHOWN, interpret
from envs.codec import TextCodec
from envs.core import ASSISTANT, HUMAN

ROOT = Path(__file__).resolve().parents[1]


def compose_play(overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="play", overrides=["env.preset=tiny", *overrides])


def typed(cfg, tmp_path, lines):
    """Play ``cfg`` in the terminal with ``lines`` typed: (what it showed, the recording's path)."""
    out = io.StringIO()
    path = run(cfg, tmp_path, stdin=io.StringIO(lines), stdout=out)
    return out.getvalue(), path


def first_legal_move(cfg, seat):
    session, _ = make_session(cfg)
    legal = session.legal(seat)
    move = int(np.flatnonzero(legal[1:7])[0] + 1)
    return move, TextCodec(session.core).action_text(seat, move)


def test_the_human_seat_plays_typed_lines_and_the_recording_replays(tmp_path):
    cfg = compose_play(["seat=human", "assistant=oracle"])
    move, text = first_legal_move(cfg, HUMAN)
    shown, path = typed(cfg, tmp_path, f"dance\nhelp\n\n{text.upper()}\nquit\n")
    assert "not an action: 'dance'" in shown and "legal actions include: noop, " in shown
    assert "world" in shown and "goal" in shown.splitlines()[0]  # the human sees the goal beside the world
    saved = recording.read(path)
    (episode,) = saved.episodes
    assert episode["actions"][:, 0].tolist() == [0, move]  # the empty line was a no-op; bad lines were not steps
    assert saved.header["seats"] == {HUMAN: {"player": "terminal", "person": True}, ASSISTANT: {"player": "oracle", "person": False}}
    session, _ = make_session(cfg)
    for joint in episode["actions"]:
        if joint[0]:
            session.submit(HUMAN, int(joint[0]))
        session.tick()
    replayed = recording.replay_state(session.core, episode)
    assert np.array_equal(replayed.world, session.snapshot().state.world)
    assert recording.replay(session.core, episode) == pytest.approx(episode["metrics"])


def test_help_says_how_many_more_legal_actions_there_are_and_help_all_lists_every_one():
    core = envs.make_core("build", preset="tiny")
    legal = core.legal_mask(core.reset(1, np.random.default_rng(0)), HUMAN)[0]
    codec, count = TextCodec(core), int(legal.sum())
    assert count > HELP_SHOWN
    some = interpret(codec, HUMAN, "help", legal).message
    assert some.count(", ") == HELP_SHOWN  # HELP_SHOWN names, then ", and N more"
    assert some.endswith(f"and {count - HELP_SHOWN} more ({count} in all; 'help all' lists every one)")
    every = interpret(codec, HUMAN, "help all", legal).message
    assert every.startswith(f"legal actions ({count}): noop, ")
    assert every.split(": ", 1)[1].split(", ") == [codec.action_text(HUMAN, a) for a in np.flatnonzero(legal)]


def test_the_assistant_seat_never_shows_the_goal_and_end_of_input_stops(tmp_path):
    cfg = compose_play(["seat=assistant", "human=greedy"])
    _, text = first_legal_move(cfg, ASSISTANT)
    shown, path = typed(cfg, tmp_path, f"{text}\nnot legal at all\n\n")
    assert "goal" not in shown.split("recording saved")[0]
    assert "human did:" in shown  # the assistant's prompt
    (episode,) = recording.read(path).episodes
    assert len(episode["actions"]) == 2 and episode["actions"][0, 1] != 0


def test_no_input_in_time_is_a_noop_and_the_game_goes_on(tmp_path):
    cfg = compose_play(["seat=human", "assistant=oracle", "env.horizon=3", "episodes=2", "timeout=0.05"])
    read_end, write_end = os.pipe()
    silent, out = os.fdopen(read_end, "r"), io.StringIO()
    try:
        path = run(cfg, tmp_path, stdin=silent, stdout=out)
    finally:
        os.close(write_end)  # the input thread sees the end of input and lets go of the pipe
        silent.close()
    assert out.getvalue().count("no input in time") == 6 and out.getvalue().count("episode over") == 2
    episodes = recording.read(path).episodes
    assert [len(e["actions"]) for e in episodes] == [3, 3] and all((e["actions"][:, 0] == 0).all() for e in episodes)


def test_bad_play_options_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="seat=human or seat=assistant"):
        make_session(compose_play(["seat=both"]))
    with pytest.raises(ValueError, match="cannot be 'terminal' too"):
        make_session(compose_play(["seat=human", "assistant=terminal"]))
    with pytest.raises(ValueError, match="terminal.*browser"):
        make_session(compose_play(["ui=telepathy"]))


@pytest.mark.slow
def test_the_play_script_runs_from_another_directory(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "play.py"), "env.preset=tiny", f"hydra.run.dir={tmp_path}/run"],
        cwd=tmp_path,
        input="noop\nquit\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "recording saved" in result.stdout
    assert len(recording.read(tmp_path / "run" / "recording.jsonl").episodes[0]["actions"]) == 1
