"""The LM pipeline with other decoders than the default Llama (GPT-2, Qwen2) and byte-level
BPE tokenizers built locally: candidate ids are the tokens of the prompt's text followed
by the action's, the cached scores equal the full ones, a saved model scores the same after
loading, and the stages and the evaluation run on them end to end."""

import json

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from safetensors.torch import load_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

import envs
from assist.cli import CONFIG_DIR
from assist.cli.evaluate import run as evaluate
from assist.cli.train import run
from assist.llm.encoding import TextEncoder, action_ids
from assist.llm.evaluator import LMEvaluator
from assist.llm.lm import TinyLMConfig, create_lm, load_lm
from assist.llm.policy import load_policy
from assist.llm.scoring import score_cached, score_uncached
from assist.llm.tokenizer import SEPARATOR, build_bpe_tokenizer, core_texts
from envs.core import ASSISTANT, HUMAN
from tests.support import compose_train
from tests.test_llm_pipeline import COMMON, STAGES

TINY = {"hidden": 32, "layers": 1, "heads": 2, "intermediate": 64}
MODEL_CLASS = {"gpt2": "GPT2LMHeadModel", "qwen2": "Qwen2ForCausalLM"}


@pytest.fixture(scope="module")
def bpe():
    torch.set_num_threads(1)
    return build_bpe_tokenizer()


@pytest.fixture(scope="module", params=["gpt2", "qwen2"])
def lm_dir(request, bpe, tmp_path_factory):
    """A tiny saved decoder of each architecture with the byte-level BPE tokenizer."""
    return create_lm(tmp_path_factory.mktemp(request.param) / "lm", TinyLMConfig(arch=request.param, tokenizer="bpe", **TINY), bpe)


@pytest.fixture(scope="module")
def core():
    return envs.make_core("build", preset="tiny")


def game_batch(core, batch=3, steps=(0, 1, 3), seed=0):
    """Assistant observations and legal masks of ``batch`` games after different numbers of
    random steps (so the prompts differ in length, and left padding is exercised)."""
    rng = np.random.default_rng(seed)
    observations, legal = [], []
    for n in steps[:batch]:
        state = core.reset(1, rng)
        for _ in range(n):
            masks = [core.legal_mask(state, agent) for agent in (HUMAN, ASSISTANT)]
            core.step(state, np.stack([np.argmax(np.where(m, rng.random(m.shape), -1.0), axis=1) for m in masks], axis=1))
        observations.append(core.observe(state, ASSISTANT))
        legal.append(core.legal_mask(state, ASSISTANT))
    return {key: np.concatenate([o[key] for o in observations]) for key in observations[0]}, np.concatenate(legal)


def sentencepiece_style(split_when_trained: bool) -> PreTrainedTokenizerFast:
    """A BPE over ``▁``-marked text that encodes as transformers 5 reads Llama's tokenizer
    (Metaspace, no split into words: merges may span the whole text), trained with words
    split (as SentencePiece's pieces are, so no merge spans a space) or not."""
    core = envs.make_core("build", preset="tiny")
    names = core.action_names(ASSISTANT)
    texts = [text + SEPARATOR + " " + names[i % len(names)] for i, text in enumerate(core_texts(core, batch=2, steps=10))]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first", split=split_when_trained)
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=["</s>"], show_progress=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first", split=False)
    tokenizer.decoder = decoders.Metaspace(prepend_scheme="first", split=False)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="</s>", pad_token="</s>")


def test_the_bpe_tokenizer_reloads_and_spells_any_text_exactly(bpe, tmp_path):
    bpe.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    text = "step 3/60; world 5 4 5; reach 3\nhuman did: place planks 1 1 2" + SEPARATOR
    assert again(text)["input_ids"] == bpe(text)["input_ids"] and again(text)["input_ids"][0] == bpe.bos_token_id
    assert again.get_vocab() == bpe.get_vocab() and (again.eos_token, again.pad_token, again.unk_token) == ("</s>", "<pad>", None)
    outside = "telepathy: ünïcode  spaces\n\n"  # not the games' text: still bytes, never <unk>
    assert again.decode(again(outside, add_special_tokens=False)["input_ids"]) == outside
    assert len(again(" place dirt 0 0 0", add_special_tokens=False)["input_ids"]) < len(" place dirt 0 0 0")  # merges were learned


@pytest.mark.parametrize("kind", ["word", "bpe", "sentencepiece"])
def test_candidate_ids_are_the_tokens_of_the_prompt_text_followed_by_the_action(kind, bpe, tiny_lm_dir):
    tokenizer = {"word": lambda: load_lm(tiny_lm_dir)[1], "bpe": lambda: bpe, "sentencepiece": lambda: sentencepiece_style(True)}[kind]()
    for core in (envs.make_core("build", preset="tiny", chat=True), envs.make_core("kitchen", variant="red_blue")):
        encoder = TextEncoder(core, tokenizer)
        observation, _ = game_batch(core)
        texts, prompts = encoder.prompt_texts(observation), encoder.prompts(observation)
        names = core.action_names(ASSISTANT)
        for text, prompt in zip(texts, prompts):
            whole = tokenizer([text + " " + name for name in names])["input_ids"]
            assert whole == [prompt + action[:-1] for action in encoder.actions], (kind, core.name)
        assert all(action[-1] == tokenizer.eos_token_id for action in encoder.actions)


def test_a_tokenizer_merging_across_the_space_before_the_action_is_refused():
    with pytest.raises(ValueError, match="merges '\\\\naction:' with the action .* starts a new token at a space"):
        action_ids(sentencepiece_style(False), envs.make_core("build", preset="tiny").action_names(ASSISTANT))


@torch.inference_mode()
@pytest.mark.parametrize("group, max_rows", [(1, 1024), (2, 3), (32, 1024)])
def test_cached_scores_equal_uncached_scores_on_game_prompts(lm_dir, core, group, max_rows):
    lm, tokenizer = load_lm(lm_dir)
    assert type(lm).__name__ in MODEL_CLASS.values()
    encoder = TextEncoder(core, tokenizer)
    prompts, candidates, _ = encoder.batch(*game_batch(core))
    assert len(set(prompts.mask.sum(dim=1).tolist())) > 1  # left padding in play
    cached, full = score_cached(lm, prompts, candidates, max_rows, group), score_uncached(lm, prompts, candidates, max_rows=7)
    torch.testing.assert_close(cached.log_prob, full.log_prob, atol=1e-5, rtol=0)
    torch.testing.assert_close(cached.hidden, full.hidden, atol=1e-5, rtol=0)


def test_a_saved_model_loads_and_scores_identically(lm_dir, bpe, core, tmp_path):
    policy, tokenizer = load_policy(core, lm_dir, "cpu")
    text = "blocks: none\nhuman did: move +x" + SEPARATOR  # read as saved, not as the model type's own tokenizer (qwen2's)
    assert tokenizer.get_vocab() == bpe.get_vocab() and tokenizer(text)["input_ids"] == bpe(text)["input_ids"]
    torch.nn.init.normal_(policy.heads.value.weight)  # not the zero initialization, so the heads' reload is tested too
    policy.save(tmp_path, tokenizer)
    observation, legal = game_batch(core)
    before = LMEvaluator(core, policy, tokenizer).evaluate(observation, np.zeros((3, 0), np.float32), legal)[0]
    after = LMEvaluator.load(core, tmp_path, "cpu").evaluate(observation, np.zeros((3, 0), np.float32), legal)[0]
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == json.loads((lm_dir / "config.json").read_text())["model_type"]
    for field, value in before._asdict().items():
        np.testing.assert_array_equal(getattr(after, field), value, err_msg=field)


def test_prompts_longer_than_the_models_positions_name_the_fix(bpe, core, tmp_path):
    short = create_lm(tmp_path / "short", TinyLMConfig(arch="gpt2", tokenizer="bpe", max_positions=16, **TINY), bpe)
    evaluator = LMEvaluator.load(core, short, "cpu")
    observation, legal = game_batch(core)
    with pytest.raises(ValueError, match=r"take \d+ tokens but the model has 16 positions .*TinyLMConfig.max_positions"):
        evaluator.evaluate(observation, evaluator.initial_memory(3), legal)


def test_unknown_architectures_and_tokenizers_name_the_choices():
    with pytest.raises(ValueError, match=r"arch='mamba'.*\['llama', 'gpt2', 'qwen2'\]"):
        TinyLMConfig(arch="mamba")
    with pytest.raises(ValueError, match=r"tokenizer='char'.*\['word', 'bpe'\]"):
        TinyLMConfig(tokenizer="char")


def test_a_model_saved_in_bfloat16_loads_and_scores_in_it(bpe, core, tmp_path):
    lm, tokenizer = load_lm(create_lm(tmp_path / "lm", TinyLMConfig(arch="qwen2", tokenizer="bpe", **TINY), bpe))
    lm.to(torch.bfloat16).save_pretrained(tmp_path / "bf16")
    tokenizer.save_pretrained(tmp_path / "bf16")
    evaluator = LMEvaluator.load(core, tmp_path / "bf16", "cpu")
    assert next(evaluator.policy.lm.parameters()).dtype == torch.bfloat16  # the dtype saved in config.json
    assert next(evaluator.policy.heads.parameters()).dtype == torch.float32
    observation, legal = game_batch(core)
    out = evaluator.evaluate(observation, evaluator.initial_memory(3), legal)[0]
    assert out.policy_logits.dtype == np.float32 and np.isfinite(out.policy_logits[legal]).all()


def test_sft_and_the_evaluation_run_end_to_end_on_the_model(lm_dir, tmp_path):
    run_dir = tmp_path / "sft"
    final = run(compose_train(["algo=sft", f"algo.init={lm_dir}", *COMMON, *STAGES["sft"], "logger=none", "device=cpu"]), run_dir, progress=False)
    assert set(final) >= {"goal_pct", "human_actions"}
    before, after = load_file(lm_dir / "model.safetensors"), load_file(run_dir / "model" / "model.safetensors")
    assert any(not torch.equal(before[key], after[key]) for key in after)
    saved = json.loads((run_dir / "model" / "config.json").read_text())
    assert saved["architectures"] == [MODEL_CLASS[saved["model_type"]]]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            config_name="evaluate",
            overrides=["env.preset=tiny", "env.horizon=4", "episodes=2", "batch=2", "baselines=[]", "assistant=llm", f"assistant.params.path={run_dir}", "assistant.params.device=cpu"],
        )  # fmt: skip
    summary = evaluate(cfg, tmp_path / "eval", progress=False)
    assert set(summary) == {"llm"}
