"""scripts/compare.py: trained runs of both algorithms beside the baselines, pooled over seeds."""

import json

import numpy as np
import pytest
from omegaconf import OmegaConf

import envs
from assist.cli.compare import RunRow, algo_label, paired_differences, parse_baseline, parse_player
from assist.cli.compare import main as compare
from assist.cli.train import run
from assist.players.policy import PolicyPlayer
from assist.players.search import SearchPlayer
from assist.registry import make_player
from assist.trained import PlayedRun
from envs.building.goals import save_goals
from envs.core import ASSISTANT
from tests.test_custom_players import module_path  # noqa: F401  (a fixture: a human of the user's own)
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
    assert make_player("trained", core, ASSISTANT, run=str(runs["az0"])).mcts.config.num_simulations == 2  # algo.eval_simulations
    assert make_player("trained", core, ASSISTANT, run=str(runs["az0"]), simulations=5).mcts.config.num_simulations == 5


@pytest.mark.slow
def test_compare_pools_seeds_and_keeps_each_run(runs, tmp_path):
    compare(
        [
            str(runs["az0"]),
            str(runs["az1"]),
            str(runs["ppo0"]),
            "--out",
            str(tmp_path),
            "--episodes",
            "6",
            "--batch",
            "6",
            "--goal-split",
            "train",
        ]
    )
    data = json.loads((tmp_path / "results.json").read_text())
    assert set(data["baselines"]) == {"noop", "oracle"} and data["meta"]["goal_split"] == "train"
    assert data["algorithms"]["assistancezero"]["human_actions"]["n"] == 2  # pooled over the two seeds
    assert data["algorithms"]["ppo"]["human_actions"]["n"] == 1 and data["algorithms"]["ppo"]["human_actions"]["low"] is None  # one run: no interval
    assert len(data["runs"]) == 3 and all(row["goal_pct"]["n"] == 6 for row in data["runs"].values())
    per_seed = [row["human_actions"]["mean"] for name, row in data["runs"].items() if name.startswith("assistancezero")]
    assert data["algorithms"]["assistancezero"]["human_actions"]["mean"] == pytest.approx(np.mean(per_seed))
    text = (tmp_path / "results.md").read_text()
    assert text.startswith("Made by `python scripts/compare.py ")
    assert "human_actions ratio" in text and "| noop | 6 |" in text and "wall-clock" in text and "nan" not in text
    assert "(n=1: too few for an interval)" in text
    assert all(t["wall_seconds"] > 0 for t in data["training"])
    assert data["pairs"] == {} and "Paired differences" not in text
    compare([str(runs["az0"]), str(runs["az1"]), str(runs["ppo0"]), "--out", str(tmp_path / "jobs"), "--episodes", "6", "--batch", "6", "--goal-split", "train", "--jobs", "2"])
    assert json.loads((tmp_path / "jobs" / "results.json").read_text())["runs"] == data["runs"]  # worker processes: the same numbers


@pytest.mark.slow
def test_compare_plays_the_goals_of_a_goal_file(runs, tmp_path):
    goal = np.zeros((5, 4, 5), np.uint8)
    goal[:, 0, :] = 1
    goal[2, 1, 2] = goal[2, 2, 2] = 2  # a two-block column
    save_goals(tmp_path / "column.npy", goal)
    compare([str(runs["az0"]), "--out", str(tmp_path), "--episodes", "6", "--batch", "6", "--goal-file", str(tmp_path / "column.npy")])
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["meta"]["goal_file"] == str(tmp_path / "column.npy")
    assert data["baselines"]["noop"]["human_actions"]["mean"] <= 4  # two blocks, not a held-out structure of ~9


@pytest.mark.slow
def test_compare_also_plays_searching_runs_with_a_library_belief(runs, tmp_path):
    args = [str(runs["az0"]), str(runs["az1"]), str(runs["ppo0"]), "--out", str(tmp_path), "--episodes", "4", "--batch", "4", "--baselines", "noop"]
    compare([*args, "--library-prior", "0.5", "--pairs", "assistancezero+library-assistancezero"])
    data = json.loads((tmp_path / "results.json").read_text())
    assert set(data["algorithms"]) == {"assistancezero", "assistancezero+library", "ppo"}  # PPO does not search
    assert data["algorithms"]["assistancezero+library"]["human_actions"]["n"] == 2
    assert list(data["pairs"]) == ["assistancezero+library - assistancezero"]
    assert len(data["training"]) == 3 and data["meta"]["library_prior"] == 0.5
    player = make_player("trained", envs.make_core("build", preset="tiny"), ASSISTANT, run=str(runs["az0"]), library_prior=0.5)
    assert player.root_belief.library.goals.shape[1] == player.core.V


@pytest.mark.slow
def test_compare_draws_the_library_from_other_splits(runs, tmp_path):
    """--library-split: one row per split, the library drawn from it (prior 1: alone)."""
    args = [str(runs["az0"]), str(runs["az1"]), "--out", str(tmp_path), "--episodes", "4", "--batch", "4", "--baselines", "noop"]
    compare([*args, "--library-prior", "1", "--library-split", "test", "all"])
    data = json.loads((tmp_path / "results.json").read_text())
    assert set(data["algorithms"]) == {"assistancezero", "assistancezero+library:test", "assistancezero+library:all"}
    assert data["meta"]["library_splits"] == ["test", "all"] and len(data["training"]) == 2
    player = make_player("trained", envs.make_core("build", preset="tiny"), ASSISTANT, run=str(runs["az0"]), library_prior=1.0, library_split="test")
    assert player.root_belief.library.split == "test"
    with pytest.raises(ValueError, match="--library-prior"):
        compare([*args, "--library-split", "test"])
    with pytest.raises(ValueError, match="unknown split 'tset'"):
        compare([*args, "--library-prior", "1", "--library-split", "tset"])


@pytest.mark.slow
def test_compare_plays_searching_runs_with_other_search_settings(runs, tmp_path):
    compare([str(runs["az0"]), str(runs["ppo0"]), "--out", str(tmp_path), "--episodes", "4", "--batch", "4", "--baselines", "noop", "--search", "reuse_subtree=true,c_puct=2"])
    assert json.loads((tmp_path / "results.json").read_text())["meta"]["search"] == {"reuse_subtree": True, "c_puct": 2}
    core = envs.make_core("build", preset="tiny")
    config = make_player("trained", core, ASSISTANT, run=str(runs["az0"]), simulations=5, search={"reuse_subtree": True}).mcts.config
    assert config.reuse_subtree and config.num_simulations == 5 and config.dirichlet_fraction == 0
    with pytest.raises(ValueError, match=r"search settings \['reuse'\] do not exist; the settings are \['num_simulations'"):
        make_player("trained", core, ASSISTANT, run=str(runs["az0"]), search={"reuse": True})
    with pytest.raises(ValueError, match="--search: parameters are key=value pairs"):
        compare([str(runs["az0"]), "--out", str(tmp_path), "--search", "reuse_subtree"])


@pytest.mark.slow
def test_compare_refuses_runs_of_different_games(runs, tmp_path):
    other = tmp_path / "kitchen_run"
    run(compose_train(["env=kitchen", "human=model"] + AZ_TINY), other, progress=False)
    with pytest.raises(ValueError, match="another env"):
        compare([str(runs["az0"]), str(other), "--out", str(tmp_path / "out")])


def test_compare_refuses_two_runs_of_the_same_algorithm_and_seed(runs, tmp_path):
    """They would share a row (a table pools one run per algorithm and seed)."""
    copy = tmp_path / "elsewhere" / runs["az0"].name
    copy.parent.mkdir()
    copy.symlink_to(runs["az0"], target_is_directory=True)
    with pytest.raises(ValueError, match="are both assistancezero seed 0: .*separate tables"):
        compare([str(runs["az0"]), str(copy), "--out", str(tmp_path / "out")])


def fake_record(algo: str, seed: int, human_actions: list[float], **config) -> RunRow:
    config = OmegaConf.create({"algo": {"name": algo}, "seed": seed, **config})
    return RunRow(PlayedRun(f"runs/{algo}/{seed}"), config, algo_label(config), {}, metrics={"human_actions": np.array(human_actions)})


def test_paired_differences_pair_runs_of_the_same_seed():
    records = [fake_record("rlft", 0, [4, 6]), fake_record("sft", 0, [9, 9]), fake_record("sft", 1, [8, 8]), fake_record("rlft", 1, [6, 6])]
    records += [fake_record("sft", 2, [7, 7]), fake_record("rlft", 2, [6, 8])]
    (difference,) = paired_differences(records, ["rlft-sft"]).values()
    assert difference.n == 3 and difference.mean == pytest.approx(np.mean([5 - 9, 6 - 8, 7 - 7]))
    assert difference.low < difference.mean < difference.high
    with pytest.raises(ValueError, match=r"\['rlft', 'sft'\]"):
        paired_differences(records, ["rlft-ppo"])
    with pytest.raises(ValueError, match="share 1 training seed"):
        paired_differences(records[:3], ["rlft-sft"])


def test_runs_trained_on_another_goal_split_are_their_own_algorithm():
    records = [fake_record("assistancezero", seed, [9]) for seed in (0, 1)]
    records += [fake_record("assistancezero", seed, [7], train_split="train_wide") for seed in (0, 1)]
    (difference,) = paired_differences(records, ["assistancezero/train_wide-assistancezero"]).values()
    assert difference.n == 2 and difference.mean == pytest.approx(-2)


@pytest.mark.slow
def test_compare_plays_every_row_with_another_human_even_one_of_the_users_own(runs, tmp_path, module_path):  # noqa: F811
    common = [str(runs["az0"]), str(runs["ppo0"]), "--episodes", "4", "--batch", "4", "--baselines", "noop"]
    compare(common + ["--out", str(tmp_path / "own")])
    compare(common + ["--out", str(tmp_path / "steady"), "--human", f"{module_path}:SteadyHuman:every=2", "--jobs", "2"])
    own, steady = (json.loads((tmp_path / name / "results.json").read_text()) for name in ("own", "steady"))
    assert own["meta"]["human"]["name"] == "greedy"
    assert steady["meta"]["human"] == {"name": f"{module_path}:SteadyHuman", "params": {"every": 2}}
    assert steady["human_alone_actions"] != own["human_alone_actions"]  # another human, in the worker processes too
    assert set(steady["runs"]) == set(own["runs"])
    assert f"Human in every row: `{module_path}:SteadyHuman` {{'every': 2}}" in (tmp_path / "steady" / "results.md").read_text()


def test_player_specs_name_a_built_in_or_an_import_path_with_or_without_parameters():
    assert parse_player("corrective", "--human") == ("corrective", {})
    assert parse_player("boltzmann:beta=2", "--human") == ("boltzmann", {"beta": 2})
    assert parse_player("my_pkg.humans:Steady", "--human") == ("my_pkg.humans:Steady", {})
    assert parse_player("my_pkg.humans:Steady:every=2,name=x", "--human") == ("my_pkg.humans:Steady", {"every": 2, "name": "x"})


def test_baselines_take_player_parameters():
    assert parse_baseline("noop") == ("noop", {})
    assert parse_baseline("library_bayes:split=test,threshold=0.6,samples=100") == ("library_bayes", {"split": "test", "threshold": 0.6, "samples": 100})
    with pytest.raises(ValueError, match="key=value pairs"):
        parse_baseline("library_bayes:split")


def test_a_played_run_refuses_unknown_search_settings_when_it_is_made():
    with pytest.raises(ValueError, match=r"search settings \['reuse'\] do not exist; the settings are \['num_simulations'"):
        PlayedRun("runs/train/x", search={"reuse": True})


def test_the_trained_players_take_the_fields_of_a_played_run_as_their_parameters():
    core = envs.make_core("build", preset="tiny")
    fields = r"\['run', 'simulations', 'library_prior', 'library_split', 'library_samples', 'search', 'device', 'belief_run'\]"
    for name in ("trained", "assistancezero"):
        with pytest.raises(ValueError, match=rf"player '{name}' has no parameter\(s\) \['simulation'\]; its parameters: {fields}"):
            make_player(name, core, ASSISTANT, run="runs/train/x", simulation=3)
