"""Data-parallel training under ``torchrun``: two CPU ranks (gloo) train in one run
directory, rank 0 owns it, and the ranks' weights stay identical."""

import json
import os
import subprocess
import sys

import pytest
import torch

from tests.test_long_runs import ROOT, RUN


@pytest.mark.slow
def test_two_ranks_train_in_step_in_rank_zeros_run_directory(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1", "TMPDIR": str(tmp_path / "scratch")}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(ROOT / "scripts" / "train.py")]
    done = subprocess.run([*command, *RUN, "algo.iterations=2", "device=cpu"], check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (run_dir,) = (tmp_path / "runs" / "train").iterdir()  # one run directory, not one per rank
    manifest = json.loads((run_dir / "checkpoints" / "manifest.json").read_text())
    assert manifest["world_size"] == 2 and manifest["counters"]["iteration"] == 2
    folder = run_dir / "checkpoints" / manifest["checkpoint"]
    ranks = [torch.load(folder / f"rank{r}.pt", weights_only=True) for r in range(2)]
    assert ranks[0]["weights"] == ranks[1]["weights"]  # the same weights on both ranks
    assert ranks[0]["rng"]["numpy"] != ranks[1]["rng"]["numpy"]  # from their own self-play
    assert (folder / "rank1.replay.safetensors").exists() and (folder / "rank1.games.safetensors").exists()
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1 and (run_dir / ".hydra").is_dir()
    assert json.loads((run_dir / "results.json").read_text())["env_steps"] == 2 * 4 * 4 * 2  # both ranks' games
