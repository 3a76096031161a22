"""The LM assistant behind the Evaluator protocol, alone and inside the search."""

import numpy as np
import pytest

import envs
from assist.llm.evaluator import LMEvaluator
from assist.models.base import Evaluator, ModelOutput
from assist.search.config import SearchConfig
from assist.search.mcts import MCTS
from envs.core import ASSISTANT, HUMAN

GAMES = [("build", {"preset": "tiny", "chat": True}), ("kitchen", {"variant": "cake_or_pie"})]


def played(core, batch=3, steps=2, seed=0):
    """``batch`` games after ``steps`` random legal steps."""
    rng = np.random.default_rng(seed)
    state = core.reset(batch, rng)
    for _ in range(steps):
        legal = [core.legal_mask(state, agent) for agent in (HUMAN, ASSISTANT)]
        core.step(state, np.stack([np.argmax(np.where(m, rng.random(m.shape), -1), axis=1) for m in legal], axis=1))
    return state


@pytest.fixture(scope="module", params=GAMES, ids=[game for game, _ in GAMES])
def setup(request, tiny_lm_dir):
    game, options = request.param
    core = envs.make_core(game, **options)
    return core, LMEvaluator.load(core, tiny_lm_dir, "cpu"), played(core)


def test_it_is_an_evaluator_with_outputs_of_the_contract_shapes(setup):
    core, evaluator, state = setup
    assert isinstance(evaluator, Evaluator) and evaluator.memory_size == 0
    memory = evaluator.initial_memory(3)
    output, new_memory = evaluator.evaluate(core.observe(state, ASSISTANT), memory, core.legal_mask(state, ASSISTANT))
    assert isinstance(output, ModelOutput) and new_memory.shape == (3, 0)
    F, K = core.goal_shape
    assert output.policy_logits.shape == (3, core.num_actions(ASSISTANT)) and output.value.shape == (3,)
    assert output.goal_logits.shape == (3, F, K) and output.human_logits.shape == (3, core.num_actions(HUMAN))
    assert all(field.dtype == np.float32 for field in output)


def test_illegal_actions_get_minus_infinity_and_legal_ones_their_log_likelihood(setup):
    core, evaluator, state = setup
    legal = core.legal_mask(state, ASSISTANT)
    logits = evaluator.evaluate(core.observe(state, ASSISTANT), evaluator.initial_memory(3), legal)[0].policy_logits
    assert np.all(np.isneginf(logits[~legal])) and np.all(np.isfinite(logits[legal])) and np.all(logits[legal] < 0)
    everything = evaluator.evaluate(core.observe(state, ASSISTANT), evaluator.initial_memory(3))[0].policy_logits
    np.testing.assert_allclose(everything[legal], logits[legal], atol=1e-5)  # scoring fewer actions changes none
    assert np.all(np.exp(everything).sum(axis=1) < 1)  # actions are some of all the texts the LM could write


def test_the_cached_and_uncached_evaluators_agree(setup, tiny_lm_dir):
    core, evaluator, state = setup
    uncached = LMEvaluator(core, evaluator.policy, evaluator.encoder.tokenizer, cached=False)
    observation, legal = core.observe(state, ASSISTANT), core.legal_mask(state, ASSISTANT)
    a, b = (e.evaluate(observation, e.initial_memory(3), legal)[0] for e in (evaluator, uncached))
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=1e-5)


def test_a_game_without_legal_actions_is_refused(setup):
    core, evaluator, state = setup
    legal = core.legal_mask(state, ASSISTANT)
    legal[1] = False
    with pytest.raises(ValueError, match=r"rows \[1\] have none"):
        evaluator.evaluate(core.observe(state, ASSISTANT), evaluator.initial_memory(3), legal)


def test_the_search_runs_with_the_lm_as_its_prior(setup):
    core, evaluator, state = setup
    mcts = MCTS(core, evaluator, SearchConfig(num_simulations=4, max_children=3))
    out = mcts.search(state, evaluator.initial_memory(3), np.random.default_rng(0))
    legal = core.legal_mask(state, ASSISTANT)
    assert legal[np.arange(3), out.action].all() and np.allclose(out.target.sum(axis=1), 1)
    logits = out.root_output.policy_logits
    top = np.argsort(-logits, axis=1)[:, :3]  # the root's children: the LM's 3 likeliest legal actions
    top = np.where(np.isfinite(np.take_along_axis(logits, top, axis=1)), top, -1)
    assert np.array_equal(np.sort(out.slot_actions, axis=1), np.sort(top, axis=1)) and (top >= 0).sum() > 3
