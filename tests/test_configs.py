"""Every config file composes against its schema, and builds what it names."""

import functools
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import get_class
from omegaconf import OmegaConf

import assist.config  # registers the schemas, as every entry point does
from assist.cli import CONFIG_DIR
from assist.learning.algorithms import ALGORITHMS
from assist.logger import LoggerConfig
from assist.registry import PLAYERS
from assist.search.config import SearchConfig

GROUPS = {group.name: sorted(p.stem for p in group.glob("*.yaml")) for group in Path(CONFIG_DIR).iterdir() if group.is_dir() and group.name != "hydra"}
LAUNCHERS = sorted(p.stem for p in (Path(CONFIG_DIR) / "hydra" / "launcher").glob("*.yaml"))
PRIMARY = {"evaluate": ("env", "human", "assistant", "sweep"), "train": ("env", "human", "model", "search", "algo", "logger", "experiment", "sweep"), "play": ("env", "human", "assistant", "study")}
CASES = [(primary, group, option) for primary, groups in PRIMARY.items() for group in groups for option in GROUPS[group]]


def compose_with(primary, overrides, hydra=False):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name=primary, overrides=overrides, return_hydra_config=hydra)


def check_built(primary, cfg):
    """The config resolves and the dataclasses' own checks accept it."""
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    for seat in ("human", "assistant"):
        if seat in cfg and not OmegaConf.is_missing(cfg[seat], "name"):  # custom: the user's import path
            assert cfg[seat].name in PLAYERS
    if primary == "train":
        assist.config.to_dataclass(SearchConfig, cfg.search)
        assist.config.to_dataclass(LoggerConfig, cfg.logger)
        assist.config.to_dataclass(ALGORITHMS[cfg.algo.name].config, cfg.algo)


@pytest.mark.parametrize("primary, group, option", CASES, ids=[f"{p}:{g}={o}" for p, g, o in CASES])
def test_every_config_file_composes_against_its_schema(primary, group, option):
    check_built(primary, compose_with(primary, [f"{group}={option}"]))


def test_every_group_is_used_by_a_primary_config():
    used = {group for groups in PRIMARY.values() for group in groups}
    assert set(GROUPS) == used


def pins_algo(experiment):
    """Whether the preset sets the algo, itself or through a preset it builds on."""
    defaults = OmegaConf.load(Path(CONFIG_DIR) / "experiment" / f"{experiment}.yaml").get("defaults", [])
    based_on = [entry for entry in defaults if isinstance(entry, str) and entry in GROUPS["experiment"]]
    return any("/algo" in str(entry) for entry in defaults) or any(pins_algo(base) for base in based_on)


@pytest.mark.parametrize("experiment", [e for e in GROUPS["experiment"] if not pins_algo(e)])
def test_experiments_that_leave_the_algo_open_compose_with_both_self_play_algos(experiment):
    for algo in ("assistancezero", "ppo"):  # what such presets promise (configs/experiment/build_tiny.yaml)
        check_built("train", compose_with("train", [f"experiment={experiment}", f"algo={algo}"]))


def swept_values(sweep):
    """{key: [values]} of a sweep preset, expanded by Hydra's own sweep parser."""
    params = compose_with("train", [f"sweep={sweep}"], hydra=True).hydra.sweeper.params
    parser = OverridesParser.create()
    return {key: list(parser.parse_override(f"{key}={value}").sweep_string_iterator()) for key, value in params.items()}


@functools.cache
def default_config(primary):
    return compose_with(primary, [])


def accepts(primary, key):
    return key in PRIMARY[primary] or OmegaConf.select(default_config(primary), key, default="absent") != "absent"


@pytest.mark.parametrize("sweep", GROUPS["sweep"])
def test_every_value_of_every_sweep_composes(sweep):
    values = swept_values(sweep)
    primaries = [primary for primary in PRIMARY if "sweep" in PRIMARY[primary] and all(accepts(primary, key) for key in values)]
    assert primaries, f"sweep {sweep} sweeps keys {sorted(values)} that no primary config has"
    for primary in primaries:
        for key, options in values.items():
            assert len(options) >= 2
            for value in options:
                check_built(primary, compose_with(primary, [f"sweep={sweep}", f"{key}={value}"]))


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_every_launcher_config_names_an_installed_launcher(launcher):
    cfg = compose_with("train", [f"hydra/launcher={launcher}"], hydra=True)
    get_class(cfg.hydra.launcher._target_)
