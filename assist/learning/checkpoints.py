"""Run checkpoints: everything a run needs to continue exactly where it stopped.

A run's ``checkpoints/`` folder::

    manifest.json                  written last: the current checkpoint's folder, counters, ranks
    000012/                        one complete checkpoint (here after iteration 12)
        model.safetensors          the network (safetensors, with its class and size config)
        trainer.pt                 optimizer state, counters, latest evaluation (loads with weights_only=True)
        rank0.pt                   rank 0's random generators (numpy's bit-generator state as a
                                   plain dict, torch's as uint8 tensors) and the SHA-256 of the
                                   weights it held (the ranks' must agree); weights_only=True
        rank0.<part>.safetensors   rank 0's arrays of each stateful part (``replay``: the
                                   replay buffer; ``games``: the running self-play games'
                                   state and the assistant's memories)
        rank1.pt, ...              the same for every other data-parallel rank

A checkpoint is written into a temporary folder, renamed into place, and only then named by
the manifest (itself replaced atomically); older folders are removed after that. A crash or a
failed write (a full disk) at any point leaves the previous checkpoint whole and current.
Nothing is unpickled beyond tensors and plain containers: no code runs when loading.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file as load_arrays
from safetensors.numpy import save as serialize_arrays
from torch import nn

from assist.learning.distributed import SINGLE, Group
from assist.models.checkpoint import atomic_write, load_weights, save_weights

MANIFEST = "manifest.json"
MODEL = "model.safetensors"
TRAINER = "trainer.pt"
TEMPORARY = ".tmp-"


class RankState(NamedTuple):
    """What one data-parallel rank keeps for itself.

    rng: random generator states (``"numpy"``: a bit-generator state dict; ``"torch"``,
        ``"cuda"``: uint8 tensors, ``"cuda"`` a list, one per device).
    parts: arrays of each stateful part by name (e.g. ``"replay"``, ``"games"``).
    weights: the SHA-256 of the rank's network weights (:func:`weights_digest`).
    """

    rng: dict[str, Any]
    parts: dict[str, dict[str, np.ndarray]]
    weights: str


class Loaded(NamedTuple):
    """A checkpoint as read back: the counters, the latest evaluation (``{metric: {mean,
    low, high, n}}``) and this rank's state."""

    counters: dict[str, int | float]
    last_eval: dict[str, dict[str, float]]
    rank: RankState


class CheckpointError(ValueError):
    """A checkpoint file cannot be used; the message names the file and the fix."""


class CheckpointWriteError(OSError):
    """Writing a checkpoint failed; the previous one is still whole and current."""

    def __init__(self, what: str, directory: Path):
        super().__init__(
            f"{what}; the previous checkpoint in {directory} is intact. Fix the cause (disk space, permissions) "
            "and continue the run with resume=true and the same hydra.run.dir"
        )


def capture_rng(generator: np.random.Generator) -> dict[str, Any]:
    """The state of ``generator`` and of torch's generators, as plain data and tensors."""
    state = {"numpy": generator.bit_generator.state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(generator: np.random.Generator, state: dict[str, Any]) -> None:
    """Put ``generator`` and torch's generators back in ``state`` (from :func:`capture_rng`)."""
    generator.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def weights_digest(net: nn.Module) -> str:
    """SHA-256 of ``net``'s state (parameters and buffers, in order): equal on data-parallel ranks in step."""
    digest = hashlib.sha256()
    for key, value in net.state_dict().items():
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class RunCheckpoint:
    """The latest checkpoint of a run, in ``directory``, as seen by one rank of ``group``."""

    def __init__(self, directory: Path, group: Group = SINGLE):
        self.directory = Path(directory)
        self.group = group

    @property
    def fix(self) -> str:
        return f"delete {self.directory} to start the run afresh, or point hydra.run.dir at a new folder"

    def save(self, net: nn.Module, optimizer: torch.optim.Optimizer, counters: dict[str, int | float], last_eval: dict[str, dict[str, float]], rank: RankState) -> None:
        """Write a checkpoint (a collective: every rank calls it with its own ``rank`` state)."""
        group, name = self.group, f"{counters['iteration']:06d}"
        staging = self.directory / f"{TEMPORARY}{name}"

        def write() -> None:
            if group.is_main:
                self.write_model(staging, net)
                atomic_write(staging / TRAINER, _serialize({"optimizer": optimizer.state_dict(), "counters": counters, "last_eval": last_eval}))
            self._save_rank(staging, rank)

        error = _attempt(self._stage, staging) if group.is_main else None
        if group.all_true(error is None):  # the staging folder exists before any rank writes into it
            error = _attempt(write)
            if group.all_true(error is None):
                if group.is_main:
                    self._publish(staging, name, counters)
                return
        if group.is_main:
            shutil.rmtree(staging, ignore_errors=True)
        raise CheckpointWriteError(
            f"writing checkpoint {staging} failed ({error!r} on this rank)" if error else f"writing checkpoint {staging} failed on another rank",
            self.directory,
        ) from error

    def write_model(self, folder: Path, net: nn.Module) -> None:
        """Write ``net`` into the checkpoint folder ``folder`` (here: ``model.safetensors``)."""
        save_weights(folder / MODEL, net)

    def read_model(self, folder: Path, net: nn.Module) -> None:
        """Load the weights :meth:`write_model` wrote into ``folder`` into ``net``; a
        FileNotFoundError or a ValueError naming the file when they are missing or do not fit."""
        load_weights(folder / MODEL, net)

    def _stage(self, staging: Path) -> None:
        """Remove staging folders left by a crash mid-save; make a fresh one."""
        if self.directory.is_dir():
            for stale in self.directory.glob(f"{TEMPORARY}*"):
                shutil.rmtree(stale, ignore_errors=True)
        staging.mkdir(parents=True)

    def _publish(self, staging: Path, name: str, counters: dict[str, int | float]) -> None:
        """Rename the written checkpoint into place, name it in the manifest, drop older ones."""
        final = self.directory / name
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        manifest = {"checkpoint": name, "counters": counters, "world_size": self.group.world_size}
        atomic_write(self.directory / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
        for old in self.directory.iterdir():
            if old.is_dir() and old.name != name:
                shutil.rmtree(old, ignore_errors=True)

    def _save_rank(self, folder: Path, state: RankState) -> None:
        prefix = f"rank{self.group.rank}"
        atomic_write(folder / f"{prefix}.pt", _serialize({"rng": state.rng, "weights": state.weights}))
        for part, arrays in state.parts.items():
            atomic_write(folder / f"{prefix}.{part}.safetensors", serialize_arrays({key: np.ascontiguousarray(value) for key, value in arrays.items()}))

    def current(self) -> Path | None:
        """The folder of the latest complete checkpoint, or None when the run has none yet."""
        manifest_path = self.directory / MANIFEST
        if not manifest_path.exists():
            return None
        try:
            manifest = json.loads(manifest_path.read_text())
            folder = self.directory / manifest.get("checkpoint", ".")  # the earlier layout: one flat folder
        except (OSError, json.JSONDecodeError, AttributeError, TypeError) as error:
            raise CheckpointError(f"{manifest_path} is unreadable ({error!r}); {self.fix}") from error
        saved_ranks = manifest.get("world_size", 1)
        if saved_ranks != self.group.world_size:
            raise CheckpointError(
                f"{manifest_path}: the checkpoint was written by {saved_ranks} data-parallel ranks and this run has "
                f"{self.group.world_size}; resume with the same number of ranks (torchrun --nproc_per_node/--nnodes) or {self.fix}"
            )
        if not folder.is_dir():
            raise CheckpointError(f"{manifest_path} names {folder}, which is missing; {self.fix}")
        return folder

    def load_model(self, net: nn.Module) -> bool:
        """Load the latest checkpoint's weights into ``net``; False when the run has none yet."""
        folder = self.current()
        if folder is None:
            return False
        try:
            self.read_model(folder, net)
        except (ValueError, FileNotFoundError) as error:
            raise CheckpointError(f"{error}. Or, to give up this checkpoint: {self.fix}") from error
        return True

    def load(self, net: nn.Module, optimizer: torch.optim.Optimizer) -> Loaded | None:
        """Load the latest checkpoint into ``net`` and ``optimizer``; the counters, latest
        evaluation and this rank's state, or None when the run has none yet."""
        if not self.load_model(net):
            return None
        folder = self.current()
        if folder == self.directory:
            raise CheckpointError(
                f"{self.directory / MANIFEST} is a checkpoint of an earlier version (weights and optimizer only): it serves to "
                f"evaluate the run (assistant.params.run) but cannot continue it; {self.fix}"
            )
        trainer = self._torch_file(folder / TRAINER)
        try:
            optimizer.load_state_dict(trainer["optimizer"])
        except (ValueError, KeyError, RuntimeError) as error:
            raise CheckpointError(f"{folder / TRAINER}: the optimizer state does not fit this model ({error}); {self.fix}") from error
        prefix = f"rank{self.group.rank}"
        parts = {path.name[len(prefix) + 1 : -len(".safetensors")]: self._arrays(path) for path in sorted(folder.glob(f"{prefix}.*.safetensors"))}
        own = self._torch_file(folder / f"{prefix}.pt")
        rank = RankState(own["rng"], parts, own["weights"])
        return Loaded(trainer["counters"], trainer.get("last_eval", {}), rank)

    def part_file(self, part: str) -> Path:
        """Where this rank's ``part`` arrays of the current checkpoint are (for error messages)."""
        return (self.current() or self.directory) / f"rank{self.group.rank}.{part}.safetensors"

    def _torch_file(self, path: Path) -> dict[str, Any]:
        try:
            return torch.load(path, weights_only=True, map_location="cpu")
        except Exception as error:  # torch raises many kinds for missing, truncated or foreign files
            raise CheckpointError(f"{path} is not a readable checkpoint file (truncated or corrupt?): {error}; {self.fix}") from error

    def _arrays(self, path: Path) -> dict[str, np.ndarray]:
        try:
            return load_arrays(path)
        except (SafetensorError, OSError) as error:
            raise CheckpointError(f"{path} is not a readable safetensors file (truncated or corrupt?): {error}; {self.fix}") from error


def restore(target: dict[str, np.ndarray], saved: dict[str, np.ndarray], what: str) -> dict[str, np.ndarray]:
    """``saved`` arrays checked against the ``target`` arrays they replace (same keys,
    shapes and dtypes): a ValueError saying what differs, for a checkpoint of another config."""
    if set(saved) != set(target):
        raise ValueError(f"{what}: saved fields {sorted(saved)} differ from this run's {sorted(target)}")
    for key, value in saved.items():
        if value.shape != target[key].shape or value.dtype != target[key].dtype:
            raise ValueError(f"{what}: {key} is {value.dtype}{list(value.shape)} in the checkpoint and {target[key].dtype}{list(target[key].shape)} in this run")
    return saved


def _attempt(action, *args) -> Exception | None:
    """Run ``action(*args)``; the exception it raised, or None."""
    try:
        action(*args)
    except Exception as error:  # noqa: BLE001 (reported to every rank, then raised as a CheckpointWriteError)
        return error
    return None


def _serialize(obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()
