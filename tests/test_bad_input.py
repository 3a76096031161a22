"""Bad input, one test per row of docs/bad-input.md that no other test file covers: each
gets a clear error naming the key, file or value and the fix, or a documented, counted
fallback. Nothing here trains for more than the first checks of a run."""

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException, MissingConfigException

import envs
import envs.building
from assist.cli import CONFIG_DIR, evaluate, play, train_bc
from assist.cli.train import run
from assist.config import ConfigError
from assist.learning.checkpoints import CheckpointError
from envs.codec import TextCodec
from envs.core import ASSISTANT, HUMAN, ActionParseError, IllegalActionError
from tests.test_train import TINY, compose_train

ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINTS = {"evaluate": evaluate.run, "play": play.run, "train_bc": train_bc.run}

# ------------------------------------------------------------------ train config


@pytest.mark.parametrize(
    "override, error, says",
    [
        ("algo.colour=red", ConfigCompositionException, "algo.colour"),  # unknown key
        ("algo.iterations=many", ConfigCompositionException, "algo.iterations=many"),  # wrong type
        ("env.reach=far", ConfigCompositionException, "env.reach=far"),
        ("model=huge", MissingConfigException, "Available options in 'model'"),  # unknown option
        ("algo=dqn", MissingConfigException, "Available options in 'algo'"),
    ],
)
def test_train_config_errors_are_caught_at_composition_naming_the_key(override, error, says):
    with pytest.raises(error, match=re.escape(says)):
        compose_train([override])


@pytest.mark.parametrize(
    "overrides, says",
    [
        (["env.reach=-1"], "env.reach: reach=-1.0 must be >= 1"),  # negative reach
        (["env.width=2"], "env: world size (2, 4, 5) is too small"),
        (["env.width=3000"], "env: world size (3000, 4, 5) is 60,000 voxels, more than MAX_VOXELS = 4,096"),
        (["env.horizon=0"], "env.horizon: horizon=0 must be >= 1"),
        (["env.num_block_types=12"], "env.num_block_types: num_block_types=12 is out of range"),
        (["env.preset=huge"], "env: unknown build preset 'huge'; valid presets"),
        (["search.num_simulations=0"], "search.num_simulations: num_simulations=0 must be >= 1"),  # zero simulations
        (["search.discount=1.5"], "search.discount: discount=1.5 must be in (0, 1]"),
        (["algo.iterations=0"], "algo.iterations: AssistanceZeroConfig: iterations=0 must be >= 1"),
        (["algo.rollout=5"], "algo: rollout=5 must be a multiple of sequence=2"),  # names two settings: their group
        (["algo.max_nonfinite=0"], "algo.max_nonfinite: AssistanceZeroConfig: max_nonfinite=0 must be >= 1"),
        (["+human.params.patience=3"], "human: player 'greedy' has no parameter(s) ['patience']"),
        (["human.params.epsilon=2"], "human.params.epsilon: epsilon=2 must be a probability in [0, 1]"),
        (["+model.overrides.width=3"], "model: unknown conv option(s) ['width']"),
        (["threads=-1"], "threads: threads=-1 must be >= 0"),
        (["device=tpu"], "device: device='tpu' is an unknown device"),
        (["algo.lr=nan"], "algo.lr: lr=nan must be a finite number"),  # NaN passes lr <= 0
        (["search.c_puct=inf"], "search.c_puct: c_puct=inf must be a finite number"),
        (["seed=-1"], "seed: seed=-1 must be >= 0"),
        (["logger.flush_secs=0"], "logger.flush_secs: logger.flush_secs=0 must be >= 1"),
    ],
)
def test_out_of_range_train_settings_stop_before_training_naming_the_key(tmp_path, overrides, says):
    with pytest.raises(ConfigError, match="^" + re.escape(says)) as error:
        run(compose_train(["env.preset=tiny", *TINY, *overrides]), tmp_path)
    assert "\n" not in str(error.value)
    assert not list(tmp_path.iterdir())  # no config.yaml, no events: nothing was written, let alone trained


@pytest.mark.parametrize(
    "primary, overrides, says",
    [
        ("evaluate", ["episodes=0"], "episodes: EvaluateConfig: episodes=0 must be >= 1"),
        ("evaluate", ["batch=0"], "batch: EvaluateConfig: batch=0 must be >= 1"),
        ("evaluate", ["env.reach=-1"], "env.reach: reach=-1.0 must be >= 1"),
        ("evaluate", ["human=boltzmann", "human.params.beta=-1"], "human.params.beta: beta=-1 must be > 0"),
        ("evaluate", ["baselines=[telepath]"], "baselines: unknown player 'telepath'"),
        ("evaluate", ["seed=-5"], "seed: seed=-5 must be >= 0"),
        ("play", ["port=70000"], "port: PlayConfig: port=70000 must be in [0, 65535]"),
        ("play", ["tick_ms=0"], "tick_ms: PlayConfig: tick_ms=0 must be >= 1"),
        ("play", ["timeout=-1"], "timeout: PlayConfig: timeout=-1.0 must be > 0 seconds"),
        ("play", ["timeout=nan"], "timeout: timeout=nan must be a finite number"),
        ("play", ["seat=nobody"], "seat: 'nobody' is not a seat"),
        ("play", ["env.horizon=0"], "env.horizon: horizon=0 must be >= 1"),
        ("train_bc", ["fit.holdout=1.5"], "fit.holdout: holdout=1.5 must be a fraction"),
        ("train_bc", ["fit.batch_size=0"], "fit.batch_size: BCTrainConfig: batch_size=0 must be >= 1"),
        ("train_bc", ["fit.lr=inf"], "fit.lr: lr=inf must be a finite number"),
        ("train_bc", ["fit.seed=-1"], "fit.seed: seed=-1 must be >= 0"),
    ],
)
def test_out_of_range_settings_of_every_entry_point_stop_before_any_file_naming_the_key(tmp_path, primary, overrides, says):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name=primary, overrides=["data=recordings" if primary == "train_bc" else "env.preset=tiny", *overrides])
    with pytest.raises(ConfigError, match="^" + re.escape(says)):
        ENTRY_POINTS[primary](cfg, tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize(
    "script, overrides, says",
    [
        ("train", ["env.preset=tiny", "env.reach=-1"], "error: env.reach: reach=-1.0 must be >= 1"),
        ("train", ["env.preset=tiny", "algo.iterations=0"], "error: algo.iterations: AssistanceZeroConfig: iterations=0 must be >= 1"),
        ("evaluate", ["env.preset=tiny", "human.params.epsilon=2"], "error: human.params.epsilon: epsilon=2 must be a probability"),
        ("play", ["env.preset=tiny", "port=-1"], "error: port: PlayConfig: port=-1 must be in [0, 65535]"),
    ],
)
def test_the_command_line_prints_an_out_of_range_setting_as_one_line_before_any_file(tmp_path, script, overrides, says):
    run_dir = tmp_path / "run"
    command = [sys.executable, str(ROOT / "scripts" / f"{script}.py"), *overrides, f"hydra.run.dir={run_dir}"]
    done = subprocess.run(command, cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("error:")] == [done.stderr.strip().splitlines()[-1]]
    assert says in done.stderr.strip().splitlines()[-1]
    assert {path.name for path in run_dir.iterdir()} <= {".hydra", f"{script}.log"}  # Hydra's own files only


def test_ppo_settings_are_checked_too(tmp_path):
    with pytest.raises(ValueError, match=re.escape("minibatches=8 must be <= envs=4")):
        run(compose_train(["env.preset=tiny", "model=tiny", "algo=ppo", "algo.minibatches=8", "algo.envs=4"]), tmp_path)


def test_a_goal_file_larger_than_the_world_names_the_file_and_both_sizes(tmp_path):
    path = tmp_path / "goals.npy"
    np.save(path, np.zeros((1, 9, 9, 9), np.int64))
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: goals have world size .* = \(9, 9, 9\) but this world is \(5, 4, 5\)"):
        run(compose_train(["env.preset=tiny", *TINY, f"env.goal_file={path}"]), tmp_path / "run")


def test_a_missing_goal_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"{re.escape(str(tmp_path / 'nowhere.json'))}: no such goal file"):
        run(compose_train(["env.preset=tiny", *TINY, f"env.goal_file={tmp_path / 'nowhere.json'}"]), tmp_path / "run")


def test_kitchen_unknown_parameters_list_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown kitchen parameters \['spice'\].*takes \['horizon'"):
        run(compose_train(["env=kitchen", "human=model", *TINY, "+env.params.spice=1"]), tmp_path)


# -------------------------------------------------------------------- actions


@pytest.mark.parametrize("game, options", [("build", {"preset": "tiny"}), ("kitchen", {"variant": "red_blue"})])
def test_action_ids_outside_the_space_are_flagged_no_ops_in_every_core(game, options):
    core = envs.make_core(game, **options)
    state = core.reset(3, np.random.default_rng(0))
    noop = state.copy()
    big = core.num_actions(ASSISTANT) + 5
    result = core.step(state, np.array([[0, -1], [-7, 0], [0, big]]))
    assert result.illegal.tolist() == [[False, True], [True, False], [False, True]]
    expected = core.step(noop, np.zeros((3, 2), np.int64))
    assert np.array_equal(result.reward, expected.reward)
    for name, value in vars(state).items():
        assert np.array_equal(value, getattr(noop, name)), name


@pytest.mark.parametrize("game, options", [("build", {"preset": "tiny"}), ("kitchen", {"variant": "red_blue"})])
@pytest.mark.parametrize("actions", [np.zeros(2, np.int64), np.zeros((2, 3), np.int64), np.full((2, 2), 0.5)])
def test_malformed_action_arrays_raise_saying_what_was_passed(game, options, actions):
    core = envs.make_core(game, **options)
    state = core.reset(2, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"actions must be an int array \[B, 2\] = \[2, 2\]"):
        core.step(state, actions)


def test_the_pettingzoo_env_flags_ids_outside_the_space_and_refuses_non_integers():
    env = envs.building.parallel_env(preset="tiny")
    env.reset(seed=0)
    _, _, _, _, infos = env.step({HUMAN: 10**9, ASSISTANT: -3})
    assert infos[HUMAN]["illegal_action"] and infos[ASSISTANT]["illegal_action"]
    with pytest.raises(TypeError, match="human_0's action must be an int action id; got 'place'"):
        env.step({HUMAN: "place", ASSISTANT: 0})
    strict = envs.building.parallel_env(preset="tiny", strict=True)
    strict.reset(seed=0)
    with pytest.raises(IllegalActionError, match="outside"):
        strict.step({HUMAN: 10**9, ASSISTANT: 0})


@pytest.mark.parametrize("answer", ["I think I will place a block", "place dirt 99 1 1", "", "```place```", None])
def test_lm_answers_that_do_not_parse_raise_action_parse_errors(answer):
    codec = TextCodec(envs.make_core("build", preset="tiny"))
    with pytest.raises(ActionParseError):
        codec.parse(ASSISTANT, answer)


# ---------------------------------------------------------------- checkpoints


def test_resuming_with_another_number_of_ranks_names_the_manifest_and_the_fix(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    (checkpoints / "000001").mkdir(parents=True)
    (checkpoints / "manifest.json").write_text(json.dumps({"checkpoint": "000001", "counters": {"iteration": 1}, "world_size": 2}))
    with pytest.raises(CheckpointError, match=r"manifest.json: the checkpoint was written by 2 data-parallel ranks.*--nproc_per_node"):
        run(compose_train(["env.preset=tiny", *TINY, "resume=true"]), tmp_path)


def test_resume_without_a_checkpoint_starts_the_run_and_says_so(tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        run(compose_train(["env=kitchen", "human=model", *TINY, "algo.iterations=1", "resume=true"]), tmp_path)
    assert f"resume=true: no checkpoint in {tmp_path} yet, starting the run" in caplog.text
