"""PPO, the model-free assistant baseline: the policy player, the rollouts it learns
from, training end to end, and that it learns on a small kitchen (its loss terms and
GAE are in tests/test_losses.py)."""

import json

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import envs
from assist import evaluation
from assist.cli.train import run
from assist.learning import ppo
from assist.learning.ppo import PolicySelfPlay, PPOConfig, PPOTrainer
from assist.learning.trainer import TrainingContext
from assist.models.factory import make_model
from assist.models.torch_evaluator import TorchEvaluator
from assist.players.policy import PolicyPlayer, masked_log_policy
from assist.registry import make_player
from assist.rollout import turn_for
from envs.core import ASSISTANT, HUMAN
from tests.support import compose_train

TINY = [
    "algo=ppo",
    "model=tiny",
    "algo.iterations=2",
    "algo.envs=4",
    "algo.rollout=4",
    "algo.epochs=1",
    "algo.minibatches=2",
    "algo.eval_every=2",
    "algo.eval_episodes=4",
]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small nets run far faster on one thread, above all when other processes share the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_reward_is_the_assistants_own_part_by_default():
    core = envs.make_core("kitchen", variant="red_blue")
    state = core.reset(2, np.random.default_rng(0), goals=np.array([[0], [0]]))
    result = core.step(state, np.array([[1, 1], [1, 2]]))  # human makes red; assistant red / blue
    assert PPOConfig().reward == "own"
    assert np.allclose(ppo.reward_of(result, "own"), [1.0, -1.0])
    assert np.allclose(ppo.reward_of(result, "shared"), [2.0, 0.0])


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"reward": "theirs"}, "reward"),
        ({"minibatches": 5, "envs": 4}, "minibatches"),
        ({"clip": 0.0}, "clip"),
        ({"gae_lambda": 1.5}, "gae_lambda"),
        ({"discount": 0.0}, "discount"),
        ({"epochs": 0}, "epochs"),
        ({"goal_weight": -1.0}, "goal_weight"),
    ],
)
def test_bad_settings_fail_with_clear_errors(changes, message):
    with pytest.raises(ValueError, match=message):
        PPOConfig(**changes)


def test_goal_weight_zero_turns_the_goal_loss_off():
    assert PPOConfig(goal_weight=0.0).goal_weight == 0.0 and PPOConfig().goal_weight > 0


# ----------------------------------------------------------------- policy player


@pytest.mark.parametrize("game", ["build", "kitchen"])
@pytest.mark.parametrize("sample", [False, True])
def test_policy_player_takes_legal_actions_on_a_batch(game, sample):
    core = envs.make_core("build", preset="tiny") if game == "build" else envs.make_core("kitchen", variant="cake_or_pie")
    evaluator = TorchEvaluator(make_model(core, preset="tiny"), device="cpu")
    player = PolicyPlayer(core, ASSISTANT, evaluator, sample=sample)
    human = make_player("random", core, HUMAN)
    assert not player.privileged
    rng = np.random.default_rng(0)
    state = core.reset(16, rng)
    player.reset(16, rng)
    human.reset(16, rng)
    for _ in range(12):
        turn = turn_for(core, player, state, ASSISTANT)
        assert turn.state is None
        actions = player.act(turn)
        assert actions.shape == (16,) and actions.dtype == np.int64
        assert turn.legal[np.arange(16), actions].all()
        assert np.allclose(np.exp(player.last_log_policy).sum(axis=1), 1.0)
        core.step(state, np.stack([human.act(turn_for(core, human, state, HUMAN)), actions], axis=1))
    assert np.abs(player.memory).sum() > 0
    player.forget(np.array([0, 3]))
    assert not player.memory[[0, 3]].any() and player.memory[1].any()


def test_the_greedy_policy_player_takes_the_most_probable_legal_action():
    logits = np.array([[5.0, 1.0, 2.0], [0.0, 1.0, 3.0]])
    legal = np.array([[False, True, True], [True, True, False]])
    log_policy = masked_log_policy(logits, legal)
    assert np.array_equal(np.argmax(log_policy, axis=1), [2, 1])
    assert np.isneginf(log_policy[~legal]).all()
    assert np.allclose(np.exp(log_policy).sum(axis=1), 1.0)


# ------------------------------------------------------------------ rollouts


@pytest.mark.parametrize("game", ["build", "kitchen"])
def test_the_learner_replays_exactly_the_policy_the_rollout_acted_with(game):
    """Re-running the recurrent net over each game's sequence from its stored memory gives
    back the acting log-probabilities and values (ratio 1), across episode resets."""
    if game == "build":
        core, human = envs.make_core("build", preset="tiny", horizon=3), "greedy"
    else:
        core, human = envs.make_core("kitchen", variant="cake_or_pie"), "model"
    net = make_model(core, preset="tiny")
    player = PolicyPlayer(core, ASSISTANT, TorchEvaluator(net, device="cpu"), sample=True)
    selfplay = PolicySelfPlay(core, make_player(human, core, HUMAN), player, 3, np.random.default_rng(0))
    selfplay.collect(2)  # so that the next rollout starts mid-episode with a non-zero memory
    rollout = selfplay.collect(5)
    assert rollout.start.any() and rollout.ends.any() and np.abs(rollout.memory).sum() > 0
    assert rollout.reward.shape == (5, 3) and rollout.goal.shape[:2] == (5, 3)
    zeros = np.zeros((5, 3), np.float32)
    batch = {key: torch.from_numpy(value) for key, value in ppo.sequences_from(rollout, zeros, zeros).items()}
    net.eval()
    with torch.no_grad():
        out = ppo.unroll(net, batch)
        terms = ppo.loss_terms(net, batch, 0.2, normalize_advantages=False)
    value = out.value.reshape(3, 5).T.numpy()
    assert np.allclose(value, rollout.value, atol=1e-5)
    assert terms["approx_kl"].item() < 1e-6 and terms["clip_fraction"].item() == 0.0
    assert set(selfplay.pop_finished()) >= {"goal_pct", "return"}


# ----------------------------------------------------------------- end to end


@pytest.mark.slow
@pytest.mark.parametrize("env", [["env.preset=tiny"], ["env=kitchen", "human=model"]])
def test_ppo_training_runs_logs_and_checkpoints(tmp_path, env):
    final = run(compose_train(env + TINY), tmp_path)
    assert set(final) >= {"goal_pct", "human_actions", "return"}
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["iterations"] == 2 and results["env_steps"] == 2 * 4 * 4
    assert results["config"]["algo"]["name"] == "ppo" and results["config"]["algo"]["reward"] == "own"
    manifest = json.loads((tmp_path / "checkpoints" / "manifest.json").read_text())
    assert manifest["counters"]["iteration"] == 2 and manifest["counters"]["env_steps"] == 32
    assert (tmp_path / "checkpoints" / manifest["checkpoint"] / "model.safetensors").exists()
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for name in ("policy", "value", "entropy", "goal", "approx_kl", "clip_fraction", "trunk_grad_value", "trunk_grad_goal"):
        assert f"losses/{name}" in tags, name
    for tag in ("perf/env_steps_per_s", "eval/goal_pct", "eval/return"):
        assert tag in tags, tag
    if env == ["env=kitchen", "human=model"]:  # horizon 4: episodes finished in self-play
        assert "charts/goal_pct" in tags


def test_unknown_algorithms_list_the_valid_ones(tmp_path):
    from assist.cli.train import make_trainer

    cfg = compose_train(["env=kitchen", "human=model", "model=tiny"])
    cfg.algo.name = "dqn"
    with pytest.raises(ValueError, match=r"\['assistancezero', 'ppo', 'pretrain', 'sft', 'rlft', 'search_loop'\]"):
        make_trainer(cfg, None, None, None, None, tmp_path)


def test_ppo_config_fields_can_be_overridden_at_composition():
    cfg = compose_train(["algo=ppo", "algo.reward=shared", "algo.goal_weight=0", "algo.clip=0.1"])
    assert cfg.algo.name == "ppo" and cfg.algo.reward == "shared" and cfg.algo.goal_weight == 0 and cfg.algo.clip == 0.1
    with pytest.raises(Exception, match="not_a_field"):
        compose_train(["algo=ppo", "algo.not_a_field=1"])
    with pytest.raises(Exception, match="algo.clip"):
        compose_train(["algo=ppo", "algo.clip=wide"])


@pytest.mark.slow
def test_ppo_learns_to_help_in_cake_or_pie(tmp_path):
    """After a few thousand steps PPO's held-out return beats the human alone (the no-op
    assistant, 1.5 here) and the random assistant, on the same evaluation episodes."""
    core, eval_core = envs.make_core("kitchen", variant="cake_or_pie"), envs.make_core("kitchen", variant="cake_or_pie")
    config = PPOConfig(iterations=20, envs=16, rollout=8, epochs=4, minibatches=2, lr=3e-3, eval_every=20, eval_episodes=128)
    context = TrainingContext(core, eval_core, make_player("model", core, HUMAN), make_player("model", eval_core, HUMAN), tmp_path, seed=0, device="cpu")
    trainer = PPOTrainer(context, make_model(core, preset="tiny"), config)
    learned = trainer.train()["return"]
    baselines = {
        name: evaluation.evaluate(eval_core, make_player("model", eval_core, HUMAN), make_player(name, eval_core, ASSISTANT), 128, 128, seed=1)["return"].mean()
        for name in ("noop", "random")
    }
    assert learned > baselines["noop"] + 0.15 and learned > baselines["random"] + 0.15, (learned, baselines)
