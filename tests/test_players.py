"""Players: every one acts legally on a batch; the scripted humans behave as named."""

import io

import numpy as np
import pytest

import envs.building as build
import envs.kitchen
from assist.players.base import Turn
from assist.players.sampling import argmax_random_ties, sample_legal, sample_softmax
from assist.registry import PLAYERS, make_player
from assist.rollout import play, turn_for
from envs.core import ASSISTANT, HUMAN


@pytest.fixture(scope="module")
def core():
    return build.make_core("tiny", goal_split="test")


TABULAR_ONLY = {"model", "bayes", "exact_search"}
BUILD_ONLY = {"library_bayes"}
# a person; a training run (tests/test_train.py, tests/test_compare.py, tests/test_bc.py); a model directory (tests/test_llm_players.py)
NEEDS_MORE = {"terminal", "assistancezero", "ppo", "trained", "bc", "llm", "llm_text"}
SEAT_ONLY = {"model": HUMAN, "bayes": ASSISTANT, "exact_search": ASSISTANT, "llm": ASSISTANT, "library_bayes": ASSISTANT}
CASES = [
    (game, name, seat)
    for game in ("build", "kitchen")
    for name in sorted(set(PLAYERS) - NEEDS_MORE - (TABULAR_ONLY if game == "build" else BUILD_ONLY))
    for seat in (HUMAN, ASSISTANT)
    if SEAT_ONLY.get(name, seat) == seat
]


@pytest.mark.parametrize("game, name, seat", CASES)
def test_every_player_takes_legal_actions_on_a_batch(core, game, name, seat):
    core = core if game == "build" else envs.kitchen.make_core("cake_or_pie")
    rng = np.random.default_rng(0)
    player = make_player(name, core, seat)
    player.reset(16, rng)
    state = core.reset(16, rng)
    for _ in range(20):
        turn = turn_for(core, player, state, seat)
        actions = player.act(turn)
        assert actions.shape == (16,) and actions.dtype == np.int64
        assert turn.legal[np.arange(16), actions].all()
        joint = np.zeros((16, 2), np.int64)
        joint[:, [HUMAN, ASSISTANT].index(seat)] = actions
        core.step(state, joint)


def test_unknown_player_names_list_the_valid_ones(core):
    with pytest.raises(ValueError, match="valid players: .*greedy"):
        make_player("telepath", core, HUMAN)


def test_unknown_player_parameters_are_refused(core):
    with pytest.raises(ValueError, match="no parameter"):
        make_player("greedy", core, HUMAN, temperature=3)


def test_out_of_range_probabilities_are_refused(core):
    with pytest.raises(ValueError, match="epsilon"):
        make_player("greedy", core, HUMAN, epsilon=1.5)


def episodes(core, human, assistant, n=24, seed=0):
    players = {HUMAN: make_player(human, core, HUMAN), ASSISTANT: make_player(assistant, core, ASSISTANT)}
    return play(core, players, np.arange(n) + 1000 * seed, np.random.default_rng(seed)).metrics


def test_the_greedy_human_completes_goals_alone(core):
    metrics = episodes(core, "greedy", "noop")
    assert metrics["goal_pct"].mean() > 95


def test_the_oracle_saves_the_human_work(core):
    alone, helped = episodes(core, "greedy", "noop"), episodes(core, "greedy", "oracle")
    assert helped["human_actions"].mean() < 0.8 * alone["human_actions"].mean()
    assert helped["goal_pct"].mean() >= alone["goal_pct"].mean() - 1


def test_the_lazy_human_is_slower(core):
    assert episodes(core, "lazy", "noop")["length"].mean() > episodes(core, "greedy", "noop")["length"].mean()


def test_the_corrective_human_breaks_the_assistants_wrong_blocks(core):
    greedy, corrective = episodes(core, "greedy", "random"), episodes(core, "corrective", "random")
    assert corrective["goal_pct"].mean() > greedy["goal_pct"].mean()


def test_a_chatty_human_speaks_hints():
    core = build.make_core("tiny", chat=True)
    human = make_player("greedy", core, HUMAN, chat_prob=1.0)
    result = play(core, {HUMAN: human, ASSISTANT: make_player("random", core, ASSISTANT)}, np.arange(4), np.random.default_rng(0))
    assert (result.actions[..., 0] >= core.first_message).any()


def test_sample_legal_is_uniform_over_legal_actions():
    legal = np.zeros((40000, 130), bool)
    legal[:, [0, 5, 64, 129]] = True
    counts = np.bincount(sample_legal(legal, np.random.default_rng(0)), minlength=130)
    assert set(np.flatnonzero(counts)) == {0, 5, 64, 129}
    assert np.allclose(counts[[0, 5, 64, 129]] / 40000, 0.25, atol=0.01)


def test_sample_legal_refuses_rows_without_legal_actions():
    with pytest.raises(ValueError, match="no legal action"):
        sample_legal(np.zeros((2, 10), bool), np.random.default_rng(0))


def test_argmax_breaks_ties_at_random():
    values = np.array([[1.0, 3.0, 3.0, -np.inf]] * 2000)
    picks = argmax_random_ties(values, np.random.default_rng(0))
    assert set(picks) == {1, 2}


def test_softmax_sampling_respects_the_mask_and_the_temperature():
    values = np.tile([0.0, 1.0, 5.0], (5000, 1))
    legal = np.tile([True, True, False], (5000, 1))
    picks = sample_softmax(values, legal, beta=1.0, rng=np.random.default_rng(0))
    assert 2 not in picks
    assert abs((picks == 1).mean() - np.e / (1 + np.e)) < 0.03


def test_terminal_player_reads_actions_and_explains_bad_lines(core):
    rng = np.random.default_rng(0)
    state = core.reset(1, rng)
    legal = core.legal_mask(state, HUMAN)[0]
    names = core.action_names(HUMAN)
    good = names[int(np.flatnonzero(legal)[-1])]
    bad_illegal = names[int(np.flatnonzero(~legal)[0])]
    out = io.StringIO()
    player = make_player("terminal", core, HUMAN, stdin=io.StringIO(f"dance\n{bad_illegal}\n{good}\n"), stdout=out)
    action = player.act(Turn(core.observe(state, HUMAN), core.legal_mask(state, HUMAN), state))
    assert names[action[0]] == good
    assert "not an action" in out.getvalue() and "not legal now" in out.getvalue() and "goal" in out.getvalue()


def test_terminal_player_takes_an_empty_line_or_end_of_input_as_noop(core):
    state = core.reset(1, np.random.default_rng(0))
    for text in ("\n", ""):
        player = make_player("terminal", core, ASSISTANT, stdin=io.StringIO(text), stdout=io.StringIO())
        assert player.act(Turn(core.observe(state, ASSISTANT), core.legal_mask(state, ASSISTANT), state))[0] == 0
