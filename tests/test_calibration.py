"""assist/calibration.py: a goal belief's calibration bins, the confident figure, and the scorer an evaluation plays through."""

import numpy as np
import pytest

import envs
from assist import evaluation
from assist.calibration import GoalScorer, calibration, confident
from assist.models.base import ModelOutput
from assist.players.base import BasePlayer
from assist.registry import make_player
from envs.core import ASSISTANT, HUMAN


def test_calibration_bins_count_every_probability_once_with_its_hit_rate():
    p = np.array([0.1, 0.3, 0.3, 0.6, 0.8, 1.0, 0.95])
    right = np.array([False, True, False, True, True, True, False])
    rows = calibration(p, right)
    assert [row["n"] for row in rows] == [1, 2, 1, 1, 2] and sum(row["n"] for row in rows) == len(p)
    assert rows[1]["right"] == 0.5 and rows[4]["right"] == 0.5 and rows[0]["mean_p"] == pytest.approx(0.1)
    assert calibration(np.zeros(0), np.zeros(0, bool))[0] == {"p": [0.0, 0.25], "n": 0, "right": None, "mean_p": None}


def test_the_confident_figure_pools_the_bins_from_three_quarters_up():
    p = np.array([0.1, 0.74, 0.75, 0.8, 0.95, 1.0])
    right = np.array([True, True, False, True, True, False])
    assert confident(calibration(p, right)) == (0.5, 4)  # 0.75, 0.8, 0.95, 1.0: two right
    assert confident(calibration(p, right), threshold=0.9) == (0.5, 2)
    fraction, count = confident(calibration(np.array([0.5]), np.array([True])))
    assert np.isnan(fraction) and count == 0
    with pytest.raises(ValueError, match="must be a bin edge below 1"):
        confident(calibration(p, right), threshold=0.8)


class SureOfTheWorld(BasePlayer):
    """Plays the no-op and believes, with probability 0.9, that each voxel's block is the goal's."""

    def act(self, turn):
        world = self.core.observed_goal_factors(turn.observation)
        logits = np.where(np.arange(self.core.n) == world[..., None], np.log(0.9 * (self.core.n - 1) / 0.1), 0.0)
        self.last_output = ModelOutput(np.zeros_like(turn.legal, float), np.zeros(len(world)), logits, np.zeros(1))
        return np.zeros(len(world), np.int64)


def test_the_scorer_scores_every_voxel_of_every_live_step_without_handing_the_state_on():
    core = envs.make_core("build", preset="tiny", horizon=3)
    player = SureOfTheWorld(core, ASSISTANT)
    seen = []
    act = player.act
    player.act = lambda turn: seen.append(turn.state) or act(turn)
    scorer = GoalScorer(core, player)
    lengths = evaluation.evaluate(core, make_player("greedy", core, HUMAN), scorer, 2, 2, seed=0)["length"]
    figures = scorer.figures()
    assert seen == [None] * int(lengths.max())  # the player is not privileged: it never sees the state
    assert figures["goal_confident_n"] == lengths.sum() * core.V  # every voxel of every step a game was on, at 0.9
    assert 0 < figures["goal_confident_right"] < 1  # the air above a goal's blocks is wrong
    assert figures["goal_confident_n_own"] == 0 and np.isnan(figures["goal_confident_right_own"])  # it placed nothing
