"""The policy-value networks (docs/design.md, contract 5): shapes, the flat action layout, memory,
no goal input, the numpy evaluator, training, the factory and checkpoints. CPU only."""

import dataclasses
import warnings

import numpy as np
import pytest
import torch

import envs.building
import envs.kitchen
from assist.models.base import Evaluator, ModelOutput
from assist.models.checkpoint import load_weights, save_weights
from assist.models.composite import PriorAndModel
from assist.models.conv import BuildNet, flat_logits
from assist.models.factory import make_model
from assist.models.mlp import KitchenNet
from assist.models.torch_evaluator import TorchEvaluator, resolve_device
from envs.building.blocks import BLOCK_NAMES, FIRST_PLACEABLE
from envs.building.core import FIRST_PLACE
from envs.core import ASSISTANT, HUMAN

KITCHEN_VARIANTS = ["red_blue", "meal_choice", "cake_or_pie"]


def build_core(preset="tiny", **overrides):
    return envs.building.make_core(preset, **overrides)


def observe(core, batch=3, seed=0, agent=ASSISTANT, steps=2):
    """The ``agent``'s observation of ``batch`` games after ``steps`` random legal steps."""
    rng = np.random.default_rng(seed)
    state = core.reset(batch, rng)
    for _ in range(steps):
        actions = [[rng.choice(np.flatnonzero(row)) for row in core.legal_mask(state, agent)] for agent in (HUMAN, ASSISTANT)]
        core.step(state, np.array(actions).T)
    return core.observe(state, agent)


def as_tensors(observation):
    return {key: torch.from_numpy(value) for key, value in observation.items()}


def net_and_evaluator(core, preset="tiny", **options):
    torch.manual_seed(0)
    net = make_model(core, preset=preset, **options)
    return net, TorchEvaluator(net, device="cpu")


def check_output(output, batch, policy, goal, human):
    assert isinstance(output, ModelOutput)
    expected = {"policy_logits": (batch, policy), "value": (batch,), "goal_logits": (batch,) + goal, "human_logits": (batch, human)}
    for name, shape in expected.items():
        field = getattr(output, name)
        assert field.shape == shape, name
        assert field.dtype == np.float32, name
        assert np.all(np.isfinite(field)), name


# ------------------------------------------------------------------ shapes


@pytest.mark.parametrize("game, preset, chat", [("tiny", "tiny", False), ("tiny", "tiny", True), ("small", "small", False)])
def test_build_net_outputs_have_the_contract_shapes_and_dtypes(game, preset, chat):
    core = build_core(game, chat=chat)
    _, evaluator = net_and_evaluator(core, preset)
    output, memory = evaluator.evaluate(observe(core), evaluator.initial_memory(3))
    check_output(output, 3, core.num_actions(ASSISTANT), (core.V, core.n), core.num_actions(HUMAN))
    assert memory.shape == (3, evaluator.memory_size) and memory.dtype == np.float32 and evaluator.memory_size > 0


def test_the_kitchen_net_reads_a_games_state_inputs_instead_of_one_hot_ids():
    """With ``state_inputs`` [S, E] the input is E wide per state slot, not S; with the
    identity as inputs it sees what the one-hot ids show (the same columns, the recent
    slots' "no state yet" flag moved last), so the two nets compute the same function."""
    core = envs.kitchen.make_core("red_blue")
    game = core.game
    S, E = game.num_states, 3
    coded = envs.kitchen.KitchenCore(dataclasses.replace(game, state_inputs=np.random.default_rng(0).normal(size=(S, E))))
    torch.manual_seed(0)
    net = KitchenNet(coded)
    assert net.trunk[0].in_features == E + (game.horizon + 1) + coded.history * (E + 1 + game.num_human_actions + 1)
    assert net.state_table.shape == (S + 1, E + 1)  # one row per state (and 'none'), never an [S, S] table
    obs = {k: torch.as_tensor(v) for k, v in observe(coded, steps=2).items()}
    output, _ = net(obs, torch.zeros(3, net.memory_size))
    assert torch.isfinite(output.value).all() and output.policy_logits.shape == (3, game.num_assistant_actions)
    identity = envs.kitchen.KitchenCore(dataclasses.replace(game, state_inputs=np.eye(S)))
    plain, eye = KitchenNet(core), KitchenNet(identity)
    obs = {k: torch.as_tensor(v) for k, v in observe(core, steps=2).items()}
    h = core.history
    plain_x, eye_x = plain.encode(obs), eye.encode(obs)
    head = S + game.horizon + 1
    assert torch.equal(plain_x[:, :head], eye_x[:, :head])
    recent_plain = plain_x[:, head : head + h * (S + 1)].view(3, h, S + 1)
    recent_eye = eye_x[:, head : head + h * (S + 1)].view(3, h, S + 1)
    assert torch.equal(recent_plain, torch.cat([recent_eye[..., -1:], recent_eye[..., :-1]], dim=-1))
    assert torch.equal(plain_x[:, head + h * (S + 1) :], eye_x[:, head + h * (S + 1) :])


def test_prior_and_model_take_the_policy_of_one_and_the_rest_of_the_other():
    core = envs.kitchen.make_core("red_blue")
    (_, prior), (_, model) = net_and_evaluator(core), net_and_evaluator(core, memory=False)
    both = PriorAndModel(prior, model)
    observation = observe(core, steps=1)
    memory = np.random.default_rng(0).normal(size=(3, prior.memory_size)).astype(np.float32)
    out, new_memory = both.evaluate(observation, np.concatenate([memory, model.initial_memory(3)], axis=1))
    (prior_out, prior_memory), (model_out, _) = prior.evaluate(observation, memory), model.evaluate(observation, model.initial_memory(3))
    assert both.memory_size == prior.memory_size and both.initial_memory(2).shape == (2, prior.memory_size)
    assert np.array_equal(out.policy_logits, prior_out.policy_logits) and np.array_equal(new_memory, prior_memory)
    for field in ("value", "goal_logits", "human_logits"):
        assert np.array_equal(getattr(out, field), getattr(model_out, field))


@pytest.mark.parametrize("variant", KITCHEN_VARIANTS)
def test_kitchen_net_outputs_have_the_contract_shapes_and_dtypes(variant):
    core = envs.kitchen.make_core(variant)
    _, evaluator = net_and_evaluator(core)
    output, memory = evaluator.evaluate(observe(core, steps=1), evaluator.initial_memory(3))
    K = core.goal_shape[1]
    check_output(output, 3, core.num_actions(ASSISTANT), (1, K), core.num_actions(HUMAN))
    assert memory.shape == (3, evaluator.memory_size)


def test_the_evaluator_satisfies_the_evaluator_protocol():
    assert isinstance(net_and_evaluator(build_core())[1], Evaluator)


# ------------------------------------------------------------------ memory


@pytest.mark.parametrize("core", [build_core(), envs.kitchen.make_core("cake_or_pie")], ids=["build", "kitchen"])
def test_a_memoryless_net_runs_episodes_with_an_empty_memory(core):
    net, evaluator = net_and_evaluator(core, memory=False)
    assert net.memory_size == 0 and evaluator.memory_size == 0 and net.gru is None
    memory = evaluator.initial_memory(3)
    for seed in range(3):
        output, memory = evaluator.evaluate(observe(core, seed=seed, steps=1), memory)
        assert memory.shape == (3, 0)
    assert output.policy_logits.shape == (3, core.num_actions(ASSISTANT))


def with_last_human_action(observation, key, action):
    changed = {k: v.copy() for k, v in observation.items()}
    changed[key][:, -1] = action
    return changed


def test_the_build_memory_changes_with_the_human_action_observed():
    core = build_core()
    _, evaluator = net_and_evaluator(core)
    observation = observe(core)
    place = 7 + 1  # "place <first block> at voxel 1", as id + 1
    _, a = evaluator.evaluate(with_last_human_action(observation, "human_actions", 1), evaluator.initial_memory(3))
    _, b = evaluator.evaluate(with_last_human_action(observation, "human_actions", place + 1), evaluator.initial_memory(3))
    assert not np.allclose(a, b)


def test_the_kitchen_memory_changes_with_the_human_action_observed():
    core = envs.kitchen.make_core("cake_or_pie")
    _, evaluator = net_and_evaluator(core)
    observation = observe(core, steps=1)
    _, a = evaluator.evaluate(with_last_human_action(observation, "recent_human_actions", 0), evaluator.initial_memory(3))
    _, b = evaluator.evaluate(with_last_human_action(observation, "recent_human_actions", 1), evaluator.initial_memory(3))
    assert not np.allclose(a, b)


def test_the_memory_carries_earlier_observations_forward():
    core = build_core()
    _, evaluator = net_and_evaluator(core)
    observation = observe(core)
    first, _ = evaluator.evaluate(observation, evaluator.initial_memory(3))
    _, memory = evaluator.evaluate(observation, evaluator.initial_memory(3))
    second, _ = evaluator.evaluate(observation, memory)
    assert not np.allclose(first.goal_logits, second.goal_logits)


def test_a_memoryless_build_net_still_reads_the_recent_human_actions():
    core = build_core()
    _, evaluator = net_and_evaluator(core, memory=False)
    observation = observe(core)
    a, _ = evaluator.evaluate(with_last_human_action(observation, "human_actions", 1), evaluator.initial_memory(3))
    b, _ = evaluator.evaluate(with_last_human_action(observation, "human_actions", 9), evaluator.initial_memory(3))
    assert not np.allclose(a.goal_logits, b.goal_logits)


# ------------------------------------------------------------------ the flat action layout


def coded_voxel_logits(core, batch, channels):
    """[batch, channels, W, H, D]: channel c at voxel v holds 1000 c + v."""
    code = 1000 * np.arange(channels)[:, None] + np.arange(core.V)[None, :]
    return torch.tensor(np.broadcast_to(code, (batch, channels, core.V)).reshape((batch, channels) + core.shape), dtype=torch.float32)


def expected_codes(core, agent, first_channel=0):
    """{flat id: 1000 channel + voxel} for every place / break action, from ``action_names``."""
    expected = {}
    for i, name in enumerate(core.action_names(agent)):
        words = name.split()
        if words[0] in ("place", "break"):
            v = int(np.ravel_multi_index(tuple(int(w) for w in words[-3:]), core.shape))
            channel = BLOCK_NAMES.index(words[1]) - FIRST_PLACEABLE if words[0] == "place" else core.P
            expected[i] = 1000 * (first_channel + channel) + v
    return expected


def test_flat_logits_put_each_voxel_logit_at_its_actions_flat_index():
    core = build_core()
    logits = flat_logits(torch.zeros(1, 7), coded_voxel_logits(core, 1, core.P + 1))
    assert logits.shape == (1, core.num_actions(ASSISTANT))
    expected = expected_codes(core, ASSISTANT)
    assert len(expected) == (core.P + 1) * core.V
    assert all(logits[0, i].item() == code for i, code in expected.items())


@pytest.mark.parametrize("chat", [False, True])
def test_the_nets_voxel_heads_land_at_the_games_flat_indices(chat):
    core = build_core(chat=chat)
    net, _ = net_and_evaluator(core)
    P1 = core.P + 1
    coded = coded_voxel_logits(core, 2, 2 * P1 + core.n)
    net.voxel_heads.register_forward_hook(lambda module, inputs, output: coded)
    net.eval()
    output, _ = net(as_tensors(observe(core, batch=2)), torch.zeros(2, net.memory_size))
    for logits, agent, first_channel in [(output.policy_logits, ASSISTANT, 0), (output.human_logits, HUMAN, P1)]:
        codes = expected_codes(core, agent, first_channel)
        index = torch.tensor(list(codes))
        assert torch.equal(logits[:, index], torch.tensor(list(codes.values()), dtype=torch.float32).expand(2, -1))
    goal_codes = 1000 * (2 * P1 + np.arange(core.n))[None, :] + np.arange(core.V)[:, None]  # [V, n]
    assert np.array_equal(output.goal_logits[0].numpy(), goal_codes)


# ------------------------------------------------------------------ no goal input


def test_the_build_net_ignores_a_goal_key():
    core = build_core()
    _, evaluator = net_and_evaluator(core)
    observation = observe(core)
    goal = np.random.default_rng(1).integers(0, core.n, (3, core.V), dtype=np.uint8)
    plain, _ = evaluator.evaluate(observation, evaluator.initial_memory(3))
    with_goal, _ = evaluator.evaluate({**observation, "goal": goal}, evaluator.initial_memory(3))
    for a, b in zip(plain, with_goal):
        np.testing.assert_array_equal(a, b)


def test_the_kitchen_net_ignores_a_goal_key():
    core = envs.kitchen.make_core("cake_or_pie")
    _, evaluator = net_and_evaluator(core)
    observation = observe(core, steps=1)
    plain, _ = evaluator.evaluate(observation, evaluator.initial_memory(3))
    with_goal, _ = evaluator.evaluate({**observation, "goal": np.array([0, 1, 2])}, evaluator.initial_memory(3))
    for a, b in zip(plain, with_goal):
        np.testing.assert_array_equal(a, b)


def test_the_build_net_rejects_the_humans_observation_which_holds_the_goal():
    core = build_core()
    net, _ = net_and_evaluator(core)
    human = {**observe(core, agent=HUMAN), "human_actions": np.zeros((3, core.config.history), np.int32)}
    with pytest.raises(ValueError, match="human's observation"):
        net(as_tensors(human), torch.zeros(3, net.memory_size))


def test_the_kitchen_net_rejects_the_humans_observation():
    core = envs.kitchen.make_core("cake_or_pie")
    net, _ = net_and_evaluator(core)
    with pytest.raises(ValueError, match="recent_states"):
        net(as_tensors(observe(core, agent=HUMAN, steps=0)), torch.zeros(3, net.memory_size))


# ------------------------------------------------------------------ the evaluator


@pytest.mark.parametrize("core", [build_core(chat=True), envs.kitchen.make_core("meal_choice")], ids=["build", "kitchen"])
def test_the_evaluator_round_trip_matches_the_modules_forward(core):
    net, evaluator = net_and_evaluator(core)
    observation = observe(core, batch=5, steps=1)
    memory = np.random.default_rng(0).normal(size=(5, net.memory_size)).astype(np.float32)
    for array in observation.values():
        array.flags.writeable = False  # read-only inputs are copied, not warned about
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        output, new_memory = evaluator.evaluate(observation, memory)
    net.eval()
    with torch.no_grad():
        expected, expected_memory = net(as_tensors({k: v.copy() for k, v in observation.items()}), torch.from_numpy(memory))
    for got, want in zip(output, expected):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(new_memory, expected_memory.numpy(), rtol=1e-5, atol=1e-5)


def test_the_evaluator_handles_one_game_and_chunks_large_batches_consistently():
    core = build_core()
    net, whole = net_and_evaluator(core)
    chunked = TorchEvaluator(net, device="cpu", max_batch=16)
    observation = observe(core, batch=40)
    a, memory_a = whole.evaluate(observation, whole.initial_memory(40))
    b, memory_b = chunked.evaluate(observation, chunked.initial_memory(40))
    for x, y in zip(a + (memory_a,), b + (memory_b,)):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5)
    one, _ = whole.evaluate({k: v[:1] for k, v in observation.items()}, whole.initial_memory(1))
    np.testing.assert_allclose(one.policy_logits, a.policy_logits[:1], rtol=1e-5, atol=1e-5)


def test_the_evaluator_rejects_a_memory_of_the_wrong_shape():
    core = build_core()
    _, evaluator = net_and_evaluator(core)
    with pytest.raises(ValueError, match="initial_memory"):
        evaluator.evaluate(observe(core), evaluator.initial_memory(2))


def test_auto_device_is_cuda_exactly_when_cuda_is_available():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("abacus")


# ------------------------------------------------------------------ size and training


def test_the_paper_preset_has_about_five_million_parameters():
    net = make_model(envs.building.make_core("mbag"), preset="paper")
    count = sum(p.numel() for p in net.parameters())
    print(f"paper preset on the mbag game: {count:,} parameters")
    assert 3.5e6 <= count <= 7e6


@pytest.mark.parametrize(
    "core, options",
    [(build_core(chat=True), {}), (build_core(chat=True), dict(positions=True, line_context=True)), (envs.kitchen.make_core("cake_or_pie"), {})],
    ids=["build", "build-positions-lines", "kitchen"],
)
def test_a_gradient_step_reaches_and_changes_every_parameter(core, options):
    net, _ = net_and_evaluator(core, **options)
    net.train()
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    observation = as_tensors(observe(core, batch=4, steps=1))
    output, memory = net(observation, torch.randn(4, net.memory_size))
    loss = sum(field.square().mean() for field in output) + memory.square().mean()
    loss.backward()
    assert [name for name, p in net.named_parameters() if p.grad is None] == []
    torch.optim.SGD(net.parameters(), lr=0.1).step()
    changed = [name for name, p in net.named_parameters() if not torch.equal(p, before[name])]
    assert len(changed) > 0.9 * len(before)


# ------------------------------------------------------------------ the factory


def test_auto_picks_the_conv_net_for_build_and_the_mlp_for_kitchen():
    assert isinstance(make_model(build_core(), preset="tiny"), BuildNet)
    assert isinstance(make_model(envs.kitchen.make_core("red_blue"), preset="tiny"), KitchenNet)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(name="transformer"), "valid models: \\['auto', 'conv', 'mlp'\\]"),
        (dict(name="mlp"), "is for 'kitchen' cores"),
        (dict(preset="huge"), "valid presets: \\['tiny', 'small', 'paper'\\]"),
        (dict(chanels=8), "valid options"),
        (dict(channels=0), "channels=0 must be an int >= 1"),
        (dict(kernel=4), "kernel=4 must be odd"),
        (dict(memory_size=-1), "memory_size=-1"),
        (dict(balanced_prior="yes"), "balanced_prior='yes' must be true or false"),
        (dict(line_context=1), "line_context=1 must be true or false"),
    ],
)
def test_make_model_rejects_bad_choices_with_the_valid_ones(options, message):
    with pytest.raises(ValueError, match=message):
        make_model(build_core(), **options)


def test_overrides_and_memory_off_reach_the_net():
    net = make_model(build_core(), preset="tiny", memory=False, channels=8, memory_size=99)
    assert net.config.channels == 8 and net.memory_size == 0


@pytest.mark.parametrize("balanced, waits", [(True, True), (False, False)])
def test_a_balanced_prior_starts_the_untrained_policy_waiting_rather_than_building(balanced, waits):
    core = build_core("small")
    net, evaluator = net_and_evaluator(core, preset="small", balanced_prior=balanced)
    rng = np.random.default_rng(0)
    state = core.reset(8, rng)
    legal = core.legal_mask(state, ASSISTANT)
    output, _ = evaluator.evaluate(core.observe(state, ASSISTANT), evaluator.initial_memory(8))
    logits = np.where(legal, output.policy_logits, -np.inf)
    prior = np.exp(logits - logits.max(axis=1, keepdims=True))
    prior /= prior.sum(axis=1, keepdims=True)
    waiting = prior[:, :FIRST_PLACE].sum(axis=1)  # the no-op and the moves
    assert (waiting > 0.5).all() == waits and (waiting < 0.5).all() != waits


def empty_world_goal_logits(core, net, blocks=()):
    """The net's goal logits [W, H, D, n] for one game whose world is all air but ``blocks``
    ((x, y, z) voxels holding the first placeable block)."""
    observation = observe(core, batch=1, steps=0)
    observation["world"][:] = 0
    for x, y, z in blocks:
        observation["world"][0, 0, x, y, z] = FIRST_PLACEABLE
    net.eval()
    with torch.no_grad():
        output, _ = net(as_tensors(observation), torch.zeros(1, net.memory_size))
    return output.goal_logits[0].reshape(*core.shape, -1)


@pytest.mark.parametrize("positions", [False, True])
def test_positions_tell_apart_voxels_whose_surroundings_look_the_same(positions):
    core = build_core("small")  # 7 x 6 x 7; the tiny trunk reaches 2 voxels
    net, _ = net_and_evaluator(core, positions=positions)
    logits = empty_world_goal_logits(core, net)
    interior = logits[2:5, 2:4, 2:5].reshape(-1, logits.shape[-1])  # voxels the trunk sees as all air
    assert torch.allclose(interior, interior[:1], atol=1e-5) != positions


@pytest.mark.parametrize("line_context", [False, True])
def test_line_context_lets_a_voxel_see_a_block_on_its_axis_line_beyond_the_trunks_reach(line_context):
    core = build_core("small")
    net, _ = net_and_evaluator(core, line_context=line_context)
    change = empty_world_goal_logits(core, net, blocks=[(0, 3, 3)]) - empty_world_goal_logits(core, net)
    # (5, 3, 3) shares the block's x row, (5, 2, 2) does not; both are 5 voxels away and
    # see the same air around them, so only the line context can tell them apart
    assert torch.allclose(change[5, 3, 3], change[5, 2, 2], atol=1e-5) != line_context


def test_default_nets_have_no_position_or_line_parameters_so_older_weights_load():
    names = [name for name, _ in make_model(build_core(), preset="tiny").named_parameters()]
    assert not [name for name in names if name.startswith(("encoder.axes", "lines"))]


# ------------------------------------------------------------------ checkpoints


def outputs(net, core):
    net.eval()
    with torch.no_grad():
        output, memory = net(as_tensors(observe(core)), torch.ones(3, net.memory_size))
    return output + (memory,)


def test_save_and_load_reproduce_the_outputs(tmp_path):
    core = build_core()
    net, _ = net_and_evaluator(core)
    net.train()
    net(as_tensors(observe(core)), torch.zeros(3, net.memory_size))  # move the batch-norm statistics
    save_weights(tmp_path / "net.safetensors", net)
    torch.manual_seed(1)
    other = make_model(core, preset="tiny")
    load_weights(tmp_path / "net.safetensors", other)
    for a, b in zip(outputs(net, core), outputs(other, core)):
        assert torch.equal(a, b)
    assert [p.name for p in tmp_path.iterdir()] == ["net.safetensors"]  # no temporary file left


def test_loading_a_checkpoint_of_another_preset_names_the_file(tmp_path):
    core = build_core()
    path = tmp_path / "tiny.safetensors"
    save_weights(path, make_model(core, preset="tiny"))
    with pytest.raises(ValueError, match=f"{path}.*does not fit this BuildNet.*saved from BuildNet"):
        load_weights(path, make_model(core, preset="small"))


def test_loading_a_checkpoint_of_another_kitchen_variant_names_the_file(tmp_path):
    path = tmp_path / "red_blue.safetensors"
    save_weights(path, make_model(envs.kitchen.make_core("red_blue")))
    with pytest.raises(ValueError, match=f"{path}.*shapes differ"):
        load_weights(path, make_model(envs.kitchen.make_core("cake_or_pie")))


def test_loading_a_truncated_checkpoint_names_the_file(tmp_path):
    path = tmp_path / "net.safetensors"
    save_weights(path, make_model(build_core(), preset="tiny"))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match=f"{path} is not a readable safetensors checkpoint"):
        load_weights(path, make_model(build_core(), preset="tiny"))
