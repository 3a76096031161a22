"""scripts/diagnose.py: what a trained build assistant changed, and its belief's calibration (the bins: tests/test_calibration.py)."""

import json

import numpy as np
import pytest
from omegaconf import OmegaConf

from assist.cli.diagnose import assistant_changes
from assist.cli.diagnose import main as diagnose
from assist.cli.train import run
from envs.building.blocks import AIR
from tests.test_train import TINY as AZ_TINY
from tests.test_train import compose_train


def test_each_change_is_counted_by_kind_owner_and_rightness():
    goal = np.array([[2, 3, 2, AIR]] * 5)
    touched = np.array([[0, 1, 2, 1]] * 5)
    voxel = np.array([0, 0, 1, 2, -1])  # place right, place wrong, break the human's right block, break its own wrong one, nothing
    old = np.array([AIR, AIR, 3, 4, AIR])
    new = np.array([2, 4, AIR, AIR, AIR])
    assert assistant_changes(touched, voxel, old, new, goal) == {"place_right": 1, "place_wrong": 1, "break_human_right": 1, "break_own_wrong": 1}


@pytest.mark.slow
def test_diagnose_plays_a_trained_run_and_prints_its_changes_and_calibration(tmp_path, capsys):
    run(compose_train(["env.preset=tiny"] + AZ_TINY + ["seed=0"]), tmp_path / "az", progress=False)
    capsys.readouterr()  # the training run's own lines
    diagnose([str(tmp_path / "az"), "--episodes", "3", "--goal-split", "train"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["episodes"] == 3 and lines[0]["human_actions"] > 0
    assert {line["calibration"] for line in lines[1:]} == {"human_blocks", "air_voxels"}
    assert sum(line["n"] for line in lines[1:] if line["calibration"] == "air_voxels") > 0


def test_diagnose_refuses_a_run_of_another_game(tmp_path):
    OmegaConf.save(compose_train(["env=kitchen"]), tmp_path / "config.yaml")
    with pytest.raises(SystemExit):
        diagnose([str(tmp_path)])
