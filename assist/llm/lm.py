"""The causal LM and its tokenizer on disk: any local Hugging Face model directory, and the
default one created here.

    model, tokenizer = load_lm(path)           # any local HF causal-LM directory
    path = ensure_default_lm()                 # creates runs/llm/default once, then reuses it

The default is a small Llama created from a config (no download) with the codec-grammar
tokenizer of :mod:`assist.llm.tokenizer`, saved with ``save_pretrained``;
:class:`TinyLMConfig` also makes GPT-2 and Qwen2 decoders and byte-level BPE tokenizers
(``create_lm(path, TinyLMConfig(arch="qwen2", tokenizer="bpe"))``). Loading never
runs code from the directory (``trust_remote_code=False``) and never reaches the network
(``local_files_only=True``); a directory that cannot be used (a truncated or corrupt file,
a broken ``config.json``, a tokenizer with more tokens than the model has embeddings) is a
one-line :class:`~assist.models.checkpoint.CheckpointError` naming it and the fix.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    LlamaConfig,
    PreTrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Qwen2Config,
    TokenizersBackend,
)
from transformers.utils import logging as hf_logging

from assist.llm.tokenizer import build_bpe_tokenizer, build_tokenizer
from assist.models.checkpoint import CheckpointError

DEFAULT_DIR = Path("runs/llm/default")
"""Where :func:`ensure_default_lm` keeps the default model (relative to the working directory)."""
RUN_MODEL = "model"
"""Where a training run of the LM pipeline keeps its model: ``<run_dir>/model``."""
FIX = (
    "write it again with save_pretrained (a training run's model/ is a copy of its latest checkpoints/<iteration>/model), "
    "or give another model directory"
)
"""What to do about a model directory that cannot be used."""


ARCHITECTURES = ("llama", "gpt2", "qwen2")
"""The decoders :func:`create_lm` makes (``TinyLMConfig.arch``)."""
TOKENIZERS = {"word": build_tokenizer, "bpe": build_bpe_tokenizer}
"""The tokenizers :func:`create_lm` builds (``TinyLMConfig.tokenizer``): word-level or byte-level BPE."""


@dataclasses.dataclass
class TinyLMConfig:
    """Architecture and size of the default LM.

    arch: the decoder, one of :data:`ARCHITECTURES` (``llama``: rotary positions and RMS
    norms; ``gpt2``: learned absolute positions and layer norms; ``qwen2``: Llama's with
    biased attention projections); tokenizer: ``word`` or ``bpe`` (:data:`TOKENIZERS`);
    hidden: width of the residual stream; layers: decoder blocks; heads: attention heads
    (hidden must be a multiple); intermediate: width of the MLP; max_positions: longest
    prompt + action in tokens; seed: the weight initialization's. No dropout in any.
    """

    arch: str = "llama"
    tokenizer: str = "word"
    hidden: int = 128
    layers: int = 4
    heads: int = 4
    intermediate: int = 256
    max_positions: int = 4096
    seed: int = 0

    def __post_init__(self):
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch={self.arch!r} is not a decoder create_lm makes: use one of {list(ARCHITECTURES)}")
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(f"tokenizer={self.tokenizer!r} is not a tokenizer create_lm builds: use one of {list(TOKENIZERS)}")

    def model_config(self, tokenizer: PreTrainedTokenizerBase) -> PreTrainedConfig:
        """The transformers config of this decoder for ``tokenizer`` (its size and special
        tokens), input and output embeddings tied."""
        tokens = {
            "vocab_size": len(tokenizer),
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
            "tie_word_embeddings": True,
        }
        if self.arch == "gpt2":
            return GPT2Config(
                n_embd=self.hidden, n_layer=self.layers, n_head=self.heads, n_inner=self.intermediate, n_positions=self.max_positions,
                resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **tokens,
            )  # fmt: skip
        return {"llama": LlamaConfig, "qwen2": Qwen2Config}[self.arch](
            hidden_size=self.hidden,
            num_hidden_layers=self.layers,
            num_attention_heads=self.heads,
            num_key_value_heads=self.heads,
            intermediate_size=self.intermediate,
            max_position_embeddings=self.max_positions,
            **tokens,
        )


def create_lm(path: str | Path, config: TinyLMConfig | None = None, tokenizer: PreTrainedTokenizerBase | None = None) -> Path:
    """Create a fresh decoder of ``config`` (default: :class:`TinyLMConfig()`, a Llama) for
    ``tokenizer`` (default: the one ``config.tokenizer`` names, built over the games' text,
    see :mod:`assist.llm.tokenizer`) and save both into ``path`` (written to a temporary
    directory first and renamed, so concurrent runs and interruptions never leave half a
    model). Returns ``path``."""
    path = Path(path)
    config = TinyLMConfig() if config is None else config
    tokenizer = TOKENIZERS[config.tokenizer]() if tokenizer is None else tokenizer
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = AutoModelForCausalLM.from_config(config.model_config(tokenizer))
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        with quiet():
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
        os.replace(staging, path)
    except OSError:
        if not (path / "config.json").exists():  # not a concurrent run that finished first
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def ensure_default_lm(path: str | Path = DEFAULT_DIR) -> Path:
    """``path``, after creating the default model there (:func:`create_lm`) if it holds none."""
    path = Path(path)
    if not (path / "config.json").exists():
        create_lm(path)
    return path


def model_dir(path: str | Path) -> Path:
    """The model directory ``path`` names: ``path`` itself, or ``path/model`` when ``path``
    is a training run of the LM pipeline (``scripts/train.py algo=pretrain|sft|rlft|search_loop``)."""
    path = Path(path)
    return path / RUN_MODEL if not (path / "config.json").is_file() and (path / RUN_MODEL / "config.json").is_file() else path


def load_lm(path: str | Path, device: str | torch.device = "cpu") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The causal LM and tokenizer saved in the local directory ``path`` (or in the run
    directory ``path``'s ``model/``, see :func:`model_dir`) on ``device``, in eval mode.
    Raises FileNotFoundError naming the path and the fix when it holds no model, and a
    CheckpointError (a ValueError) naming the directory and the fix when its tokenizer or
    model cannot be read, the tokenizer has more tokens than the model's embedding has rows
    (their ids would index past it), or it lacks an EOS token (actions end with it)."""
    path = model_dir(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"no Hugging Face model in {str(path)!r} (no config.json there): give a local directory written by "
            "save_pretrained (model and tokenizer) or an LM training run's directory, or leave the path unset "
            f"(null) to create and use the default model in {str(DEFAULT_DIR)!r}"
        )
    model = _read(f"the model in {path} (config.json, model.safetensors)", AutoModelForCausalLM, path)
    tokenizer = _read(f"the tokenizer in {path}", _tokenizer_class(path), path)
    rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > rows:
        raise CheckpointError(
            f"the tokenizer in {path} has {len(tokenizer)} tokens but the model's embedding has {rows} rows (config.json "
            f"vocab_size {model.config.get_text_config().vocab_size}): ids from {rows} on have no embedding. Save the model "
            "with the tokenizer it was trained with, or grow the embedding to fit (model.resize_token_embeddings(len(tokenizer))) "
            "and save both again"
        )
    if tokenizer.eos_token_id is None:
        raise CheckpointError(f"the tokenizer in {path} has no EOS token; set tokenizer.eos_token and save it again")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token  # padded positions are masked out, so any id serves
    return model.to(device).eval(), tokenizer


def _tokenizer_class(path: Path) -> type:
    """What reads ``path``'s tokenizer: :class:`~transformers.TokenizersBackend` when its
    ``tokenizer_config.json`` names that class (as ``save_pretrained`` does for a tokenizer
    built with ``tokenizers``, e.g. :mod:`assist.llm.tokenizer`'s), else AutoTokenizer.
    For some model types (``qwen2`` among them) AutoTokenizer reads any tokenizer as the
    type's own class, which replaces the saved pre-tokenizer with its own and adds its
    special tokens: other ids than those the model was trained on."""
    try:
        named = json.loads((path / "tokenizer_config.json").read_text()).get("tokenizer_class")
    except (OSError, ValueError, AttributeError):
        return AutoTokenizer  # it reports what is wrong with the file
    return TokenizersBackend if named in ("TokenizersBackend", "PreTrainedTokenizerFast") else AutoTokenizer


def _read(what: str, auto_class, path: Path):
    """``auto_class.from_pretrained(path)`` from local files, without running their code; a
    CheckpointError saying ``what`` could not be read, why, and :data:`FIX`."""
    try:
        with quiet():
            return auto_class.from_pretrained(path, local_files_only=True, trust_remote_code=False)
    except Exception as error:  # transformers, safetensors and tokenizers raise many kinds for damaged files
        reason = (str(error).strip().splitlines() or [""])[0]
        raise CheckpointError(f"{what} cannot be read (a truncated, corrupt or foreign file?): {type(error).__name__}: {reason}; {FIX}") from error


class quiet:
    """Silence transformers' progress bars and info logs inside the block."""

    def __enter__(self):
        self.verbosity, self.bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()

    def __exit__(self, *exc):
        hf_logging.set_verbosity(self.verbosity)
        if self.bars:
            hf_logging.enable_progress_bar()
