"""The replay buffer of step sequences."""

import numpy as np
import pytest

from assist.learning.replay import SequenceReplay, to_sequences


def test_to_sequences_cuts_each_games_steps_in_time_order():
    block = np.arange(4 * 2).reshape(4, 2)  # [T=4, B=2]: value = 2 * t + b
    sequences = to_sequences(block, 2)
    assert sequences.tolist() == [[0, 2], [1, 3], [4, 6], [5, 7]]


def test_to_sequences_refuses_a_ragged_cut():
    with pytest.raises(ValueError, match="multiple"):
        to_sequences(np.zeros((5, 1)), 2)


def test_the_oldest_sequences_are_overwritten_first():
    replay = SequenceReplay(3)
    replay.add({"x": np.array([1, 2])})
    replay.add({"x": np.array([3, 4])})
    assert replay.size == 3 and sorted(replay.storage["x"].tolist()) == [2, 3, 4]


def test_sampling_returns_stored_sequences_with_all_fields():
    replay = SequenceReplay(10)
    replay.add({"x": np.arange(4), "y": np.arange(4) * 10})
    batch = replay.sample(50, np.random.default_rng(0))
    assert np.array_equal(batch["y"], batch["x"] * 10) and set(batch["x"]) <= {0, 1, 2, 3}


def test_an_empty_buffer_cannot_be_sampled():
    with pytest.raises(ValueError, match="empty"):
        SequenceReplay(2).sample(1, np.random.default_rng(0))
