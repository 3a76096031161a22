"""Network weights in safetensors files: ``save_weights(path, net)`` / ``load_weights(path, net)``.

A file holds the module's ``state_dict`` (parameters and batch-norm statistics) and, as
metadata, the module's class name and its size config (JSON), so that a mismatch can say
which config the file came from. Writes are atomic: a temporary file in the same folder,
flushed to disk, then ``os.replace``; a crash never leaves a half-written checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as serialize
from torch import nn

SHOWN = 4
"""How many offending tensor names an error lists."""


class CheckpointError(ValueError):
    """A checkpoint or saved model cannot be used; the message, one line, names the file and the fix."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def describe(net: nn.Module) -> dict[str, str]:
    """The metadata saved with ``net``: its class name and size config as JSON."""
    config = getattr(net, "config", None)
    return {
        "model": type(net).__name__,
        "config": json.dumps(dataclasses.asdict(config), sort_keys=True) if dataclasses.is_dataclass(config) else "",
    }


def save_weights(path: str | os.PathLike, net: nn.Module) -> None:
    """Write ``net``'s weights to ``path`` (a safetensors file) atomically; folders are created."""
    tensors = {key: value.detach().cpu().contiguous() for key, value in net.state_dict().items()}
    atomic_write(Path(path), serialize(tensors, metadata=describe(net)))


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a flushed temporary file in the same folder and a
    rename, so a crash never leaves a half-written file; folders are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_weights(path: str | os.PathLike, net: nn.Module) -> None:
    """Load the weights in ``path`` into ``net`` (in place, on ``net``'s device).

    Raises FileNotFoundError if there is no file, and ValueError naming the file if it is
    not a readable safetensors file (truncated or corrupt) or its tensors do not fit
    ``net`` (a checkpoint of another model, preset or game configuration).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with safe_open(path, framework="pt") as file:
            metadata = file.metadata() or {}
            tensors = {key: file.get_tensor(key) for key in file.keys()}
    except (SafetensorError, OSError) as err:
        raise ValueError(
            f"{path} is not a readable safetensors checkpoint (truncated or corrupt?): {err}; save it again with save_weights"
        ) from err
    problems = mismatches(tensors, net.state_dict())
    if problems:
        saved = f"{metadata.get('model', '?')} {metadata.get('config', '?')}"
        ours = describe(net)
        raise ValueError(
            f"{path} does not fit this {ours['model']}: {'; '.join(problems)}. The file was saved from {saved}; "
            f"this model is {ours['model']} {ours['config']} for its game. Build the model with the checkpoint's "
            "preset, overrides and game configuration, or load a checkpoint of this one."
        )
    net.load_state_dict(tensors)


def mismatches(saved: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> list[str]:
    """What keeps ``saved`` tensors from loading into a module whose state is ``expected``."""
    missing = sorted(expected.keys() - saved.keys())
    unexpected = sorted(saved.keys() - expected.keys())
    shapes = [
        f"{key} is {list(saved[key].shape)} in the file, {list(expected[key].shape)} in the model"
        for key in expected
        if key in saved and saved[key].shape != expected[key].shape
    ]
    problems = [f"missing tensors {shown(missing)}"] if missing else []
    problems += [f"unexpected tensors {shown(unexpected)}"] if unexpected else []
    return problems + ([f"shapes differ: {shown(shapes)}"] if shapes else [])


def shown(items: list[str]) -> str:
    """The first :data:`SHOWN` of ``items``, and how many more there are."""
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return ", ".join(items[:SHOWN]) + more
