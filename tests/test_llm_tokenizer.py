"""The codec-grammar tokenizer: every game's text is in its vocabulary and decodes exactly."""

import numpy as np
import pytest
from transformers import AutoTokenizer

import envs
from assist.llm.tokenizer import SEPARATOR, core_texts, vocabulary_cores
from envs.building.config import PRESETS as BUILD_PRESETS
from envs.building.render import PROMPTS
from envs.core import AGENTS


@pytest.fixture(scope="module")
def tokenizer(tiny_lm_dir):
    return AutoTokenizer.from_pretrained(tiny_lm_dir)


@pytest.fixture(scope="module")
def cores():
    return list(vocabulary_cores())


def test_every_action_name_decodes_to_itself(tokenizer, cores):
    for core in cores:
        for agent in AGENTS:
            names = core.action_names(agent)
            ids = tokenizer([" " + name for name in names], add_special_tokens=False)["input_ids"]
            assert tokenizer.batch_decode(ids) == names


def test_prompts_of_fresh_rollouts_have_no_unknown_words(tokenizer, cores):
    for core in cores:
        texts = [text + SEPARATOR for text in core_texts(core, seed=12345, batch=4, steps=15)]  # seeds the vocabulary never saw
        ids = tokenizer(texts)["input_ids"]
        unknown = [text for text, row in zip(texts, ids) if tokenizer.unk_token_id in row]
        assert not unknown, f"{core.name}: {unknown[:1]}"


@pytest.mark.parametrize("prompt", sorted(set(PROMPTS) - {"v1"}))
def test_every_other_build_prompt_format_is_worded_in_the_vocabulary(tokenizer, prompt):
    """The vocabulary comes from the default format's (v1) text only, so the default LM stays as it was."""
    for preset in BUILD_PRESETS:
        core = envs.make_core("build", preset=preset, chat=True, prompt=prompt)
        texts = [text + SEPARATOR for text in core_texts(core, seed=12345, batch=4, steps=15)]
        unknown = [text for text, row in zip(texts, tokenizer(texts)["input_ids"]) if tokenizer.unk_token_id in row]
        assert not unknown, f"{preset}: {unknown[:1]}"


def test_numbers_of_any_size_are_spelled_by_digits(tokenizer):
    ids = tokenizer(" step 123456/98 ", add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == "step 123456/98"


def test_words_outside_the_grammar_are_unknown(tokenizer):
    assert tokenizer.unk_token_id in tokenizer(" telepathy", add_special_tokens=False)["input_ids"]


def test_prompts_start_with_bos_and_actions_end_where_the_text_does(tokenizer):
    ids = tokenizer("noop")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and tokenizer.decode(ids, skip_special_tokens=True) == "noop"


def test_the_saved_tokenizer_reloads_with_the_same_ids(tokenizer, tiny_lm_dir, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    text = "step 3/60; world 5 4 5; reach 3\nhuman did: place planks 1 1 2" + SEPARATOR
    assert again(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert again.get_vocab() == tokenizer.get_vocab() and again.eos_token_id == tokenizer.eos_token_id


def test_whitespace_runs_are_one_space(tokenizer):
    assert tokenizer("a\n\n  b")["input_ids"] == tokenizer("a b")["input_ids"]
    assert np.all(np.array(tokenizer("move +x")["input_ids"]) != tokenizer.unk_token_id)
