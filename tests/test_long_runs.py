"""Long runs: a killed run resumes exactly, signals stop it cleanly after a checkpoint, a
failed checkpoint write keeps the previous one, and damaged or foreign checkpoints and
non-finite losses stop the run with a message that names the file or the cause and the fix.

The end-to-end runs start ``scripts/train.py`` in a subprocess (one torch thread), as a
user would, on the tiny preset."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import get_class
from safetensors.numpy import load_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import envs
from assist.cli import CONFIG_DIR
from assist.cli.train import Stopped, run
from assist.learning import assistancezero
from assist.learning.checkpoints import CheckpointError, CheckpointWriteError
from assist.learning.trainer import NonFiniteLossError, Trainer
from assist.registry import make_player
from envs.core import ASSISTANT
from tests.test_train import TINY, compose_train

ROOT = Path(__file__).resolve().parents[1]
RUN = ["env.preset=tiny"] + [o for o in TINY if not o.startswith(("algo.iterations", "algo.eval_every"))]
ITERATIONS = 6
LONG = RUN + [f"algo.iterations={ITERATIONS}", "algo.checkpoint_every=1", "algo.eval_every=3", "threads=1"]
TIMED = ("perf/", "search/simulations_per_s")
"""Scalars that measure the machine's speed, which no two runs share."""


def train(run_dir: Path, *overrides: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    command = [sys.executable, str(ROOT / "scripts" / "train.py"), *overrides, f"hydra.run.dir={run_dir}"]
    return subprocess.Popen(command, cwd=run_dir.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


def checkpointed_iteration(run_dir: Path) -> int:
    manifest = run_dir / "checkpoints" / "manifest.json"
    try:
        return json.loads(manifest.read_text())["counters"]["iteration"]
    except (OSError, json.JSONDecodeError):  # not written yet
        return 0


def wait_for_checkpoint(process: subprocess.Popen, run_dir: Path, iteration: int, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while checkpointed_iteration(run_dir) < iteration:
        assert process.poll() is None, finish(process)[1]
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.02)
    return checkpointed_iteration(run_dir)


def weights(run_dir: Path) -> dict[str, np.ndarray]:
    manifest = json.loads((run_dir / "checkpoints" / "manifest.json").read_text())
    return load_file(run_dir / "checkpoints" / manifest["checkpoint"] / "model.safetensors")


def curves(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every logged scalar but the timings, as (step, value) pairs; TensorBoard's view
    (events a resumed run purged are not in it)."""
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"] if not tag.startswith(TIMED)}


@pytest.mark.slow
def test_a_run_killed_mid_iteration_resumes_to_the_same_results(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    code, output = finish(train(whole, *LONG))
    assert code == 0, output
    process = train(killed, *LONG)
    reached = wait_for_checkpoint(process, killed, 2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    at = checkpointed_iteration(killed)
    assert reached <= at < ITERATIONS, "the run finished before it could be killed"
    code, output = finish(train(killed, *LONG, "resume=true"))
    assert code == 0 and f"resumed at iteration {at}" in output, output
    ours, theirs = weights(killed), weights(whole)
    assert set(ours) == set(theirs)
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)
    assert json.loads((killed / "results.json").read_text())["final_eval"] == json.loads((whole / "results.json").read_text())["final_eval"]
    np.testing.assert_equal(curves(killed), curves(whole))  # NaN equals NaN: a calibration figure with no confident factor


@pytest.mark.slow
def test_sigterm_stops_the_run_cleanly_after_a_checkpoint(tmp_path):
    signum = signal.SIGTERM
    run_dir = tmp_path / "run"
    process = train(run_dir, *LONG, "algo.checkpoint_every=2")
    wait_for_checkpoint(process, run_dir, 2)
    process.send_signal(signum)
    code, output = finish(process)
    assert code == 128 + signum, output
    assert "Traceback" not in output and "resume=true" in output
    stopped_at = checkpointed_iteration(run_dir)
    assert 2 <= stopped_at < ITERATIONS and not (run_dir / "results.json").exists()
    code, output = finish(train(run_dir, *LONG, "resume=true"))
    assert code == 0 and f"resumed at iteration {stopped_at}" in output, output
    assert json.loads((run_dir / "results.json").read_text())["iterations"] == ITERATIONS


# --------------------------------------------------------------- in process


def assert_stopping_after_2_changes_nothing(settings: list[str], tmp_path: Path) -> None:
    """A run of ``settings`` stopped after iteration 2 and resumed (in ``tmp_path / "parts"``)
    ends with the results and weights of one that never stopped (``tmp_path / "whole"``)."""
    whole = run(compose_train(settings), tmp_path / "whole")
    run(compose_train([*settings, "algo.iterations=2"]), tmp_path / "parts")
    resumed = run(compose_train([*settings, "resume=true"]), tmp_path / "parts")
    assert resumed == whole
    ours, theirs = weights(tmp_path / "parts"), weights(tmp_path / "whole")
    assert all(np.array_equal(ours[key], theirs[key]) for key in theirs)


def test_a_resumed_ppo_run_matches_one_that_never_stopped(tmp_path):
    """The PPO trainer shares the checkpoints (the SIGKILL test above checks AssistanceZero's):
    stopping after iteration 2 and resuming changes nothing in the weights or the results."""
    settings = ["env.preset=tiny", "model=tiny", "algo=ppo", "algo.iterations=4", "algo.eval_every=4", "algo.envs=4", "algo.eval_episodes=4"]
    settings += ["algo.rollout=4", "algo.minibatches=2", "algo.epochs=2"]
    assert_stopping_after_2_changes_nothing(settings, tmp_path)


def test_a_resumed_run_that_reuses_subtrees_matches_one_that_never_stopped(tmp_path):
    """Self-play grows fresh trees at every rollout, so a checkpoint needs none: with
    search.reuse_subtree on, stopping after iteration 2 and resuming changes nothing."""
    settings = RUN + ["search.reuse_subtree=true", "search.num_simulations=6", "algo.iterations=4", "algo.eval_every=4"]
    assert_stopping_after_2_changes_nothing(settings, tmp_path)
    times = json.loads((tmp_path / "parts" / "results.json").read_text())
    assert times["train_seconds"] > times["wall_seconds"] > 0  # the first invocation's time counts too


def test_a_resumed_run_with_goal_games_matches_one_that_never_stopped(tmp_path):
    """The goal games and their buffer are checkpointed with the rest."""
    settings = RUN + ["algo.goal_envs=4", "algo.goal_batch=2", "algo.iterations=4", "algo.eval_every=4"]
    assert_stopping_after_2_changes_nothing(settings, tmp_path)


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("trained")
    run(compose_train(RUN + ["algo.iterations=2"]), run_dir)
    return run_dir


@pytest.fixture
def trained(trained_once, tmp_path):
    """A run directory of its own with a checkpoint after two iterations."""
    return Path(shutil.copytree(trained_once, tmp_path / "run"))


def resume(run_dir: Path, *overrides: str):
    return run(compose_train(RUN + ["algo.iterations=3", "resume=true", *overrides]), run_dir)


def current(run_dir: Path) -> Path:
    return run_dir / "checkpoints" / json.loads((run_dir / "checkpoints" / "manifest.json").read_text())["checkpoint"]


def test_a_failed_checkpoint_write_keeps_the_previous_checkpoint(trained, monkeypatch):
    before = current(trained)
    contents = {path.name: path.read_bytes() for path in before.iterdir()}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("assist.learning.checkpoints.serialize_arrays", full_disk)
    with pytest.raises(CheckpointWriteError, match="No space left.*previous checkpoint .* is intact.*resume=true"):
        resume(trained)
    assert current(trained) == before and {path.name: path.read_bytes() for path in before.iterdir()} == contents
    assert {p.name for p in (trained / "checkpoints").iterdir()} == {"manifest.json", before.name}  # no staging folder left
    monkeypatch.undo()
    resume(trained)
    assert json.loads((trained / "results.json").read_text())["iterations"] == 3


@pytest.mark.parametrize("name", ["model.safetensors", "trainer.pt", "rank0.pt", "rank0.replay.safetensors", "rank0.games.safetensors"])
def test_a_truncated_checkpoint_file_is_named_with_the_fix(trained, name):
    path = current(trained) / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=rf"{re.escape(str(path))}.*(truncated|corrupt).*delete .*checkpoints to start the run afresh"):
        resume(trained)


def test_a_corrupt_manifest_is_named_with_the_fix(trained):
    """When the checkpoint folder's own manifest is damaged too (else the run falls back to it: tests/test_checkpoints.py)."""
    manifest = trained / "checkpoints" / "manifest.json"
    (current(trained) / "manifest.json").write_text("{not json")
    manifest.write_text("{not json")
    with pytest.raises(CheckpointError, match=rf"{re.escape(str(manifest))} is unreadable.*delete"):
        resume(trained)


@pytest.mark.parametrize(
    "change, file, says",
    [
        ("+model.overrides.channels=8", "model.safetensors", "shapes differ"),
        ("algo.envs=3", "rank0.games.safetensors", "algo.envs"),
        ("algo.replay=64", "rank0.replay.safetensors", "algo.replay=64"),
    ],
)
def test_a_checkpoint_of_another_config_is_named_with_the_fix(trained, change, file, says):
    """Without the settings in its manifest (earlier versions), each file is checked as it is read
    (with them, the changed settings are refused first: tests/test_checkpoints.py)."""
    manifest = trained / "checkpoints" / "manifest.json"
    manifest.write_text(json.dumps({key: value for key, value in json.loads(manifest.read_text()).items() if key != "settings"}))
    with pytest.raises(CheckpointError, match=rf"{re.escape(str(current(trained) / file))}.*{re.escape(says)}.*(config|preset)"):
        resume(trained, change)


def test_non_finite_losses_are_skipped_counted_and_stop_the_run(tmp_path, monkeypatch):
    real = assistancezero.loss_terms
    calls = {"n": 0}

    def sometimes_nan(net, batch):
        calls["n"] += 1
        terms = real(net, batch)
        if calls["n"] in (2, 3) or calls["n"] > 4:  # two bad updates, a good one, then bad for good
            terms["value"] = terms["value"] * float("nan")
        return terms

    monkeypatch.setattr(assistancezero, "loss_terms", sometimes_nan)
    seen = []
    real_step = torch.optim.Adam.step
    monkeypatch.setattr(torch.optim.Adam, "step", lambda self, *a, **k: (seen.append(calls["n"]), real_step(self, *a, **k))[1])
    with pytest.raises(NonFiniteLossError, match=r"not finite in 3 updates in a row.*value=nan.*Lower algo.lr"):
        run(compose_train(RUN + ["algo.iterations=5", "algo.updates=2", "algo.max_nonfinite=3"]), tmp_path)
    assert seen == [1, 4]  # only the finite updates stepped
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert [e.value for e in events.Scalars("losses/skipped_updates")] == [1, 2, 4]  # after iterations 1-3; the 4th raised


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_between_checkpoints_stops_the_run_after_writing_one(tmp_path, monkeypatch, signum):
    real = Trainer.finish_iteration

    def signalled(self, progress=None):
        real(self, progress)
        if self.iteration == 1:
            os.kill(os.getpid(), signum)

    before = signal.getsignal(signum)
    monkeypatch.setattr(Trainer, "finish_iteration", signalled)
    with pytest.raises(Stopped, match=f"stopped by {signal.Signals(signum).name} after iteration 1.*resume=true") as stop:
        run(compose_train(RUN + ["algo.iterations=3", "algo.checkpoint_every=100"]), tmp_path)
    assert stop.value.code == 128 + signum and checkpointed_iteration(tmp_path) == 1
    assert signal.getsignal(signum) == before  # the handler is gone again


def test_the_slurm_requeue_launcher_composes_and_requeues():
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=["hydra/launcher=slurm_requeue", "resume=true"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert get_class(launcher._target_).__name__ == "SlurmLauncher"
    assert launcher.max_num_timeout > 0 and launcher.signal_delay_s > 0 and cfg.resume


def test_a_stored_run_of_the_earlier_flat_layout_still_loads_for_evaluation(tmp_path):
    stored = ROOT / "results" / "assistancezero" / "kitchen_cake_or_pie_seed0"
    core = envs.make_core("kitchen", variant="cake_or_pie")
    assert make_player("assistancezero", core, ASSISTANT, run=str(stored)).evaluator.net is not None
    run_dir = Path(shutil.copytree(stored, tmp_path / "run"))
    with pytest.raises(CheckpointError, match="earlier version .* cannot continue it"):
        run(compose_train(["env=kitchen", "human=model", *(o for o in TINY if o != "model=tiny"), "model=small", "resume=true"]), run_dir)
