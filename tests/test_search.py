"""The batched MCTS: tree invariants, goal independence, edge rewards, and the truth on kitchen."""

import numpy as np
import pytest

import envs.building
import envs.kitchen
from assist.models.base import LazyBelief, ModelOutput, softmax
from assist.models.exact import ExactKitchenEvaluator
from assist.players.search import SearchPlayer
from assist.registry import make_player
from assist.rollout import play, turn_for
from assist.search.config import SearchConfig
from assist.search.mcts import MCTS
from assist.search.selection import sample_categorical, sample_from_logits, top_k_slots
from assist.search.tree import NodeArrays
from envs.core import ASSISTANT, HUMAN
from envs.kitchen.solver import solve_bayes


class StubEvaluator:
    """A deterministic model: fixed random logits per action, a value from the step count,
    and a uniform goal belief, or ``belief`` ([1, F, K] probabilities) for every game."""

    def __init__(self, core, memory_size=3, seed=0, belief=None):
        rng = np.random.default_rng(seed)
        self.core = core
        self.memory_size = memory_size
        self.belief = belief
        self.policy = rng.normal(size=core.num_actions(ASSISTANT)).astype(np.float32)
        self.human = rng.normal(size=core.num_actions(HUMAN)).astype(np.float32)

    def initial_memory(self, batch):
        return np.zeros((batch, self.memory_size), np.float32)

    def evaluate(self, observation, memory, legal=None):
        B = len(memory)
        F, K = self.core.goal_shape
        step = np.asarray(next(v for k, v in observation.items() if k in ("step", "t"))).reshape(B, -1)[:, 0]
        output = ModelOutput(
            policy_logits=np.tile(self.policy, (B, 1)),
            value=(0.01 * step).astype(np.float32),
            goal_logits=np.zeros((B, F, K), np.float32) if self.belief is None else np.log(np.broadcast_to(self.belief, (B, F, K)) + 1e-9),
            human_logits=np.tile(self.human, (B, 1)),
        )
        return output, memory + 1


def build_search(**overrides):
    core = envs.building.make_core("tiny")
    config = SearchConfig(**{"num_simulations": 24, "max_children": 6, "human_samples": 4, **overrides})
    return core, MCTS(core, StubEvaluator(core), config)


def test_top_k_slots_keeps_the_best_legal_actions_first():
    logits = np.array([[0.0, 3.0, 1.0, 2.0, 5.0]])
    legal = np.array([[True, True, True, True, False]])
    actions, priors = top_k_slots(logits, legal, 3)
    assert actions.tolist() == [[1, 3, 2]]
    assert np.isclose(priors.sum(), 1) and np.all(np.diff(priors[0]) <= 0)


def test_reward_slots_keep_the_best_rewarded_actions_whatever_their_prior():
    logits = np.array([[5.0, 4.0, 3.0, -9.0, 0.0]])
    rewards = np.array([[0.0, 0.0, 0.0, 0.9, -np.inf]])
    actions, priors = top_k_slots(logits, np.array([[True, True, True, True, False]]), 2, rewards, reward_slots=1)
    assert actions.tolist() == [[3, 0]] and np.isclose(priors.sum(), 1)


def test_an_unvisited_slot_with_a_positive_expected_reward_is_tried():
    core, mcts = build_search(reward_slots=2, num_simulations=6)
    state = core.reset(1, np.random.default_rng(0))
    belief = np.zeros((1, core.V, core.n), np.float32)
    belief[..., 0] = 1.0
    legal_place = np.flatnonzero(core.legal_mask(state, ASSISTANT)[0, 7 : core.first_break])[0]
    p, v = divmod(legal_place, core.V)
    belief[0, v] = 0.0
    belief[0, v, 2 + p] = 1.0  # the model is sure this placement is in the goal

    mcts.evaluator = StubEvaluator(core, belief=belief)
    out = mcts.search(state, mcts.evaluator.initial_memory(1), np.random.default_rng(0))
    assert out.action[0] == 7 + legal_place


@pytest.mark.parametrize("sure", [0.95, 0.7])
def test_a_cautious_root_places_only_what_the_belief_is_sure_of(sure):
    """root_min_reward 0.6 (p >= 0.8 on build): a placement the belief gives 0.95 is
    considered, one it gives 0.7 (worth 2 * 0.7 - 1 = 0.4) is not; moves and the no-op stay."""
    core, mcts = build_search(root_min_reward=0.6, max_children=core_actions(), num_simulations=4)
    state = core.reset(1, np.random.default_rng(0))
    place = np.flatnonzero(core.legal_mask(state, ASSISTANT)[0, 7 : core.first_break])[0]
    p, v = divmod(place, core.V)
    belief = np.zeros((1, core.V, core.n), np.float32)
    belief[..., 0] = 1.0
    belief[0, v, 0], belief[0, v, 2 + p] = 1.0 - sure, sure

    mcts.evaluator = StubEvaluator(core, belief=belief)
    out = mcts.search(state, mcts.evaluator.initial_memory(1), np.random.default_rng(0))
    considered = set(out.slot_actions[0][out.slot_actions[0] >= 0].tolist())
    assert (7 + place in considered) == (sure >= 0.8)
    assert 0 in considered and set(range(1, 7)) & set(np.flatnonzero(core.legal_mask(state, ASSISTANT)[0]).tolist()) <= considered
    assert all(a < 7 or a == 7 + place for a in considered)  # every other placement (p = 0) and break is doubtful


def core_actions() -> int:
    return envs.building.make_core("tiny").num_actions(ASSISTANT)


def test_top_k_slots_pads_when_fewer_actions_are_legal():
    actions, priors = top_k_slots(np.zeros((1, 4)), np.array([[True, False, False, True]]), 3)
    assert sorted(actions[0, :2].tolist()) == [0, 3] and actions[0, 2] == -1 and priors[0, 2] == 0


def test_lazy_belief_is_the_softmax_where_indexed():
    logits = np.random.default_rng(0).normal(size=(3, 5, 4)).astype(np.float32)
    lazy = LazyBelief(logits)
    assert np.allclose(lazy[np.array([0, 2]), np.array([1, 4])], softmax(logits)[[0, 2], [1, 4]])
    assert np.allclose(np.asarray(lazy), softmax(logits))


def test_sample_from_logits_follows_the_masked_softmax():
    logits = np.log(np.array([[0.1, 0.5, 0.4], [0.2, 0.2, 0.6]]))
    legal = np.array([[True, False, True], [True, True, True]])
    draws = sample_from_logits(logits, legal, np.random.default_rng(0).random((len(logits), 20000)))
    assert not (draws[0] == 1).any() and abs((draws[0] == 2).mean() - 0.8) < 0.01
    assert abs((draws[1] == 2).mean() - 0.6) < 0.01


def test_sample_categorical_follows_the_probabilities():
    probs = np.array([[0.1, 0.0, 0.9], [0.0, 1.0, 0.0]])
    draws = sample_categorical(probs, 20000, np.random.default_rng(0))
    assert abs((draws[0] == 2).mean() - 0.9) < 0.01 and not (draws[0] == 1).any() and (draws[1] == 1).all()


@pytest.mark.parametrize("root", ["puct", "gumbel"])
def test_tree_statistics_add_up(root):
    core, mcts = build_search(root=root)
    state = core.reset(5, np.random.default_rng(0))
    out = mcts.search(state, mcts.evaluator.initial_memory(5), np.random.default_rng(1))
    tree = out.tree
    assert np.all(tree.slot_visits[:, 0].sum(axis=1) == 24)
    assert np.all(tree.visits[:, 0] == 25)
    valid = tree.node_valid[:, 1:]
    parents = tree.parent[:, 1:]
    assert np.all(tree.node_valid[np.nonzero(valid)[0], parents[valid]])
    assert np.allclose(out.target.sum(axis=1), 1) and np.all(out.target >= 0)
    legal = core.legal_mask(state, ASSISTANT)
    assert legal[np.arange(5), out.action].all()
    assert np.all(out.memory == 1)  # one root evaluation after the initial memory


def test_node_arrays_gather_rows_across_node_indices():
    arrays = NodeArrays.empty(batch=3, nodes=3)
    arrays.put(np.arange(3), 0, np.array([[0.0], [1.0], [2.0]]))
    arrays.put(np.array([2, 0]), 1, np.array([[12.0], [10.0]]))  # node 1 of games 2 and 0
    assert arrays.take(np.array([0, 2, 1, 2]), np.array([1, 0, 0, 1]))[:, 0].tolist() == [10.0, 2.0, 1.0, 12.0]
    assert arrays.take(np.array([2]), np.array([1]))[:, 0].tolist() == [12.0]


@pytest.mark.parametrize("root", ["puct", "gumbel"])
def test_only_nodes_descended_from_are_built(root):
    """A node's slots and human samples are made at its first descent: the root and every
    non-terminal node a second simulation passed through, no other."""
    core, mcts = build_search(root=root)
    tree = mcts.search(core.reset(5, np.random.default_rng(0)), mcts.evaluator.initial_memory(5), np.random.default_rng(1)).tree
    descended = tree.node_valid & (tree.visits >= 2) & ~tree.terminal
    descended[:, 0] = True
    assert np.array_equal(tree.built, descended) and tree.built[:, 1:].any()
    built = tree.slot_action[tree.built]
    assert np.all(built[:, 0] >= 0)


def test_child_table_matches_each_nodes_edge():
    """Every (slot, human sample) entry points at the child made by that slot and the
    sample's human action, and every child is listed under each sample of its action."""
    core, mcts = build_search()
    tree = mcts.search(core.reset(4, np.random.default_rng(0)), mcts.evaluator.initial_memory(4), np.random.default_rng(2)).tree
    games, nodes = np.nonzero(tree.node_valid[:, 1:])
    nodes += 1
    assert len(nodes) > 0
    parents, slots = tree.parent[games, nodes], tree.parent_slot[games, nodes]
    same = tree.human_samples[games, parents] == tree.human_action[games, nodes][:, None]  # [G, S]
    assert np.all(np.where(same, tree.child[games, parents, slots] == nodes[:, None], True))
    listed = np.nonzero(tree.child >= 0)
    child = tree.child[listed]
    b, n, k, j = listed
    assert np.all(
        (tree.parent[b, child] == n) & (tree.parent_slot[b, child] == k) & (tree.human_action[b, child] == tree.human_samples[b, n, j])
    )


def test_search_never_reads_the_true_goal():
    core, mcts = build_search()
    goals = core.sample_goals(3, np.random.default_rng(7))
    a = core.reset(3, np.random.default_rng(3), goals=goals)
    b = core.reset(3, np.random.default_rng(3), goals=goals[::-1])
    assert not np.array_equal(a.goal, b.goal)
    out_a = mcts.search(a, mcts.evaluator.initial_memory(3), np.random.default_rng(11))
    out_b = mcts.search(b, mcts.evaluator.initial_memory(3), np.random.default_rng(11))
    for field in ("action", "slot_actions", "target", "value"):
        assert np.array_equal(getattr(out_a, field), getattr(out_b, field)), field
    assert np.array_equal(out_a.tree.reward, out_b.tree.reward)


def test_a_root_belief_prices_every_edge_under_the_root_rule():
    """A root belief that is sure of the true goal replaces the model's uniform one at the
    root, and under ``reward_belief="root"`` every edge's reward is the true one."""
    core, mcts = build_search(reward_belief="root", num_simulations=16)
    state = core.reset(3, np.random.default_rng(3))
    seen = []

    def sure(root_output):
        seen.append(root_output)
        return np.where(np.eye(core.n, dtype=bool)[state.goal], 0.0, -30.0).astype(np.float32)

    out = mcts.search(state, mcts.evaluator.initial_memory(3), np.random.default_rng(0), root_belief=sure)
    assert len(seen) == 1 and out.root_output is seen[0] and np.all(out.root_output.goal_logits == 0)
    root = out.tree.goal_logits.take(np.arange(3), np.zeros(3, np.int64))
    assert np.array_equal(root.argmax(axis=2), state.goal)
    tree, games = out.tree, np.arange(3)
    for node in range(1, 17):
        made = games[tree.node_valid[games, node]]
        parents = tree.parent[made, node]
        parent_states = tree.states.take(tree.state_rows(parents, made))
        assistant = tree.slot_action[made, parents, tree.parent_slot[made, node]]
        result = core.step(parent_states, np.stack([tree.human_action[made, node], assistant], axis=1))
        assert np.allclose(tree.reward[made, node], core.true_reward(result.transition, state.goal[made]).sum(axis=1), atol=1e-5)


def test_search_leaves_the_root_state_untouched():
    core, mcts = build_search()
    state = core.reset(2, np.random.default_rng(0))
    before = state.copy()
    mcts.search(state, mcts.evaluator.initial_memory(2), np.random.default_rng(0))
    assert all(np.array_equal(getattr(before, f), getattr(state, f)) for f in ("world", "goal", "pos", "t"))


def kitchen_after_flour_and_sugar():
    """cake_or_pie after the human added sugar (the assistant flour): cake or cookies."""
    core = envs.kitchen.make_core("cake_or_pie")
    state = core.reset(1, np.random.default_rng(0), goals=np.array([[0]]))
    sugar, flour = core.game.human_action_names.index("add sugar"), core.game.assistant_action_names.index("add flour")
    core.step(state, np.array([[sugar, flour]]))
    return core, state


@pytest.mark.parametrize("rule, cake_branch", [("posterior", -0.5), ("human", -0.5), ("paper", 0.5), ("root", -0.5)])
def test_edge_reward_prices_both_seats_under_the_chosen_belief(rule, cake_branch):
    """Adding butter while the human adds eggs (so: cake) is a wrong block: the posterior
    and human-only rules price it at -1 (+0.5 for the human's eggs); the paper's rule
    prices the assistant's part under the 50/50 parent belief, as if butter were fine
    half the time; the root rule prices both parts under that 50/50 belief."""
    core, state = kitchen_after_flour_and_sugar()
    evaluator = ExactKitchenEvaluator(core)
    mcts = MCTS(core, evaluator, SearchConfig(num_simulations=1, reward_belief=rule, dirichlet_fraction=0.0))
    out = mcts.search(state, evaluator.initial_memory(1), np.random.default_rng(0))
    tree = out.tree
    butter = int(np.flatnonzero(tree.slot_action[0, 0] == core.game.assistant_action_names.index("add butter"))[0])
    eggs = core.game.human_action_names.index("add eggs")
    mcts._expand(tree, 1, np.array([0]), np.array([0]), np.array([butter]), np.array([eggs]), np.random.default_rng(0))
    assert tree.reward[0, 1] == pytest.approx(cake_branch)
    assert np.allclose(softmax(tree.goal_logits.take(np.array([0]), np.array([1]))[0, 0]), [1, 0, 0], atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("variant, simulations", [("red_blue", 64), ("cake_or_pie", 200)])
def test_search_over_the_exact_model_reaches_the_bayes_optimum(variant, simulations):
    core = envs.kitchen.make_core(variant)
    optimum = solve_bayes(core.game, core.human_policy).value
    players = {HUMAN: make_player("model", core, HUMAN), ASSISTANT: make_player("exact_search", core, ASSISTANT, simulations=simulations)}
    returns = play(core, players, np.arange(400), np.random.default_rng(0)).metrics["return"]
    assert returns.mean() >= 0.98 * optimum - 2 * returns.std() / np.sqrt(len(returns))


def test_bad_search_settings_are_refused():
    for bad in (dict(num_simulations=0), dict(discount=0.0), dict(root="beam"), dict(reward_belief="prior")):
        with pytest.raises(ValueError):
            SearchConfig(**bad)


def step_into_the_tree(core, out, state, seed=0):
    """Play each game's searched action beside a human action the search sampled under it
    (the first sample with a child); returns the stepped state and the children taken."""
    tree, games = out.tree, np.arange(state.batch_size)
    slot = np.argmax(out.slot_actions == out.action[:, None], axis=1)
    children = tree.child[games, 0, slot]  # [B, S]
    sample = np.argmax(children >= 0, axis=1)
    human = tree.human_samples[games, 0, sample]
    after = state.copy()
    core.step(after, np.stack([human, out.action], axis=1))
    return after, children[games, sample].astype(np.int64)


def test_a_reused_subtree_keeps_the_statistics_under_the_step_taken():
    """The next search's root is the child the game stepped into, with its visits, slot
    statistics and descendants; the new simulations add to them."""
    core, mcts = build_search(reuse_subtree=True, num_simulations=40)
    state = core.reset(4, np.random.default_rng(0))
    first = mcts.search(state, mcts.evaluator.initial_memory(4), np.random.default_rng(1))
    after, children = step_into_the_tree(core, first, state)
    old, games = first.tree, np.arange(4)
    assert np.all(children > 0) and np.all(old.visits[games, children] > 1)
    second = mcts.search(after, first.memory, np.random.default_rng(2), previous=first)
    tree = second.tree
    assert np.array_equal(tree.visits[:, 0], old.visits[games, children] + 40)
    assert np.array_equal(tree.slot_action[:, 0], old.slot_action[games, children])
    carried = tree.slot_visits[:, 0].sum(axis=1) - 40
    assert np.array_equal(carried, old.slot_visits[games, children].sum(axis=1))
    assert np.array_equal(second.memory, old.memory[games, children])
    valid = tree.node_valid.sum(axis=1)
    assert np.all(valid > 41) and tree.num_nodes >= valid.max()
    made = np.nonzero(tree.node_valid[:, 1:])
    b, n = made[0], made[1] + 1
    assert np.all(tree.parent[b, n] < n) and np.all(tree.node_valid[b, tree.parent[b, n]])
    for g, node in zip(b, n):  # every edge still leads from its parent's state by its actions
        parent = tree.parent[g, node]
        stepped = tree.states.take(tree.state_rows(np.array([parent]), np.array([g])))
        assistant = tree.slot_action[g, parent, tree.parent_slot[g, node]]
        core.step(stepped, np.array([[tree.human_action[g, node], assistant]]))
        here = tree.states.take(tree.state_rows(np.array([node]), np.array([g])))
        assert np.array_equal(stepped.world, here.world) and np.array_equal(stepped.pos, here.pos)


def test_a_step_the_tree_never_made_and_a_forgotten_game_start_afresh():
    core, mcts = build_search(reuse_subtree=True)
    state = core.reset(3, np.random.default_rng(0))
    first = mcts.search(state, mcts.evaluator.initial_memory(3), np.random.default_rng(1))
    after = state.copy()
    core.step(after, np.stack([np.zeros(3, np.int64), first.action], axis=1))  # the human idles: no sample does
    assert not (first.tree.human_samples[:, 0] == 0).any()
    fresh = mcts.search(after, first.memory, np.random.default_rng(2), previous=first)
    assert np.all(fresh.tree.visits[:, 0] == 25) and fresh.tree.num_nodes == 25
    stepped, _ = step_into_the_tree(core, first, state)
    kept = mcts.search(stepped, first.memory, np.random.default_rng(2), previous=first, keep=np.array([True, False, True]))
    assert kept.tree.visits[1, 0] == 25 and np.all(kept.tree.visits[[0, 2], 0] > 25)


def test_a_reused_search_never_reads_the_true_goal():
    core, mcts = build_search(reuse_subtree=True)
    goals = core.sample_goals(3, np.random.default_rng(7))
    outputs = []
    for order in (goals, goals[::-1]):
        state = core.reset(3, np.random.default_rng(3), goals=order)
        first = mcts.search(state, mcts.evaluator.initial_memory(3), np.random.default_rng(11))
        after, _ = step_into_the_tree(core, first, state)
        outputs.append(mcts.search(after, first.memory, np.random.default_rng(12), previous=first))
    a, b = outputs
    assert np.all(a.tree.visits[:, 0] > 25)
    for field in ("action", "slot_actions", "target", "value"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert np.array_equal(a.tree.reward, b.tree.reward)


def test_reuse_needs_the_puct_root():
    with pytest.raises(ValueError, match="reuse_subtree needs root='puct'"):
        SearchConfig(reuse_subtree=True, root="gumbel")


def test_a_player_that_reuses_its_trees_does_so_exactly_when_the_step_is_in_them():
    """Beside the greedy human, a reusing player's search starts from the child of the
    last root that the step taken leads to, in the live games where the last tree had
    made it (the root's visits: that child's plus one search's budget), and afresh in the
    others; every action is legal; a reset drops the trees."""
    core = envs.building.make_core("tiny")
    config = SearchConfig(num_simulations=16, max_children=6, human_samples=4, reuse_subtree=True, dirichlet_fraction=0.0)
    player = SearchPlayer(core, ASSISTANT, StubEvaluator(core), config)
    human = make_player("greedy", core, HUMAN, epsilon=0.1)
    rng = np.random.default_rng(0)
    state = core.reset(6, rng)
    player.reset(6, rng)
    human.reset(6, rng)
    games, expected, reused = np.arange(6), None, 0
    for _ in range(8):
        live = ~state.done
        action = player.act(turn_for(core, player, state, ASSISTANT))
        assert core.legal_mask(state, ASSISTANT)[games, action].all()
        tree = player.last.tree
        if expected is not None:
            assert np.array_equal(tree.visits[live, 0], expected[live] + 16)
            reused += int((expected[live] > 1).sum())
        human_action = human.act(turn_for(core, human, state, HUMAN))
        slot = np.argmax(player.last.slot_actions == action[:, None], axis=1)
        children = np.where(tree.human_samples[games, 0] == human_action[:, None], tree.child[games, 0, slot], -1).max(axis=1)
        expected = np.where(children >= 0, tree.visits[games, np.maximum(children, 0)], 1)
        core.step(state, np.stack([human_action, action], axis=1))
    assert reused > 0
    player.reset(6, rng)
    assert player.last is None


def test_a_reused_root_reserves_its_reward_slots_under_the_root_belief():
    """With a root belief and reward slots, a reused root's slots are those a fresh search
    would reserve under that belief; slots whose action stays keep their statistics."""
    core, mcts = build_search(reuse_subtree=True, reward_slots=2, num_simulations=40, max_children=5, human_samples=2, dirichlet_fraction=0.0)
    F, K = core.goal_shape
    peaked = np.random.default_rng(5).normal(size=(1, F, K)).astype(np.float32) * 5

    def belief(output):
        return np.repeat(peaked, len(output.value), axis=0)

    state = core.reset(3, np.random.default_rng(0))
    first = mcts.search(state, mcts.evaluator.initial_memory(3), np.random.default_rng(1), root_belief=belief)
    after, children = step_into_the_tree(core, first, state)
    assert first.tree.built[np.arange(3), children].all()
    reused = mcts.search(after, first.memory, np.random.default_rng(2), root_belief=belief, previous=first)
    fresh = mcts.search(after, first.memory, np.random.default_rng(2), root_belief=belief)
    assert np.array_equal(reused.tree.slot_action[:, 0], fresh.tree.slot_action[:, 0])
    assert np.array_equal(reused.tree.slot_reward[:, 0], fresh.tree.slot_reward[:, 0])
    tree = reused.tree
    assert np.all(tree.visits[:, 0] == 1 + tree.slot_visits[:, 0].sum(axis=1)) and np.all(tree.visits[:, 0] > 41)


def test_the_discount_defaults_to_the_games_own_else_the_papers():
    """``discount`` unset: a kitchen game's own (1 unless its table says otherwise), 0.95
    where the game sets none (build); a set one is kept, and a search runs with it settled."""
    build, kitchen = envs.building.make_core("tiny"), envs.kitchen.make_core("red_blue")
    assert build.discount is None and kitchen.discount == 1.0
    assert SearchConfig().for_game(build).discount == 0.95
    assert SearchConfig().for_game(kitchen).discount == 1.0
    assert SearchConfig(discount=0.9).for_game(kitchen).discount == 0.9
    assert MCTS(build, StubEvaluator(build), SearchConfig()).config.discount == 0.95
