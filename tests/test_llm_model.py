"""The LM on disk: the default model, loading any local directory, and the heads beside it."""

import dataclasses
import json

import pytest
import torch
from transformers import AutoModelForCausalLM

import envs
from assist.llm.heads import Heads, HeadsConfig, heads_for
from assist.llm.lm import TinyLMConfig, create_lm, ensure_default_lm, load_lm
from assist.llm.policy import load_policy
from assist.models.checkpoint import CheckpointError


@pytest.fixture(scope="module")
def core():
    return envs.make_core("build", preset="tiny")


def test_a_saved_model_reloads_with_the_same_outputs(tiny_lm_dir, tmp_path):
    lm, tokenizer = load_lm(tiny_lm_dir)
    lm.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    again, again_tokenizer = load_lm(tmp_path)
    ids = torch.tensor([tokenizer("step 0/60; blocks: none")["input_ids"]])
    with torch.inference_mode():
        torch.testing.assert_close(again(input_ids=ids).logits, lm(input_ids=ids).logits, atol=0, rtol=0)
    assert again_tokenizer.get_vocab() == tokenizer.get_vocab()


def test_creating_a_model_is_seeded(tiny_lm_dir, tmp_path):
    size, tokenizer = TinyLMConfig(hidden=16, layers=1, heads=2, intermediate=32), load_lm(tiny_lm_dir)[1]
    first, second = (load_lm(create_lm(tmp_path / name, size, tokenizer))[0] for name in ("a", "b"))
    assert all(torch.equal(p, q) for p, q in zip(first.parameters(), second.parameters()))


def test_the_default_model_is_created_once_then_reused(tmp_path):
    path = ensure_default_lm(tmp_path / "default")
    written = (path / "model.safetensors").stat().st_mtime_ns
    assert ensure_default_lm(path) == path and (path / "model.safetensors").stat().st_mtime_ns == written
    lm, tokenizer = load_lm(path)
    assert lm.config.vocab_size == len(tokenizer) and lm.config.num_hidden_layers == TinyLMConfig().layers


def test_a_missing_model_directory_names_the_path_and_the_fix(tmp_path, core):
    missing = tmp_path / "no_such_model"
    with pytest.raises(FileNotFoundError, match="no_such_model.*save_pretrained.*default"):
        load_lm(missing)
    with pytest.raises(FileNotFoundError, match="no_such_model"):
        load_policy(core, missing, "cpu")


def test_heads_saved_beside_the_lm_reload_and_the_lm_still_loads(tiny_lm_dir, core, tmp_path):
    policy, tokenizer = load_policy(core, tiny_lm_dir, "cpu")
    torch.nn.init.normal_(policy.heads.goal.weight)  # not the zero initialization, so the reload is tested
    policy.save(tmp_path, tokenizer)
    assert {"config.json", "model.safetensors", "heads.safetensors", "heads.json"} <= {p.name for p in tmp_path.iterdir()}
    plain = AutoModelForCausalLM.from_pretrained(tmp_path)  # the LM alone, as any HF tool reads it
    assert type(plain).__name__ == "LlamaForCausalLM"
    again, _ = load_policy(core, tmp_path, "cpu")
    for name, value in policy.heads.state_dict().items():
        torch.testing.assert_close(again.heads.state_dict()[name], value, atol=0, rtol=0)


def test_fresh_heads_are_neutral_and_sized_for_the_game(core):
    heads = Heads(HeadsConfig.for_core(core, hidden=32))
    value, goal, human = heads(torch.randn(3, 32))
    F, K = core.goal_shape
    assert value.shape == (3,) and goal.shape == (3, F, K) and human.shape == (3, core.num_actions("human_0"))
    assert not value.any() and not goal.any() and not human.any()
    assert not heads(torch.randn(3, 32), torch.randint(0, K, (3, F)))[1].any()  # the current-value offsets start at zero too


def test_the_goal_head_reads_each_factors_current_value_where_the_goal_is_a_target_world(tiny_lm_dir, core):
    import numpy as np

    from assist.llm.encoding import TextEncoder

    policy, tokenizer = load_policy(core, tiny_lm_dir, "cpu")
    with torch.no_grad():
        policy.heads.current.weight.copy_(10 * torch.eye(core.goal_shape[1]))  # "what is there is wanted"
    state = core.reset(2, np.random.default_rng(0))
    state.world[:, 40] = 3  # a block where the goal may want anything
    observation = core.observe(state, "assistant_0")
    assert np.array_equal(core.observed_goal_factors(observation), state.world)
    out, _ = policy.outputs(TextEncoder(core, tokenizer), observation, core.legal_mask(state, "assistant_0"))
    assert (out.goal_logits.argmax(dim=-1).numpy() == state.world).all()
    assert envs.make_core("kitchen", variant="red_blue").observed_goal_factors({}) is None  # its goal is not in the world


def test_heads_of_another_game_are_refused(tiny_lm_dir, core, tmp_path):
    kitchen = envs.make_core("kitchen", variant="red_blue")
    Heads(HeadsConfig.for_core(kitchen, hidden=32)).save(tmp_path)
    with pytest.raises(ValueError, match="heads in .* are for .*kitchen"):
        heads_for(core, tmp_path, hidden=32)
    assert json.loads((tmp_path / "heads.json").read_text())["game"] == "kitchen"


def truncate(path, keep=0.5):
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * keep)])


DAMAGE = {
    "truncated_weights": (lambda d: truncate(d / "model.safetensors"), "the model in {d} (config.json, model.safetensors) cannot be read"),
    "empty_weights": (lambda d: truncate(d / "model.safetensors", 0), "the model in {d} (config.json, model.safetensors) cannot be read"),
    "broken_config": (lambda d: (d / "config.json").write_text("{not json"), "config.json' is not a valid JSON file"),
    "config_of_no_model": (lambda d: (d / "config.json").write_text('{"model_type": "nope"}'), "model type `nope`"),
    "truncated_tokenizer": (lambda d: truncate(d / "tokenizer.json"), "the tokenizer in {d} cannot be read"),
    "truncated_heads": (lambda d: truncate(d / "heads.safetensors"), "{d}/heads.safetensors is unreadable"),
    "broken_heads_config": (lambda d: (d / "heads.json").write_text("{oops"), "{d}/heads.json does not describe heads"),
    "heads_config_without_sizes": (lambda d: (d / "heads.json").write_text('{"hidden": 32}'), "{d}/heads.json does not describe heads"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_model_directory_is_one_checkpoint_error_naming_the_file_and_the_fix(tiny_lm_dir, core, tmp_path, damage):
    policy, tokenizer = load_policy(core, tiny_lm_dir, "cpu")
    policy.save(tmp_path / "model", tokenizer)
    damaged, says = DAMAGE[damage]
    damaged(tmp_path / "model")
    with pytest.raises(CheckpointError) as error:
        load_policy(core, tmp_path / "model", "cpu")
    message = str(error.value)
    assert "\n" not in message and says.format(d=tmp_path / "model") in message, message
    assert "save them again" in message or "write it again with save_pretrained" in message


def test_a_tokenizer_larger_than_the_embedding_is_refused_at_load(tiny_lm_dir, tmp_path):
    lm, tokenizer = load_lm(tiny_lm_dir)
    lm.save_pretrained(tmp_path)
    tokenizer.add_tokens(["▁extra", "▁more"])  # ids past the embedding's last row: an IndexError deep in the forward
    tokenizer.save_pretrained(tmp_path)
    rows = lm.config.vocab_size
    with pytest.raises(CheckpointError, match=rf"has {rows + 2} tokens but the model's embedding has {rows} rows .*resize_token_embeddings"):
        load_lm(tmp_path)


def offsets_at_one_voxel(core, heads, owners):
    """The goal logits [2, K] of two tiny games with dirt at voxel 40, placed by ``owners`` (touched values)."""
    import numpy as np

    state = core.reset(2, np.random.default_rng(0))
    state.world[:, 40], state.touched[:, 40] = 2, owners
    observation = core.observe(state, "assistant_0")
    evidence = [torch.from_numpy(a) for a in (core.observed_goal_factors(observation), core.observed_goal_owners(observation))]
    return heads(torch.zeros(2, 32), *evidence)[1][:, 40]


def test_owner_offsets_tell_a_block_the_assistant_placed_from_one_the_human_placed(core):
    heads = Heads(dataclasses.replace(HeadsConfig.for_core(core, hidden=32), owner_offsets=True))
    K = core.goal_shape[1]
    assert heads.current.weight.shape == (3 * K, K)
    with torch.no_grad():
        heads.current.weight[K : 2 * K] = 10 * torch.eye(K)  # the human's blocks are wanted; the assistant's are no evidence
    goal = offsets_at_one_voxel(core, heads, owners=[1, 2])
    assert goal[0].argmax() == 2 and not goal[1].any()
    with pytest.raises(ValueError, match="pass owner"):
        heads(torch.zeros(1, 32), torch.zeros(1, core.goal_shape[0], dtype=torch.int64))


def test_heads_given_owner_offsets_start_with_the_outputs_they_had(core):
    heads = Heads(HeadsConfig.for_core(core, hidden=32))
    torch.nn.init.normal_(heads.current.weight)
    owned = heads.with_owner_offsets()
    assert owned.config.owner_offsets and owned.with_owner_offsets() is owned and not heads.config.owner_offsets
    torch.testing.assert_close(offsets_at_one_voxel(core, owned, [1, 2]), offsets_at_one_voxel(core, heads, [1, 2]), atol=0, rtol=0)


def test_heads_saved_before_owner_offsets_load_with_one_offset_per_value(core, tmp_path):
    heads = Heads(HeadsConfig.for_core(core, hidden=32))
    torch.nn.init.normal_(heads.current.weight)
    heads.save(tmp_path)
    saved = json.loads((tmp_path / "heads.json").read_text())
    del saved["owner_offsets"]  # heads.json as it was written before the option
    (tmp_path / "heads.json").write_text(json.dumps(saved))
    again = heads_for(core, tmp_path, hidden=32)
    assert not again.config.owner_offsets and again.current.weight.shape == heads.current.weight.shape
    torch.testing.assert_close(offsets_at_one_voxel(core, again, [1, 2]), offsets_at_one_voxel(core, heads, [1, 2]), atol=0, rtol=0)
    torch.testing.assert_close(offsets_at_one_voxel(core, again, [1, 2])[0], offsets_at_one_voxel(core, again, [1, 2])[1], atol=0, rtol=0)
