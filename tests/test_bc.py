"""Behaviour-cloned humans: recordings in, a human model out, playable by config name."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

import envs.building as build
import envs.kitchen
from assist import evaluation, recording
from assist.cli import CONFIG_DIR
from assist.cli import evaluate as evaluate_cli
from assist.cli import train_bc as train_bc_cli
from assist.learning import bc
from assist.models import bc as bc_models
from assist.registry import make_player
from assist.rollout import turn_for
from assist.ui.session import Session
from envs.core import ASSISTANT, HUMAN

TINY = {"preset": "tiny", "goal_split": "train"}


def compose_with(primary, overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name=primary, overrides=overrides)


def record(path, core, options, human, assistant, episodes, seed):
    lines = []
    evaluation.evaluate(core, make_player(human, core, HUMAN), make_player(assistant, core, ASSISTANT), episodes, episodes, seed, record=lines)
    seats = {HUMAN: {"player": human, "person": False}, ASSISTANT: {"player": assistant, "person": False}}
    recording.write(path, recording.header(core.name, options, seats), lines)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_a_clone_of_the_greedy_human_beats_the_most_common_action_and_plays_in_evaluate(tmp_path):
    core = build.make_core(**TINY)
    record(tmp_path / "data" / "a.jsonl", core, TINY, "greedy", "noop", 30, seed=1)
    record(tmp_path / "data" / "more" / "b.jsonl", core, TINY, "greedy", "random", 30, seed=2)
    cfg = compose_with("train_bc", [f"data={tmp_path / 'data'}", "fit.epochs=6", "+fit.sizes.channels=16", "+fit.sizes.blocks=1"])
    metrics = train_bc_cli.run(cfg, tmp_path / "model")
    assert metrics["accuracy"] > metrics["baseline"] + 0.2, metrics
    card = json.loads((tmp_path / "model" / "bc.json").read_text())
    assert card["game"] == "build" and card["env"] == TINY and len(card["metrics"]["data"]) == 2

    overrides = ["env.preset=tiny", "human=bc", f"human.params.path={tmp_path / 'model'}", "baselines=[noop]", "episodes=6", "batch=6"]
    summary = evaluate_cli.run(compose_with("evaluate", overrides), tmp_path / "eval")
    assert summary["noop"]["goal_pct"].mean > 20  # alone, the clone builds much of the goal


def test_kitchen_humans_are_cloned_from_their_observation_with_the_goal(tmp_path):
    core = envs.kitchen.make_core("cake_or_pie")
    record(tmp_path / "kitchen.jsonl", core, {"variant": "cake_or_pie"}, "model", "noop", 60, seed=0)
    _, options, steps = bc.human_steps(bc.recording_files(tmp_path))
    assert options == {"variant": "cake_or_pie"} and set(steps.observation) == {"state", "t", "goal"}
    net, metrics = bc.train(core, steps, bc.BCTrainConfig(epochs=30, sizes={"hidden": 32}), log=lambda line: None)
    assert metrics["accuracy"] >= metrics["baseline"] and metrics["heldout_steps"] > 0
    bc_models.save(tmp_path / "model", net, core, options, metrics)
    player = make_player("bc", core, HUMAN, path=str(tmp_path / "model"), sample=False)
    state = core.reset(8, np.random.default_rng(0))
    turn = turn_for(core, player, state, HUMAN)
    assert turn.state is None and turn.legal[np.arange(8), player.act(turn)].all()


def test_recordings_of_people_feed_behaviour_cloning(tmp_path):
    core = build.make_core("tiny")
    session = Session(core, {HUMAN: None, ASSISTANT: make_player("random", core, ASSISTANT)}, seed=3, game_config={"preset": "tiny"})
    typed, rng = [], np.random.default_rng(0)
    for _ in range(5):
        action = int(rng.choice(np.flatnonzero(session.legal(HUMAN))))
        session.submit(HUMAN, action)
        typed.append(action)
        session.tick()
    session.save(tmp_path / "person.jsonl")
    _, _, steps = bc.human_steps([tmp_path / "person.jsonl"])
    applied = [0 if illegal else action for action, (illegal, _) in zip(typed, session.episodes()[0]["illegal"])]
    assert steps.action.tolist() == applied and steps.observation["world"].shape == (5, 4, *core.shape)


def test_mixed_games_missing_data_and_wrong_games_are_refused_with_the_fix(tmp_path):
    tiny, small = build.make_core("tiny"), build.make_core("small")
    record(tmp_path / "tiny.jsonl", tiny, {"preset": "tiny"}, "greedy", "noop", 2, seed=0)
    record(tmp_path / "small.jsonl", small, {"preset": "small"}, "greedy", "noop", 2, seed=0)
    with pytest.raises(ValueError, match="recordings of one game"):
        bc.human_steps(bc.recording_files(tmp_path))
    with pytest.raises(FileNotFoundError, match="no recordings"):
        bc.recording_files(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="scripts/train_bc.py"):
        make_player("bc", tiny, HUMAN, path=str(tmp_path / "nothing"))
    bc_models.save(tmp_path / "model", bc_models.make_net(tiny, channels=4, blocks=1), tiny, {"preset": "tiny"}, {})
    with pytest.raises(ValueError, match="trained on build"):
        make_player("bc", small, HUMAN, path=str(tmp_path / "model"))
    with pytest.raises(ValueError, match="plays the human_0 seat"):
        make_player("bc", tiny, ASSISTANT, path=str(tmp_path / "model"))
    with pytest.raises(ValueError, match="valid sizes"):
        bc_models.make_net(tiny, width=3)
    with pytest.raises(ValueError, match="holdout"):
        bc.BCTrainConfig(holdout=1.0)


def test_a_directory_that_holds_a_model_is_refused_before_any_work(tmp_path):
    """``scripts/train_bc.py`` never overwrites a model (``hydra.run.dir`` of an earlier run): one error line, exit 1."""
    root = Path(__file__).resolve().parents[1]
    (tmp_path / "bc.json").write_text("{}")
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(root / "scripts" / "train_bc.py"), f"data={tmp_path / 'no-recordings'}", f"hydra.run.dir={tmp_path}"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in output, output
    assert f"error: {tmp_path} already holds a model (bc.json); point hydra.run.dir at a new directory" in output
    assert (tmp_path / "bc.json").read_text() == "{}"
