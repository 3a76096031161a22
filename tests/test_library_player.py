"""The goal-library Bayes assistant: a posterior over library goals from the human's
actions, acting on its belief, never reading the true goal."""

import numpy as np
import pytest

import envs
from assist.models.base import ModelOutput
from assist.players.library import GoalLibrary, LibraryMixture
from assist.registry import make_player
from assist.rollout import play, turn_for
from envs import building
from envs.building.blocks import FIRST_PLACEABLE
from envs.core import ASSISTANT, HUMAN


@pytest.fixture(scope="module")
def core():
    return building.make_core("tiny", goal_split="test")


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
    library = player.library
    goals = library.goals[:: len(library.goals) // 16][:16]
    true = np.array([np.flatnonzero((library.goals == g).all(axis=1))[0] for g in goals])
    rng = np.random.default_rng(0)
    person = make_player(human, core, HUMAN)
    person.reset(16, rng)
    player.reset(16, rng)
    state = core.reset(16, rng, goals=goals)
    for _ in range(4):
        core.step(state, np.stack([person.act(turn_for(core, person, state, HUMAN)), player.act(turn_for(core, player, state, ASSISTANT))], axis=1))
    player.act(turn_for(core, player, state, ASSISTANT))
    return library.posterior()[np.arange(16), true].mean() / np.exp(library.log_prior[true]).mean()


@pytest.mark.parametrize("human, params", [("greedy", {}), ("corrective", {"fix_others": True}), ("boltzmann", {"beta": 5.0})])
def test_the_posterior_gathers_on_the_true_goal(core, human, params):
    """For the greedy human and, modelled as such, the corrective and Boltzmann ones."""
    assert posterior_gain(core, human, **params) > 5


def test_the_true_goal_is_never_read(core):
    """Replaying the same human actions under other true goals gives the same assistant
    (goals of 8+ blocks, so no episode ends within the 5 steps)."""
    player = make_player("library_bayes", core, ASSISTANT, split="test", samples=2000)
    big = player.library.goals[(player.library.goals >= FIRST_PLACEABLE).sum(axis=1) >= 8]
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



def mixture_weight_after(core, goals, informed: bool, steps=6, prior=0.5):
    """The library's weight in a mixture (library prior ``prior``) with a network whose
    goal belief is uniform and whose human-action head is uniform (``informed=False``) or
    the greedy human's choice under the true goal (as a network that learned those goals
    would predict), after ``steps`` of the greedy human building ``goals``; with the last
    averaged logits."""
    mixture = LibraryMixture(GoalLibrary(core, "train", samples=4000), prior)
    human = make_player("greedy", core, HUMAN, epsilon=0.1)
    rng = np.random.default_rng(0)
    human.reset(len(goals), rng)
    mixture.reset(len(goals))
    state = core.reset(len(goals), rng, goals=goals)
    for _ in range(steps):
        human_logits = np.zeros((len(goals), core.num_actions(HUMAN)))
        if informed:
            values = core.goal_action_values(state, HUMAN, state.goal, fix_others=False)
            human_logits = np.where(values >= values.max(axis=1, keepdims=True) - 1e-6, 4.0, 0.0)
        mixture.observe(state)
        logits = mixture(ModelOutput(None, None, np.zeros((len(goals), core.V, core.n), np.float32), human_logits.astype(np.float32)))
        core.step(state, np.stack([human.act(turn_for(core, human, state, HUMAN)), np.zeros(len(goals), np.int64)], axis=1))
    return mixture.library_weight(), logits, mixture


def test_the_mixture_follows_the_model_that_predicts_the_human_better(core):
    """Goals the training library holds, against a network that cannot predict the
    human: the library takes over, and the averaged belief is its posterior's. Held-out
    goals no training goal equals, against a network that predicts the human: the
    network takes over."""
    library = GoalLibrary(core, "train", samples=4000).goals
    big = library[(library >= FIRST_PLACEABLE).sum(axis=1) >= 6]
    known, logits, mixture = mixture_weight_after(core, big[:: len(big) // 12][:12], informed=False)
    assert np.median(known) > 0.99 and known.min() > 0.5
    sure = known > 0.99
    assert np.allclose(np.exp(logits[sure]), mixture.library.belief()[sure], atol=0.01)
    held_out = core.sample_goals(200, np.random.default_rng(3))
    novel = np.array([g for g in held_out if not (library == g).all(axis=1).any() and (g >= FIRST_PLACEABLE).sum() >= 6][:12])
    unknown, logits, _ = mixture_weight_after(core, novel, informed=True)
    assert np.median(unknown) < 0.01
    assert np.allclose(np.exp(logits[unknown < 0.01]), 1 / core.n, atol=0.01)  # the network's uniform belief


def test_the_mixture_never_reads_the_true_goal(core):
    """The same states with other true goals give the same averaged belief."""
    goals = core.sample_goals(4, np.random.default_rng(0))
    mixture = LibraryMixture(GoalLibrary(core, "train", samples=1000), 0.5)
    output = ModelOutput(None, None, np.zeros((4, core.V, core.n), np.float32), np.zeros((4, core.num_actions(HUMAN)), np.float32))
    human = make_player("greedy", core, HUMAN, epsilon=0.1)
    human.reset(4, np.random.default_rng(0))
    state = core.reset(4, np.random.default_rng(0), goals=goals)
    beliefs, swapped = [], []
    mixture.reset(4)
    twin = LibraryMixture(GoalLibrary(core, "train", samples=1000), 0.5)
    twin.reset(4)
    for _ in range(3):
        mixture.observe(state)
        beliefs.append(mixture(output))
        changed = state.copy()
        changed.goal = goals[::-1].copy()
        twin.observe(changed)
        swapped.append(twin(output))
        core.step(state, np.stack([human.act(turn_for(core, human, state, HUMAN)), np.zeros(4, np.int64)], axis=1))
    assert all(np.array_equal(a, b) for a, b in zip(beliefs, swapped))


def test_a_certain_prior_keeps_the_library_posterior_alone(core):
    """Prior 1: the library's posterior however well the network predicts the human."""
    goals = core.sample_goals(6, np.random.default_rng(5))
    weight, logits, mixture = mixture_weight_after(core, goals, informed=True, steps=4, prior=1.0)
    assert np.array_equal(weight, np.ones(6))
    assert np.allclose(np.exp(logits), mixture.library.belief(), atol=1e-6)
    for prior in (0.0, 1.5):
        with pytest.raises(ValueError, match=r"prior weight must be in \(0, 1\]"):
            LibraryMixture(GoalLibrary(core, "train", samples=100), prior)


@pytest.mark.parametrize("params", [{}, {"beta": 5.0}])
def test_pruned_updates_give_the_exact_posterior(core, params):
    """Scoring only the goals within PRUNE_NATS of each row's best gives the posterior
    that scoring all K goals at every step gives (to 1e-9: a pruned goal held less than
    exp(-PRUNE_NATS) of the mass when it left),
    while most of the library has left every row's posterior after a few steps."""
    player = make_player("library_bayes", core, ASSISTANT, split="test", samples=2000, **params)
    library = player.library
    goals = library.goals[:: len(library.goals) // 8][:8]
    rng = np.random.default_rng(3)
    human = make_player("greedy", core, HUMAN, epsilon=0.1)
    human.reset(8, rng)
    player.reset(8, rng)
    state = core.reset(8, rng, goals=goals)
    exact, before = np.tile(library.log_prior, (8, 1)), None

    def update(before, after):  # every goal scored, in the rows still playing
        live = ~before.done[:, None]
        return np.where(live, library.log_likelihood(before, np.maximum(after.recent[:, -1].astype(np.int64) - 1, 0)), 0.0)

    for _ in range(10):
        player.act(turn_for(core, player, state, ASSISTANT))  # observes the state
        if before is not None:
            exact += update(before, state)
        before = library.previous.copy()
        core.step(state, np.stack([human.act(turn_for(core, human, state, HUMAN)), np.zeros(8, np.int64)], axis=1))
    player.act(turn_for(core, player, state, ASSISTANT))
    exact += update(before, state)
    exact_posterior = np.exp(exact - exact.max(axis=1, keepdims=True))
    exact_posterior /= exact_posterior.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(library.posterior(), exact_posterior, atol=1e-9)
    assert np.isinf(library.log_joint).any()
