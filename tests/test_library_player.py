"""The goal-library Bayes assistant: a posterior over library goals from the human's
actions, acting on its belief, never reading the true goal."""

import numpy as np
import pytest

import envs
from assist.players import make_player
from assist.rollout import play, turn_for
from envs import build
from envs.build.blocks import FIRST_PLACEABLE
from envs.core import ASSISTANT, HUMAN


@pytest.fixture(scope="module")
def core():
    return build.make_core("tiny", goal_split="test")


def rollout(core, assistant, goals, steps=6, seed=0):
    """The assistant's actions over ``steps`` steps beside the greedy human on ``goals``."""
    rng = np.random.default_rng(seed)
    human = make_player("greedy", core, HUMAN, epsilon=0.1)
    human.reset(len(goals), np.random.default_rng(seed + 1))
    assistant.reset(len(goals), np.random.default_rng(seed + 2))
    state = core.reset(len(goals), rng, goals=goals)
    taken = []
    for _ in range(steps):
        joint = np.stack([human.act(turn_for(core, human, state, HUMAN)), assistant.act(turn_for(core, assistant, state, ASSISTANT))], axis=1)
        taken.append(joint[:, 1])
        core.step(state, joint)
    return np.stack(taken, axis=1), state


def posterior_gain(core, human: str, **params) -> float:
    """The posterior's mean mass on the true goal over its prior mass, after 4 steps of
    ``human`` building 16 library goals."""
    player = make_player("library_bayes", core, ASSISTANT, split="test", samples=4000, **params)
    goals = player.library[:: len(player.library) // 16][:16]
    true = np.array([np.flatnonzero((player.library == g).all(axis=1))[0] for g in goals])
    rng = np.random.default_rng(0)
    person = make_player(human, core, HUMAN)
    person.reset(16, rng)
    player.reset(16, rng)
    state = core.reset(16, rng, goals=goals)
    for _ in range(4):
        core.step(state, np.stack([person.act(turn_for(core, person, state, HUMAN)), player.act(turn_for(core, player, state, ASSISTANT))], axis=1))
    player.act(turn_for(core, player, state, ASSISTANT))
    return player.posterior()[np.arange(16), true].mean() / np.exp(player.log_prior[true]).mean()


@pytest.mark.parametrize("human, params", [("greedy", {}), ("corrective", {"fix_others": True}), ("boltzmann", {"beta": 5.0})])
def test_the_posterior_gathers_on_the_true_goal(core, human, params):
    """For the greedy human and, modelled as such, the corrective and Boltzmann ones."""
    assert posterior_gain(core, human, **params) > 5


def test_the_true_goal_is_never_read(core):
    """Replaying the same human actions under other true goals gives the same assistant
    (goals of 8+ blocks, so no episode ends within the 5 steps)."""
    player = make_player("library_bayes", core, ASSISTANT, split="test", samples=2000)
    big = player.library[(player.library >= FIRST_PLACEABLE).sum(axis=1) >= 8]
    goals, other = big[:8], big[8:16]
    taken, _ = rollout(core, player, goals, steps=5)
    human = make_player("greedy", core, HUMAN, epsilon=0.1)
    human.reset(8, np.random.default_rng(1))
    state = core.reset(8, np.random.default_rng(0), goals=goals)
    replay = []
    for _ in range(5):
        replay.append(human.act(turn_for(core, human, state, HUMAN)))
        core.step(state, np.stack([replay[-1], taken[:, len(replay) - 1]], axis=1))
    state = core.reset(8, np.random.default_rng(0), goals=other)
    player.reset(8, np.random.default_rng(2))
    for step, human_action in enumerate(replay):
        assert np.array_equal(player.act(turn_for(core, player, state, ASSISTANT)), taken[:, step])
        core.step(state, np.stack([human_action, taken[:, step]], axis=1))

def test_with_the_goal_distribution_known_it_saves_the_human_work(core):
    seeds = np.arange(40) + 5000
    human = make_player("greedy", core, HUMAN, epsilon=0.1)
    alone = play(core, {HUMAN: human, ASSISTANT: make_player("noop", core, ASSISTANT)}, seeds, np.random.default_rng(0)).metrics
    helped = play(core, {HUMAN: human, ASSISTANT: make_player("library_bayes", core, ASSISTANT, split="test", samples=4000)}, seeds, np.random.default_rng(0)).metrics
    assert helped["human_actions"].mean() < 0.85 * alone["human_actions"].mean()
    assert helped["goal_pct"].mean() >= alone["goal_pct"].mean() - 1


def test_it_refuses_other_games_seats_and_settings(core):
    with pytest.raises(ValueError, match="assistant seat of a game whose goal is a target world"):
        make_player("library_bayes", envs.kitchen.make_core("cake_or_pie"), ASSISTANT)
    with pytest.raises(ValueError, match="assistant seat"):
        make_player("library_bayes", core, HUMAN)
    with pytest.raises(ValueError, match="epsilon=0"):
        make_player("library_bayes", core, ASSISTANT, epsilon=0.0)
    with pytest.raises(ValueError, match="unknown split"):
        make_player("library_bayes", core, ASSISTANT, split="validation")

