"""Run checkpoints: the network (safetensors), the optimizer and counters (a torch file
that loads with ``weights_only=True``), and a manifest written last.

Every file is written to a temporary name and renamed into place, and the manifest names
the files of the last complete checkpoint, so a crash mid-save leaves the previous
checkpoint readable.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from assist.models.checkpoint import atomic_write, load_weights, save_weights

MANIFEST = "manifest.json"
MODEL = "model.safetensors"
TRAINER = "trainer.pt"


class RunCheckpoint:
    """The latest checkpoint of a run, in ``directory``."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def save(self, net: nn.Module, optimizer: torch.optim.Optimizer, counters: dict[str, int]) -> None:
        save_weights(self.directory / MODEL, net)
        buffer = _serialize({"optimizer": optimizer.state_dict(), "counters": counters})
        atomic_write(self.directory / TRAINER, buffer)
        manifest = {"files": [MODEL, TRAINER], "counters": counters}
        atomic_write(self.directory / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())

    def load(self, net: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> dict[str, Any] | None:
        """Load the latest checkpoint into ``net`` (and ``optimizer``); its counters, or
        None when the run has none yet."""
        manifest_path = self.directory / MANIFEST
        if not manifest_path.exists():
            return None
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"{manifest_path} is unreadable ({error}); delete the checkpoint folder to start afresh") from error
        load_weights(self.directory / MODEL, net)
        if optimizer is not None:
            trainer_path = self.directory / TRAINER
            try:
                state = torch.load(trainer_path, weights_only=True, map_location="cpu")
            except Exception as error:  # torch raises many kinds for damaged files
                raise ValueError(f"{trainer_path} is not a readable trainer checkpoint: {error}") from error
            optimizer.load_state_dict(state["optimizer"])
        return manifest["counters"]


def _serialize(obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()
