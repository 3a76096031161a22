"""The LM players by name: scoring (argmax, sampled, searched) and free text."""

import logging

import numpy as np
import pytest
import torch

import envs
from assist.llm.encoding import TextEncoder
from assist.llm.policy import load_policy
from assist.players.freetext import FreeTextPlayer
from assist.registry import make_player
from assist.rollout import turn_for
from envs.core import ASSISTANT, HUMAN, ActionParseError


@pytest.fixture(scope="module")
def core():
    return envs.make_core("build", preset="tiny")


def play_turns(core, player, seat, batch=4, steps=3, seed=0):
    """Actions of ``player`` over ``steps`` turns (the other seat waits); checks they are legal."""
    rng = np.random.default_rng(seed)
    player.reset(batch, rng)
    state = core.reset(batch, rng)
    taken = []
    for _ in range(steps):
        turn = turn_for(core, player, state, seat)
        actions = player.act(turn)
        assert actions.shape == (batch,) and actions.dtype == np.int64 and turn.legal[np.arange(batch), actions].all()
        joint = np.zeros((batch, 2), np.int64)
        joint[:, [HUMAN, ASSISTANT].index(seat)] = actions
        core.step(state, joint)
        taken.append(actions)
    return np.stack(taken)


@pytest.mark.parametrize("params", [{}, {"temperature": 1.5}, {"simulations": 3}], ids=["argmax", "sampled", "search"])
@pytest.mark.parametrize("game", ["build", "kitchen"])
def test_the_llm_assistant_takes_legal_actions(tiny_lm_dir, core, game, params):
    core = core if game == "build" else envs.make_core("kitchen", variant="cake_or_pie")
    player = make_player("llm", core, ASSISTANT, path=str(tiny_lm_dir), device="cpu", **params)
    play_turns(core, player, ASSISTANT)


def test_the_llm_search_takes_search_settings_and_refuses_unknown_ones(tiny_lm_dir, core):
    player = make_player("llm", core, ASSISTANT, path=str(tiny_lm_dir), device="cpu", simulations=3, search={"reward_belief": "root", "reward_slots": 2})
    config = player.mcts.config
    assert (config.reward_belief, config.reward_slots, config.num_simulations) == ("root", 2, 3)
    assert config.dirichlet_fraction == 0.0  # an evaluation: no root noise
    with pytest.raises(ValueError, match=r"search settings \['depth'\] do not exist"):
        make_player("llm", core, ASSISTANT, path=str(tiny_lm_dir), simulations=3, search={"depth": 2})


def test_the_llm_assistant_refuses_the_human_seat(tiny_lm_dir, core):
    with pytest.raises(ValueError, match="assistant_0 seat"):
        make_player("llm", core, HUMAN, path=str(tiny_lm_dir))


@pytest.mark.parametrize("seat", [HUMAN, ASSISTANT])
def test_untrained_free_text_answers_are_counted_logged_and_become_noops(tiny_lm_dir, core, seat, caplog):
    player = make_player("llm_text", core, seat, path=str(tiny_lm_dir), device="cpu", max_new_tokens=4)
    with caplog.at_level(logging.INFO, logger="assist.players.freetext"):
        actions = play_turns(core, player, seat, batch=4, steps=2)
    valid = player.answers - player.unparseable - player.illegal
    assert player.answers == 8 and player.unparseable > 0 and len(caplog.records) == player.unparseable + player.illegal
    assert (actions != 0).sum() <= valid  # every invalid answer was played as the no-op
    assert "is not an action" in caplog.text


def test_free_text_answers_that_name_legal_actions_are_played(tiny_lm_dir, core):
    """Teach the tiny LM to answer ``move +y`` (legal at reset: the players stand on the floor),
    then the free-text player must write, parse and play it, and the scoring player choose it."""
    policy, tokenizer = load_policy(core, tiny_lm_dir, "cpu")
    encoder = TextEncoder(core, tokenizer)
    target = encoder.codec.parse(ASSISTANT, "move +y")
    state = core.reset(4, np.random.default_rng(0))
    prompts, candidates, pairs = encoder.batch(core.observe(state, ASSISTANT), core.legal_mask(state, ASSISTANT))
    chosen = torch.from_numpy(pairs[:, 1] == target)
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-2)
    policy.train()
    for _ in range(30):  # maximize the likelihood of the target text over the whole vocabulary
        loss = -policy(prompts, candidates).log_prob[chosen].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    policy.eval()
    player = FreeTextPlayer(core, ASSISTANT, policy.lm, tokenizer, max_new_tokens=8)
    actions = play_turns(core, player, ASSISTANT, batch=4, steps=1)
    assert player.last_answers == ["move +y"] * 4 and np.all(actions == target)
    assert player.unparseable == player.illegal == 0


def test_a_free_text_answer_that_writes_on_after_its_action_is_read_up_to_the_action(tiny_lm_dir, core):
    player = make_player("llm_text", core, ASSISTANT, path=str(tiny_lm_dir), device="cpu")
    codec = player.encoder.codec
    assert player.read("move +y") == (codec.parse(ASSISTANT, "move +y"), False)
    assert player.read("place dirt 3 2 2 2 2 2") == (codec.parse(ASSISTANT, "place dirt 3 2 2"), True)
    with pytest.raises(ActionParseError, match="'place dirt' is not an action"):
        player.read("place dirt")
