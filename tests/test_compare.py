"""scripts/compare.py: trained runs of both algorithms beside the baselines, pooled over seeds."""

import json

import numpy as np
import pytest

import envs
from assist.cli.compare import main as compare
from assist.cli.train import run
from assist.players import make_player
from assist.players.policy import PolicyPlayer
from assist.players.search import SearchPlayer
from envs.core import ASSISTANT
from tests.test_ppo import TINY as PPO_TINY
from tests.test_train import TINY as AZ_TINY
from tests.test_train import compose_train


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two AssistanceZero seeds and one PPO run on the tiny preset."""
    root = tmp_path_factory.mktemp("runs")
    made = {}
    for name, overrides in (("az0", AZ_TINY + ["seed=0"]), ("az1", AZ_TINY + ["seed=1"]), ("ppo0", PPO_TINY + ["seed=0"])):
        run(compose_train(["env.preset=tiny"] + overrides), root / name, progress=False)
        made[name] = root / name
    return made


@pytest.mark.slow
def test_trained_runs_play_as_their_algorithm_played(runs):
    core = envs.make_core("build", preset="tiny")
    assert isinstance(make_player("trained", core, ASSISTANT, run=str(runs["az0"])), SearchPlayer)
    assert isinstance(make_player("trained", core, ASSISTANT, run=str(runs["ppo0"])), PolicyPlayer)
    assert isinstance(make_player("ppo", core, ASSISTANT, run=str(runs["ppo0"])), PolicyPlayer)


@pytest.mark.slow
def test_compare_pools_seeds_and_keeps_each_run(runs, tmp_path):
    compare([str(runs["az0"]), str(runs["az1"]), str(runs["ppo0"]), "--out", str(tmp_path), "--episodes", "6", "--batch", "6", "--goal-split", "train"])
    data = json.loads((tmp_path / "results.json").read_text())
    assert set(data["baselines"]) == {"noop", "oracle"} and data["meta"]["goal_split"] == "train"
    assert data["algorithms"]["assistancezero"]["human_actions"]["n"] == 2  # pooled over the two seeds
    assert data["algorithms"]["ppo"]["human_actions"]["n"] == 1
    assert len(data["runs"]) == 3 and all(row["goal_pct"]["n"] == 6 for row in data["runs"].values())
    per_seed = [row["human_actions"]["mean"] for name, row in data["runs"].items() if name.startswith("assistancezero")]
    assert data["algorithms"]["assistancezero"]["human_actions"]["mean"] == pytest.approx(np.mean(per_seed))
    text = (tmp_path / "results.md").read_text()
    assert text.startswith("Made by `python scripts/compare.py ")
    assert "human_actions ratio" in text and "| noop | 6 |" in text and "wall-clock" in text
    assert all(t["wall_seconds"] > 0 for t in data["training"])


@pytest.mark.slow
def test_compare_refuses_runs_of_different_games(runs, tmp_path):
    other = tmp_path / "kitchen_run"
    run(compose_train(["env=kitchen", "human=model"] + AZ_TINY), other, progress=False)
    with pytest.raises(ValueError, match="another env"):
        compare([str(runs["az0"]), str(other), "--out", str(tmp_path / "out")])
