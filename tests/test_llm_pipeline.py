"""The LM pipeline end to end on the tiny LM: each stage runs, logs and saves its model,
and the stages chain through ``algo.init`` (pretrain -> sft -> rlft -> search_loop)."""

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from safetensors.torch import load_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import envs
from assist import evaluation, recording
from assist.cli.train import run
from assist.learning.llm_configs import PretrainConfig, RLFTConfig, SFTConfig
from assist.learning.llm_pretrain import transcripts
from assist.learning.llm_rlft import RLFTTrainer
from assist.learning.llm_sft import SFTTrainer
from assist.learning.llm_stage import rollout_episodes
from assist.learning.trainer import TrainingContext
from assist.logger import LoggerConfig, RunLogger
from assist.models.composite import PriorAndModel
from assist.players.policy import PolicyPlayer
from assist.players.search import SearchPlayer
from assist.registry import make_player
from envs.core import ASSISTANT, HUMAN
from tests.support import compose_train
from tests.test_checkpoints import assert_one_line_error
from tests.test_llm_model import truncate
from tests.test_long_runs import finish, train

COMMON = [
    "env.preset=tiny",
    "env.horizon=4",
    "algo.iterations=2",
    "algo.eval_every=2",
    "algo.eval_episodes=2",
    "algo.eval_text_episodes=1",
    "algo.checkpoint_every=2",
]
STAGES = {
    "pretrain": ["algo.episodes=2", "algo.updates=1", "algo.batch=4"],
    "sft": ["algo.episodes=2", "algo.updates=1", "algo.batch=4"],
    "rlft": ["algo.groups=1", "algo.group_size=2", "algo.batch=8"],
    "search_loop": [
        "algo.envs=2", "algo.rollout=2", "algo.sequence=1", "algo.batch=2", "algo.updates=1", "algo.eval_simulations=2",
        "search.num_simulations=2", "search.max_children=4", "algo.pg_weight=0.5", "algo.kl_weight=0.1",
    ],
}  # fmt: skip
LOGGED = {
    "pretrain": ["losses/next_token", "perf/tokens_per_s"],
    "sft": ["losses/policy", "losses/goal", "losses/value", "losses/accuracy", "perf/tokens_per_s"],
    "rlft": ["losses/pg", "losses/kl", "losses/kl_weight", "losses/value", "charts/reward", "charts/goal_pct", "perf/tokens_per_s"],
    "search_loop": [
        "losses/policy",
        "losses/value",
        "losses/goal",
        "losses/human",
        "losses/trunk_grad_goal",
        "losses/pg",
        "losses/kl",
        "search/simulations_per_s",
        "perf/tokens_per_s",
    ],
}
TINY_CORE = {"preset": "tiny", "horizon": 4}
CALIBRATION = ["eval/goal_confident_right", "eval/goal_confident_n", "eval/goal_confident_right_own", "eval/goal_confident_n_own"]
"""The goal head's calibration, logged at every evaluation (assist/calibration.py)."""


def quiet_logger(tmp_path):
    return RunLogger(tmp_path, LoggerConfig(tensorboard=False))


def test_the_stages_run_log_save_and_chain_through_init(tmp_path, tiny_lm_dir):
    init = tiny_lm_dir
    for stage, overrides in STAGES.items():
        run_dir = tmp_path / stage
        final = run(compose_train([f"algo={stage}", f"algo.init={init}", *COMMON, *overrides]), run_dir, progress=False)
        assert set(final) >= {"goal_pct", "human_actions"}
        assert json.loads((run_dir / "results.json").read_text())["iterations"] == 2
        model = run_dir / "model"
        manifest = json.loads((run_dir / "checkpoints" / "manifest.json").read_text())
        for folder in (model, run_dir / "checkpoints" / manifest["checkpoint"] / "model"):  # the run's model: its latest checkpoint's
            for name in ("config.json", "model.safetensors", "tokenizer.json", "heads.safetensors", "heads.json"):
                assert (folder / name).is_file(), (stage, folder, name)
        before, after = load_file(envs_model_file(init)), load_file(model / "model.safetensors")
        assert any(not torch.equal(before[key], after[key]) for key in after), f"{stage} did not change the LM"
        events = EventAccumulator(str(run_dir))
        events.Reload()
        tags = set(events.Tags()["scalars"])
        for tag in [*LOGGED[stage], "eval/goal_pct", "eval/parse_failure_rate", "eval/illegal_rate", *CALIBRATION]:
            assert tag in tags, (stage, tag)
        assert "eval/transcript/text_summary" in events.Tags()["tensors"]
        init = run_dir  # the next stage starts from this run
    core = envs.make_core("build", **TINY_CORE)
    assert isinstance(
        make_player("llm", core, ASSISTANT, path=str(tmp_path / "rlft"), device="cpu"), PolicyPlayer
    )  # a run is a model directory
    searching = make_player("trained", core, ASSISTANT, run=str(init), device="cpu")  # played as the search loop evaluates
    assert isinstance(searching, SearchPlayer) and searching.mcts.config.num_simulations == 2


def test_a_stage_trains_on_the_v2_prompt_with_owner_offsets_and_records_both(tmp_path, tiny_lm_dir):
    run_dir = tmp_path / "sft"
    run(compose_train(["algo=sft", f"algo.init={tiny_lm_dir}", *COMMON, *STAGES["sft"], "env.prompt=v2", "algo.owner_offsets=true"]), run_dir, progress=False)
    assert OmegaConf.load(run_dir / "config.yaml").env.prompt == "v2"  # compare.py and the trained player read it back
    heads = json.loads((run_dir / "model" / "heads.json").read_text())
    assert heads["owner_offsets"] is True and load_file(run_dir / "model" / "heads.safetensors")["current.weight"].shape[0] == 3 * heads["goal_values"]
    events = EventAccumulator(str(run_dir))
    events.Reload()
    assert set(CALIBRATION) <= set(events.Tags()["scalars"])
    assert events.Scalars("eval/goal_confident_n")[-1].value >= 0


def envs_model_file(path):
    return (path / "model" if (path / "model").is_dir() else path) / "model.safetensors"


def test_rlft_groups_share_their_start_and_goal_and_their_advantages_sum_to_zero(tmp_path, tiny_lm_dir):
    core = envs.make_core("build", **TINY_CORE)
    human = make_player("greedy", core, HUMAN)
    config = RLFTConfig(init=str(tiny_lm_dir), groups=2, group_size=3, eval_text_episodes=0)
    trainer = RLFTTrainer(TrainingContext(core, core, human, human, tmp_path, seed=0, device="cpu", logger=quiet_logger(tmp_path)), config)
    steps, returns, charts = trainer.rollouts()
    advantages, to_go = trainer.targets(steps, returns, torch.zeros(len(steps.action)))
    first = np.flatnonzero(np.r_[True, steps.ends[:-1]])  # each episode's first step
    assert len(first) == 6 and len(returns) == 6 and len(advantages) == len(to_go) == len(steps.action)
    assert all(torch.all(advantages[steps.episode == e] == advantages[i]) for e, i in enumerate(first))  # one per episode
    worlds = [{k: v[i] for k, v in steps.observation.items()} for i in first]
    for group in (slice(0, 3), slice(3, 6)):
        goals = steps.goal[first[group]]
        assert (goals == goals[0]).all()
        assert all(all(np.array_equal(worlds[group.start][k], w[k]) for k in w) for w in worlds[group])
        assert advantages[first[group]].sum().item() == pytest.approx(0.0, abs=1e-5)
    assert not np.array_equal(steps.goal[first[0]], steps.goal[first[3]])
    assert charts["reward"] == pytest.approx(steps.reward.sum() / 6, rel=1e-5)


def test_rlft_as_ppo_learns_from_per_step_gae_advantages_in_several_clipped_steps(tmp_path, tiny_lm_dir):
    core = envs.make_core("build", **TINY_CORE)
    human = make_player("greedy", core, HUMAN)
    config = RLFTConfig(
        init=str(tiny_lm_dir), groups=1, group_size=2, advantage="gae", epochs=2, minibatches=2, batch=8, eval_text_episodes=0
    )
    trainer = RLFTTrainer(TrainingContext(core, core, human, human, tmp_path, seed=0, device="cpu", logger=quiet_logger(tmp_path)), config)
    steps, returns, _ = trainer.rollouts()
    values = torch.linspace(-1.0, 1.0, len(steps.action))
    advantages, targets = trainer.targets(steps, returns, values)
    assert advantages.mean().item() == pytest.approx(0.0, abs=1e-5) and advantages.std(unbiased=False).item() == pytest.approx(
        1.0, abs=1e-3
    )
    last = np.flatnonzero(steps.ends)
    assert torch.allclose(targets[last], torch.from_numpy(steps.reward[last]))  # nothing is bootstrapped past an episode's end
    before = [p.detach().clone() for p in trainer.policy.parameters()]
    scalars = trainer.iterate()
    assert trainer.optimizer.state_dict()["state"][0]["step"].item() == 4  # epochs x minibatches Adam steps
    lm_group, heads_group = trainer.optimizer.param_groups  # the heads learn at their own rate
    assert lm_group["lr"] == config.lr and heads_group["lr"] == config.head_lr
    assert len(heads_group["params"]) == len(list(trainer.policy.heads.parameters()))
    assert {"approx_kl", "clip_fraction", "pg", "kl", "value"} <= set(scalars["losses"])
    assert any(not torch.equal(b, p) for b, p in zip(before, trainer.policy.parameters()))


def test_sft_learns_from_recordings_of_the_same_game(tmp_path, tiny_lm_dir):
    core = envs.make_core("build", **TINY_CORE)
    human = make_player("greedy", core, HUMAN)
    episodes = rollout_episodes(core, human, make_player("oracle", core, ASSISTANT), 2, seed=3)
    seats = {HUMAN: {"player": "greedy", "person": False}, ASSISTANT: {"player": "oracle", "person": False}}
    recording.write(tmp_path / "data" / "oracle.jsonl", recording.header("build", TINY_CORE, seats), episodes)
    config = SFTConfig(init=str(tiny_lm_dir), data=str(tmp_path / "data"), eval_text_episodes=0)
    trainer = SFTTrainer(TrainingContext(core, core, human, human, tmp_path, seed=0, device="cpu", logger=quiet_logger(tmp_path)), config)
    assert len(trainer.steps.action) == sum(len(e["actions"]) for e in episodes)
    assert np.array_equal(trainer.steps.action, [joint[1] for e in episodes for joint in e["actions"]])
    other = envs.make_core("build", preset="small")
    with pytest.raises(ValueError, match="assistant actions differ"):
        SFTTrainer(TrainingContext(other, other, human, human, tmp_path, seed=0, device="cpu", logger=quiet_logger(tmp_path)), config)


def test_pretraining_texts_are_prompts_followed_by_the_action_taken(tiny_lm_dir):
    from assist.llm.encoding import TextEncoder
    from assist.llm.lm import load_lm

    core = envs.make_core("build", **TINY_CORE)
    _, tokenizer = load_lm(tiny_lm_dir)
    episodes = rollout_episodes(core, make_player("greedy", core, HUMAN), make_player("noop", core, ASSISTANT), 1, seed=0)
    texts = transcripts(core, tokenizer, episodes, [HUMAN, ASSISTANT])
    assert len(texts) == 2 * len(episodes[0]["actions"])
    encoder = TextEncoder(core, tokenizer, HUMAN)
    first = episodes[0]["actions"][0][0]
    assert texts[0][-len(encoder.actions[first]) :] == encoder.actions[first] and texts[0][0] == tokenizer.bos_token_id
    assert all(tokenizer.unk_token_id not in text for text in texts)
    assert texts[len(texts) // 2][-2:] == [tokenizer.convert_tokens_to_ids("▁noop"), tokenizer.eos_token_id]


def test_an_lm_stage_resumes_from_its_checkpoint_exactly(tmp_path, tiny_lm_dir, caplog):
    overrides = ["algo=pretrain", f"algo.init={tiny_lm_dir}", *COMMON, *STAGES["pretrain"], "algo.eval_text_episodes=0", "logger=none"]
    whole = run(compose_train([*overrides, "algo.checkpoint_every=1"]), tmp_path / "whole", progress=False)
    run(
        compose_train([*overrides, "algo.iterations=1", "algo.checkpoint_every=1", "algo.eval_every=1"]), tmp_path / "parts", progress=False
    )
    saved = load_file(tmp_path / "parts" / "model" / "model.safetensors")
    with caplog.at_level(logging.INFO):
        resumed = run(compose_train([*overrides, "resume=true"]), tmp_path / "parts", progress=False)
    assert "resumed at iteration 1 (4 env steps)" in caplog.text
    results = json.loads((tmp_path / "parts" / "results.json").read_text())
    assert results["iterations"] == 2 and results["env_steps"] == 2 * 4
    after, uninterrupted = (load_file(tmp_path / run_dir / "model" / "model.safetensors") for run_dir in ("parts", "whole"))
    assert any(not torch.equal(saved[key], after[key]) for key in saved)
    assert all(torch.equal(uninterrupted[key], after[key]) for key in after) and resumed == whole


@pytest.mark.slow
def test_a_truncated_stage_model_or_checkpoint_stops_the_command_line_in_one_line(tmp_path, tiny_lm_dir):
    overrides = ["algo=pretrain", f"algo.init={tiny_lm_dir}", *COMMON, *STAGES["pretrain"], "algo.iterations=1", "algo.eval_every=1", "algo.eval_text_episodes=0", "logger=none"]
    run(compose_train(overrides), tmp_path / "pretrain", progress=False)
    manifest = json.loads((tmp_path / "pretrain" / "checkpoints" / "manifest.json").read_text())
    saved = tmp_path / "pretrain" / "checkpoints" / manifest["checkpoint"] / "model" / "model.safetensors"
    for weights in (tmp_path / "pretrain" / "model" / "model.safetensors", saved):
        truncate(weights)
    sft = ["algo=sft", f"algo.init={tmp_path / 'pretrain'}", *COMMON, *STAGES["sft"], "device=cpu"]
    assert_one_line_error(*finish(train(tmp_path / "sft", *sft), timeout=300), f"the model in {tmp_path / 'pretrain' / 'model'}", "SafetensorError", "save_pretrained")
    resumed = finish(train(tmp_path / "pretrain", *overrides, "algo.iterations=2", "resume=true"), timeout=300)
    assert_one_line_error(*resumed, str(saved), "truncated, corrupt or changed")


def test_bad_stage_settings_fail_with_the_setting_named():
    with pytest.raises(ValueError, match="group_size"):
        RLFTConfig(group_size=1)
    with pytest.raises(ValueError, match="advantage"):
        RLFTConfig(advantage="ppo")
    with pytest.raises(ValueError, match="epochs"):
        RLFTConfig(epochs=0)
    with pytest.raises(ValueError, match="clip"):
        RLFTConfig(clip=0.0)
    with pytest.raises(ValueError, match="seats"):
        PretrainConfig(seats=["nobody"])


@pytest.mark.slow
def test_the_pipeline_script_chains_the_four_stages_and_continues_where_it_stopped(tmp_path, tiny_lm_dir):
    shutil.copytree(tiny_lm_dir, tmp_path / "runs" / "llm" / "default")  # the default model of runs started in tmp_path
    script = Path(__file__).parents[1] / "scripts" / "llm_pipeline.sh"
    small = [
        "algo.iterations=1",
        "algo.eval_every=1",
        "algo.eval_episodes=2",
        "algo.eval_text_episodes=0",
        "algo.batch=8",
        "logger=none",
        "device=cpu",
    ]
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}

    def pipeline(**extra):
        done = subprocess.run(
            ["bash", str(script), "out", *small],
            cwd=tmp_path,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]

    pipeline(LAST="sft")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["pretrain", "sft"]
    first_sft = (tmp_path / "out" / "sft" / "results.json").stat().st_mtime_ns
    pipeline()
    for previous, stage in (("pretrain", "sft"), ("sft", "rlft"), ("rlft", "search_loop")):
        config = OmegaConf.load(tmp_path / "out" / stage / "config.yaml")
        assert config.algo.name == stage and config.algo.init == f"out/{previous}" and config.env.preset == "tiny"
    assert (tmp_path / "out" / "sft" / "results.json").stat().st_mtime_ns == first_sft  # finished stages are not run again
    assert (tmp_path / "out" / "search_loop" / "model" / "config.json").is_file()


def test_the_pipeline_script_runs_the_repository_venv_when_it_is_not_active(tmp_path):
    root = Path(__file__).parents[1]
    if not (root / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv here (scripts/setup.sh makes it)")
    inactive = {key: value for key, value in os.environ.items() if key not in ("PYTHON", "VIRTUAL_ENV")}
    done = subprocess.run(
        ["bash", str(root / "scripts" / "llm_pipeline.sh"), "out", "--cfg", "job"],  # Hydra prints the stage's config and stops
        cwd=tmp_path,
        env={**inactive, "PATH": "/usr/bin:/bin", "LAST": "pretrain"},  # no venv on PATH: python3 cannot import assist
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "name: pretrain" in done.stdout


def test_a_stage_is_handed_exactly_the_episode_player_its_config_names(tmp_path, tiny_lm_dir):
    core = envs.make_core("build", **TINY_CORE)
    human = make_player("greedy", core, HUMAN)
    demonstrating = SFTConfig(init=str(tiny_lm_dir), eval_text_episodes=0)  # no data: the oracle demonstrates
    assert demonstrating.episode_player() == "oracle"
    with pytest.raises(ValueError, match="episode_player must be the 'oracle' player"):
        SFTTrainer(TrainingContext(core, core, human, human, tmp_path, seed=0, device="cpu", logger=quiet_logger(tmp_path)), demonstrating)
    recorded = SFTConfig(init=str(tiny_lm_dir), data=str(tmp_path), eval_text_episodes=0)
    with pytest.raises(ValueError, match="episode_player must be none"):
        SFTTrainer(TrainingContext(core, core, human, human, tmp_path, seed=0, device="cpu", logger=quiet_logger(tmp_path)), recorded, human)



def test_sft_distils_a_goal_blind_demonstrator_given_by_name_and_parameters(tmp_path, tiny_lm_dir, monkeypatch):
    """``algo.demonstrator_params`` reach the demonstrator: a trained conv AssistanceZero
    (which sees what the LM sees) plays the demonstrations, and a parameter the
    demonstrator lacks is refused by name."""
    import assist.learning.llm_sft as llm_sft

    played = []
    monkeypatch.setattr(llm_sft, "rollout_episodes", lambda core, human, player, *rest: played.append(player) or rollout_episodes(core, human, player, *rest))
    az_run = Path(__file__).parents[1] / "results/assistancezero/build_tiny/recipe/0"
    overrides = ["algo=sft", f"algo.init={tiny_lm_dir}", *COMMON, *STAGES["sft"], "algo.eval_text_episodes=0", "logger=none", "device=cpu"]
    final = run(compose_train([*overrides, "algo.demonstrator=assistancezero", f"+algo.demonstrator_params.run={az_run}"]), tmp_path / "sft", progress=False)
    assert set(final) >= {"goal_pct", "human_actions"}
    assert isinstance(played[0], SearchPlayer)
    core = envs.make_core("build", **TINY_CORE)
    searching = make_player("trained", core, ASSISTANT, run=str(tmp_path / "sft"), belief_run=str(az_run), simulations=2)
    assert isinstance(searching, SearchPlayer) and isinstance(searching.evaluator, PriorAndModel)  # the LM's prior, the conv net's belief
    metrics = evaluation.evaluate(core, make_player("greedy", core, HUMAN), searching, 2, 2, seed=0)
    assert np.all(np.isfinite(metrics["human_actions"]))
    with pytest.raises(ValueError, match="belief_run is for runs of the LM pipeline"):
        make_player("trained", core, ASSISTANT, run=str(az_run), belief_run=str(az_run))
    bad = compose_train([*overrides, "algo.demonstrator=library_bayes", "+algo.demonstrator_params.telepathy=1"])
    with pytest.raises(ValueError, match=r"player 'library_bayes' has no parameter\(s\) \['telepathy'\]"):
        run(bad, tmp_path / "bad", progress=False)


def test_the_search_loop_can_search_with_a_conv_networks_belief_and_its_run_plays_with_it(tmp_path, tiny_lm_dir, monkeypatch):
    """``algo.belief_run``: self-play and evaluation search with the LM's prior and the
    conv AssistanceZero's value, belief and human model; the finished run plays so too."""
    import assist.learning.llm_search as llm_search

    trainers = []
    real_init = llm_search.LMSearchTrainer.__init__
    monkeypatch.setattr(llm_search.LMSearchTrainer, "__init__", lambda self, *a, **k: trainers.append(self) or real_init(self, *a, **k))
    az_run = Path(__file__).parents[1] / "results/assistancezero/build_tiny/recipe/0"
    overrides = ["algo=search_loop", f"algo.init={tiny_lm_dir}", *COMMON, *STAGES["search_loop"], "algo.eval_text_episodes=0", "logger=none", "device=cpu"]
    final = run(compose_train([*overrides, f"algo.belief_run={az_run}"]), tmp_path / "loop", progress=False)
    assert set(final) >= {"goal_pct", "human_actions"}
    assert isinstance(trainers[0].evaluator, PriorAndModel) and trainers[0].evaluator.memory_size > 0  # the conv net's memory rides along
    player = make_player("trained", envs.make_core("build", **TINY_CORE), ASSISTANT, run=str(tmp_path / "loop"))
    assert isinstance(player.evaluator, PriorAndModel)
