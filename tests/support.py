"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from assist.cli import CONFIG_DIR


def compose_train(overrides: list[str], config_dir=CONFIG_DIR, primary: str = "train", hydra_config: bool = False) -> DictConfig:
    """The config ``primary`` of ``config_dir`` (the project's train config by default) with
    ``overrides``, as the command line would compose it; ``hydra_config`` keeps the
    ``hydra`` node (run directory, job name), which entry points given a config read."""
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose(config_name=primary, overrides=overrides, return_hydra_config=hydra_config)


DOCS_PICTURES = "ASSIST_DOCS_PICTURES"
"""The variable that sends the pictures tests save to a folder of the repository (docs/README.md)."""


def picture_path(tmp_path: Path, name: str) -> Path:
    """Where a test saves its picture ``name``: in the folder ``$ASSIST_DOCS_PICTURES`` names
    (``docs``: the pictures the docs show are made so), else in the test's ``tmp_path``."""
    return Path(os.environ.get(DOCS_PICTURES) or tmp_path) / name
