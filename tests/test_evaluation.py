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

import envs.build as build
from assist import evaluation, recording
from assist.cli import CONFIG_DIR
from assist.cli.evaluate import run
from assist.players import make_player
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
