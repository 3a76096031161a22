"""The evaluator, recordings and the evaluate entry point."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigKeyError, ValidationError

import envs.building as build
from assist import evaluation, recording
from assist.cli import CONFIG_DIR
from assist.cli.evaluate import run
from assist.learning import bc
from assist.registry import make_player
from envs.core import ASSISTANT, HUMAN

ROOT = Path(__file__).resolve().parents[1]


def test_bootstrap_interval_brackets_the_mean():
    summary = evaluation.bootstrap_ci(np.arange(100.0), np.random.default_rng(0))
    assert summary.low < summary.mean == 49.5 < summary.high and summary.n == 100
    assert evaluation.bootstrap_ci(np.full(10, 3.0), np.random.default_rng(0))[:3] == (3.0, 3.0, 3.0)


def test_evaluation_is_reproducible_and_batch_size_free():
    core = build.make_core("tiny")
    human = make_player("greedy", core, HUMAN)
    assistant = make_player("noop", core, ASSISTANT)
    a = evaluation.evaluate(core, human, assistant, episodes=12, batch=12, seed=3)
    b = evaluation.evaluate(core, human, assistant, episodes=12, batch=12, seed=3)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert len(a["goal_pct"]) == 12


def test_recordings_round_trip_and_replay_exactly(tmp_path):
    core = build.make_core("tiny")
    lines = []
    evaluation.evaluate(core, make_player("greedy", core, HUMAN), make_player("random", core, ASSISTANT), 6, 4, 0, record=lines)
    path = tmp_path / "rec.jsonl"
    seats = {HUMAN: {"player": "greedy", "person": False}, ASSISTANT: {"player": "random", "person": False}}
    recording.write(path, recording.header("build", {"preset": "tiny"}, seats), lines)
    loaded = recording.read(path)
    assert loaded.header["game"] == "build" and len(loaded.episodes) == 6
    for episode in loaded.episodes:
        assert recording.replay(core, episode) == pytest.approx(episode["metrics"])


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("not json\n", "not JSON"),
        ('{"format": "other"}\n', "format"),
        ('{"format": "assist-recording/v1", "game": "build", "config": {}, "seats": {}}\n{"episode": 0}\n', "lacks"),
        (
            '{"format": "assist-recording/v1", "game": "build", "config": {}, "seats": {}}\n'
            '{"episode": 0, "seed": 1, "goal": [[0]], "actions": [[1, 2, 3]], "rewards": [0]}\n',
            "pairs",
        ),
    ],
)
def test_malformed_recordings_are_refused_with_the_line(tmp_path, text, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        recording.read(path)


TINY_ACTIONS = build.make_core("tiny").num_actions(HUMAN)
TINY_GOAL = build.make_core("tiny").sample_goals(1, np.random.default_rng(0)).tolist()  # [[100 ids]]


def recording_text(config=None, **episode) -> str:
    """A tiny build recording: a header with ``config`` and one two-step episode with ``episode``'s changes."""
    head = recording.header("build", {"preset": "tiny"} if config is None else config, {})
    line = {"episode": 0, "seed": 3, "goal": TINY_GOAL, "actions": [[0, 0], [1, 0]], "rewards": [0.0, 0.0], **episode}
    return json.dumps(head) + "\n" + json.dumps(line) + "\n"


@pytest.mark.parametrize(
    "text, message",
    [
        (recording_text(actions=[[0, 0], [0, -1]]), r"line 2: assistant_0's action id -1 at step 1 is negative; ids are >= 0"),
        (recording_text(goal=[["dirt"] * 100]), r"line 2: 'goal' must be \[\[F ints\]\].*not all ints"),
        (recording_text(goal=[[g + 0.5 for g in TINY_GOAL[0]]]), r"line 2: 'goal' must be \[\[F ints\]\]"),  # never truncated
        (recording_text(goal=[[-1] * 100]), r"line 2: 'goal' holds the negative id -1"),
        (recording_text(seed=-5), r"line 2: seed is -5, expected an int >= 0"),
        (recording_text(seed="abc"), r"line 2: seed is 'abc', expected an int >= 0"),
        (recording_text(seed=1.5), r"line 2: seed is 1.5, expected an int >= 0"),
        (recording_text(rewards=["a", 0.0]), r"line 2: 'rewards' must be a list of finite numbers"),
        (recording_text(config=["tiny"]), r": header config is a list, expected an object of the game's options"),
        (recording_text(config={"preset": "tiny", "colour": "red"}), r": header config .* does not make a build game: unknown build option"),
        (recording_text(config={"width": 3000, "height": 3000, "depth": 3000}), r"world size \(3000, 3000, 3000\) is 27,000,000,000 voxels, more than MAX_VOXELS"),
        (recording_text().replace('"episode"', '"deep": ' + "[" * 100_000 + "]" * 100_000 + ', "episode"'), r" line 2 is nested too deeply"),
    ],
    ids=[
        "negative_action", "goal_of_strings", "float_goal", "negative_goal_id", "negative_seed", "string_seed", "float_seed",
        "string_reward", "config_list", "unknown_option", "huge_world", "deep_json",
    ],
)
def test_malformed_recording_lines_are_refused_naming_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"^recording {re.escape(str(path))}.*{message}"):
        recording.read(path)


@pytest.mark.parametrize(
    "episode, message",
    [
        ({"actions": [[TINY_ACTIONS, 0], [0, 0]]}, rf"human_0's action id {TINY_ACTIONS} at step 0 is outside its action space \[0, {TINY_ACTIONS}\)"),
        ({"goal": [TINY_GOAL[0][:10]]}, r"'goal' must be \[\[100 ints\]\].*got shape \[1, 10\]"),
        ({"goal": [[9] * 100]}, r"'goal' is not a goal of this game: .*outside the palette"),
    ],
    ids=["action_outside_the_space", "goal_too_short", "goal_outside_the_palette"],
)
@pytest.mark.parametrize("reader", ["read_with_the_core", "read_game", "behaviour_cloning", "sft_demonstrations"])
def test_recordings_are_checked_against_the_game_they_are_replayed_on(tmp_path, episode, message, reader):
    path = tmp_path / "bad.jsonl"
    path.write_text(recording_text(**episode))
    recording.read(path)  # well formed
    with pytest.raises(ValueError, match=rf"^recording {re.escape(str(path))} line 2: {message}"):
        read_for_a_game(reader, path)


def read_for_a_game(reader: str, path: Path):
    """``path`` read as each reader that knows its game reads it."""
    if reader == "read_with_the_core":
        return recording.read(path, build.make_core("tiny"))
    if reader == "read_game":
        return recording.read_game(path)
    if reader == "behaviour_cloning":
        return bc.human_steps([path])
    from assist.learning.llm_sft import recorded_episodes  # transformers: only here

    return recorded_episodes(build.make_core("tiny"), path)


def test_a_recorded_action_outside_the_space_never_indexes_from_the_end():
    core = build.make_core("tiny")
    episode = {"seed": 3, "goal": TINY_GOAL, "actions": np.array([[-1, -1], [TINY_ACTIONS, 0]])}
    steps = recording.seat_steps(core, [episode], HUMAN)
    assert steps.action.tolist() == [0, 0]  # the no-op the game applied, not the last action's id


def compose_evaluate(overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="evaluate", overrides=overrides)


def test_evaluate_run_writes_the_table(tmp_path):
    cfg = compose_evaluate(["env.preset=tiny", "episodes=8", "batch=8", "record=true"])
    summary = run(cfg, tmp_path)
    assert set(summary) == {"noop", "random", "oracle"}
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["summary"]["oracle"]["goal_pct"]["mean"] >= data["summary"]["random"]["goal_pct"]["mean"]
    assert "| oracle |" in (tmp_path / "results.md").read_text()
    assert len(recording.read(tmp_path / "recording_oracle.jsonl").episodes) == 8


def test_kitchen_is_evaluated_through_the_same_entry_point(tmp_path):
    summary = run(compose_evaluate(["env=kitchen", "episodes=8", "batch=8"]), tmp_path)
    assert summary["oracle"]["goal_pct"].mean >= summary["noop"]["goal_pct"].mean


def test_wrong_types_and_unknown_keys_fail_at_composition():
    with pytest.raises((ValidationError, ConfigCompositionException)):
        compose_evaluate(["episodes=many"])
    with pytest.raises((ConfigKeyError, ConfigCompositionException)):
        compose_evaluate(["env.colour=red"])


def test_unknown_group_option_lists_the_valid_ones():
    with pytest.raises(ConfigCompositionException, match="greedy"):
        compose_evaluate(["human=telepath"])


@pytest.mark.slow
def test_the_evaluate_script_runs_from_another_directory(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "evaluate.py"), "env.preset=tiny", "episodes=4", "batch=4", f"hydra.run.dir={tmp_path}/run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "| oracle |" in result.stdout and (tmp_path / "run" / "results.json").exists()
    assert "| oracle |" in (tmp_path / "run" / "evaluate.log").read_text()  # the table reaches the log too


def test_every_entry_point_takes_torch_threads_by_one_rule(tmp_path):
    """evaluate.py (like train, train_bc, play, compare and diagnose) sets torch's threads,
    one by default; a negative count is refused naming the key."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        run(compose_evaluate(["env.preset=tiny", "episodes=2", "batch=2", "baselines=[noop]"]), tmp_path / "one")
        assert torch.get_num_threads() == 1
        with pytest.raises(ValueError, match=re.escape("threads=-1 must be >= 0")):
            run(compose_evaluate(["env.preset=tiny", "threads=-1"]), tmp_path / "bad")
        for config in ("evaluate", "play", "train", "train_bc"):
            with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
                assert compose(config_name=config, overrides=["data=x"] if config == "train_bc" else []).threads == 1
    finally:
        torch.set_num_threads(before)
