"""AssistanceZero end to end on tiny settings: self-play, learning, logging, checkpoints."""

import json

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import envs
from assist.cli import CONFIG_DIR
from assist.cli.train import run
from assist.learning.selfplay import GoalGames, SelfPlay
from assist.models.factory import make_model
from assist.models.torch_evaluator import TorchEvaluator
from assist.players.policy import PolicyPlayer
from assist.players.search import SearchPlayer
from assist.registry import make_player
from assist.search.config import SearchConfig
from envs.core import ASSISTANT, HUMAN
from tests.support import compose_train
from tests.test_ppo import TINY as PPO_TINY

TINY = [
    "model=tiny",
    "algo.iterations=2",
    "algo.envs=4",
    "algo.rollout=4",
    "algo.sequence=2",
    "algo.batch=4",
    "algo.updates=2",
    "algo.eval_every=2",
    "algo.eval_episodes=4",
    "algo.eval_simulations=2",
    "search.num_simulations=3",
    "search.max_children=4",
]


def test_self_play_rollouts_are_dense_and_labelled():
    core = envs.make_core("build", preset="tiny", horizon=3)
    evaluator = TorchEvaluator(make_model(core, preset="tiny"))
    assistant = SearchPlayer(core, ASSISTANT, evaluator, SearchConfig(num_simulations=2, max_children=4), sample=True)
    selfplay = SelfPlay(core, make_player("greedy", core, HUMAN), assistant, 3, np.random.default_rng(0))
    rollout = selfplay.collect(4)
    assert rollout.reward.shape == (4, 3) and rollout.observation["world"].shape[:2] == (4, 3)
    assert rollout.start[0].all() and rollout.ends[2].all() and rollout.start[3].all()  # horizon 3: reset after step 3
    assert rollout.goal.shape == (4, 3, core.V) and rollout.belief.shape == (4, 3, core.V, core.n)
    assert np.allclose(rollout.target.sum(axis=-1), 1)
    assert len(selfplay.pop_finished()["goal_pct"]) == 3


def test_goal_games_play_the_policy_and_cut_labelled_sequences():
    core = envs.make_core("build", preset="tiny", horizon=3)
    evaluator = TorchEvaluator(make_model(core, preset="tiny"))
    games = GoalGames(core, make_player("greedy", core, HUMAN), PolicyPlayer(core, ASSISTANT, evaluator, sample=True), 3, np.random.default_rng(0))
    fields = games.collect(4, 2)
    assert fields["observation.world"].shape[:2] == (6, 2) and fields["goal"].shape == (6, 2, core.V)
    assert fields["memory"].shape == (6, evaluator.initial_memory(1).shape[1])
    assert fields["start"][:3, 0].all() and not fields["start"][:3, 1].any()  # the first chunk begins every game
    assert fields["start"][3:, 1].all()  # horizon 3: every game restarted at its 4th step
    assert len(games.pop_finished()["goal_pct"]) == 3


def test_goal_games_add_their_goal_loss_to_every_update(tmp_path):
    final = run(compose_train(["env.preset=tiny", *TINY, "algo.goal_envs=4", "algo.goal_batch=2"]), tmp_path)
    assert set(final) >= {"goal_pct", "human_actions"}
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert {"losses/goal_games", "losses/trunk_grad_goal_games"} <= set(events.Tags()["scalars"])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["env_steps"] == 2 * 4 * (4 + 4)  # the goal games' steps count too


@pytest.mark.slow
@pytest.mark.parametrize("env", [["env.preset=tiny"], ["env=kitchen", "human=model"]])
def test_training_runs_logs_and_checkpoints(tmp_path, env):
    final = run(compose_train(env + TINY), tmp_path)
    assert set(final) >= {"goal_pct", "human_actions"}
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["iterations"] == 2 and results["env_steps"] == 2 * 4 * 4
    assert (tmp_path / "checkpoints" / "000002" / "model.safetensors").exists()
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for tag in ("losses/policy", "losses/value", "losses/goal", "losses/human", "losses/goal_kl", "losses/trunk_grad_goal", "losses/trunk_grad_value", "search/simulations_per_s", "search/depth", "perf/env_steps_per_s", "eval/goal_pct", "hparams/goal_pct"):
        assert tag in tags, tag
    assert "eval/transcript/text_summary" in events.Tags()["tensors"]
    assert "eval/final_state" in events.Tags()["images"]
    transcript = events.Tensors("eval/transcript/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "human_0:" in transcript and "assistant_0:" in transcript
    assert "_hparams_/session_start_info" in events.PluginTagToContent("hparams")


@pytest.mark.slow
def test_a_trained_run_is_evaluated_by_name(tmp_path):
    run(compose_train(["env.preset=tiny"] + TINY), tmp_path / "run")
    from assist.cli.evaluate import run as evaluate

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            config_name="evaluate",
            overrides=["env.preset=tiny", "episodes=4", "batch=4", "baselines=[noop]", "assistant=assistancezero", f"assistant.params.run={tmp_path / 'run'}"],
        )
    summary = evaluate(cfg, tmp_path / "eval")
    assert set(summary) == {"noop", "assistancezero"}


def test_a_missing_run_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a training run directory"):
        make_player("assistancezero", envs.make_core("build", preset="tiny"), ASSISTANT, run=str(tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("tiny", [TINY, PPO_TINY], ids=["assistancezero", "ppo"])
def test_a_resumed_run_continues_from_its_checkpoint(tmp_path, tiny):
    run(compose_train(["env=kitchen", "human=model"] + tiny), tmp_path)
    more = [o for o in tiny if not o.startswith("algo.iterations")] + ["algo.iterations=3", "resume=true"]
    run(compose_train(["env=kitchen", "human=model"] + more), tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["iterations"] == 3 and results["env_steps"] == 3 * 4 * 4


def test_self_play_draws_goals_from_the_train_split(tmp_path):
    with pytest.raises(ValueError, match=r"unknown split 'validation'.*'train_wide'"):
        run(compose_train(["env.preset=tiny", "train_split=validation"] + TINY), tmp_path)


def test_bad_training_settings_fail_at_composition():
    from assist.learning.assistancezero import AssistanceZeroConfig

    with pytest.raises(ValueError, match="multiple"):
        AssistanceZeroConfig(rollout=5, sequence=2)


def test_the_same_seed_trains_the_same_assistant(tmp_path):
    overrides = ["env=kitchen", "human=model", "algo=ppo", "model=tiny", "algo.iterations=1", "algo.envs=4", "algo.rollout=4", "algo.epochs=1", "algo.minibatches=2", "algo.eval_episodes=8"]
    first, second = (run(compose_train(overrides), tmp_path / name, progress=False) for name in ("a", "b"))
    assert first == second
    from safetensors.numpy import load_file

    a, b = (load_file(tmp_path / name / "checkpoints" / "000001" / "model.safetensors") for name in ("a", "b"))
    assert a.keys() == b.keys() and all(np.array_equal(a[key], b[key]) for key in a)  # from the same initial weights
