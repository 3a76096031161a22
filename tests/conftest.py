"""Shared fixtures."""

import pytest
import torch


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory):
    """A tiny saved LM directory (1 layer, width 32, the codec-grammar tokenizer), made once per session."""
    from assist.llm.lm import TinyLMConfig, create_lm

    torch.set_num_threads(1)
    return create_lm(tmp_path_factory.mktemp("lm") / "tiny", TinyLMConfig(hidden=32, layers=1, heads=2, intermediate=64))
