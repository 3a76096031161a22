"""Every config file composes against its schema, and builds what it names."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import assist.config  # noqa: F401  (registers the schemas, as every entry point does)
from assist.cli import CONFIG_DIR
from assist.learning.assistancezero import AssistanceZeroConfig
from assist.learning.ppo import PPOConfig
from assist.players import PLAYERS
from assist.search.mcts import SearchConfig

GROUPS = {group.name: sorted(p.stem for p in group.glob("*.yaml")) for group in Path(CONFIG_DIR).iterdir() if group.is_dir() and group.name != "hydra"}
PRIMARY = {"evaluate": ("env", "human", "assistant"), "train": ("env", "human", "model", "search", "algo")}
CASES = [(primary, group, option) for primary, groups in PRIMARY.items() for group in groups for option in GROUPS[group]]


def compose_with(primary, overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name=primary, overrides=overrides)


@pytest.mark.parametrize("primary, group, option", CASES, ids=[f"{p}:{g}={o}" for p, g, o in CASES])
def test_every_config_file_composes_against_its_schema(primary, group, option):
    cfg = compose_with(primary, [f"{group}={option}"])
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    if group in ("human", "assistant"):
        assert cfg[group].name in PLAYERS
    if primary == "train":  # the dataclasses' own checks accept what the YAML says
        assist.config.to_dataclass(SearchConfig, cfg.search)
        assist.config.to_dataclass({"assistancezero": AssistanceZeroConfig, "ppo": PPOConfig}[cfg.algo.name], cfg.algo)


def test_every_group_is_used_by_a_primary_config():
    used = {group for groups in PRIMARY.values() for group in groups}
    assert set(GROUPS) == used
