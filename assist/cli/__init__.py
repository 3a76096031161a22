"""Hydra entry points; ``scripts/*.py`` and the console scripts call their ``main``."""

from pathlib import Path

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")
"""The repository's ``configs/`` tree, found from any working directory."""
