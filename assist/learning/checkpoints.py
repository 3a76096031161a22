"""Run checkpoints: everything a run needs to continue exactly where it stopped.

A run's ``checkpoints/`` folder::

    manifest.json                  written last: a copy of the current checkpoint's own manifest
    000012/                        one complete checkpoint (here after iteration 12)
        manifest.json              its folder name, counters, number of ranks, the run's settings
                                   (``settings``: the resolved config) and the SHA-256 of every
                                   other file of the folder (``sha256``)
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
the manifest (itself replaced atomically); the older folders this invocation wrote are removed
after that, and no other folder ever is. A crash or a failed write (a full disk) at any point
leaves the previous checkpoint whole and current; a lost or damaged ``manifest.json`` falls back
to the newest folder with a manifest of its own. Loading checks every file it reads against its
digest first, and nothing is unpickled beyond tensors and plain containers: no code runs.
Manifests of earlier versions (no ``sha256``, no ``settings``) still load, unchecked.

One job, one module, which is why it runs past 400 lines: writing and reading this one
folder format. The two halves share its names, its digests and its fallbacks (which
folder is current, what a damaged one is), so split apart each would have to be read
with the other.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import logging
import re
import shutil
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file as load_arrays
from safetensors.numpy import save as serialize_arrays
from torch import nn

from assist.learning.distributed import SINGLE, Group
from assist.logger import flat_params
from assist.models.checkpoint import CheckpointError, atomic_write, load_weights, save_weights

MANIFEST = "manifest.json"
MODEL = "model.safetensors"
TRAINER = "trainer.pt"
TEMPORARY = ".tmp-"
RANK_FILE = re.compile(r"rank\d+\.")
"""How the name of a file that one data-parallel rank writes for itself begins."""
RESUMABLE = ("resume", "algo.iterations", "algo.checkpoint_every", "algo.eval_every", "algo.max_nonfinite", "device", "threads", "logger")
"""Settings (and groups of them) a resume may change: how long the run goes on, where and on how
many threads it runs, how often it saves and evaluates, what it logs. Every other one changes
what the run learns or its results (docs/long-runs.md)."""
UNSET = "(unset)"
"""How :func:`changed_settings` shows a setting one of the two configs does not have."""

log = logging.getLogger(__name__)


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
    """A checkpoint as read back: its folder, the counters, the latest evaluation (``{metric:
    {mean, low, high, n}}``) and this rank's state."""

    folder: Path
    counters: dict[str, int | float]
    last_eval: dict[str, dict[str, float]]
    rank: RankState


class Found(NamedTuple):
    """The checkpoint to load: its folder, its manifest and the manifest file that was read."""

    folder: Path
    manifest: dict[str, Any]
    source: Path


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

    settings: dict[str, Any] | None = None
    """The run's resolved config, stored in every manifest this object writes (None: not stored)."""

    def __init__(self, directory: Path, group: Group = SINGLE):
        self.directory = Path(directory)
        self.group = group
        self.written: list[Path] = []
        """The checkpoint folders this invocation published, oldest first: the only ones it may remove."""

    @property
    def fix(self) -> str:
        return f"delete {self.directory} to start the run afresh, or point hydra.run.dir at a new folder"

    def exists(self) -> bool:
        """Whether the directory holds a checkpoint: a manifest, or a checkpoint folder."""
        return (self.directory / MANIFEST).exists() or any(self._folders())

    def check_start(self, settings: dict[str, Any], resume: bool) -> None:
        """Refuse (CheckpointError) to start a run of ``settings`` here when it would replace
        or change another: without ``resume`` the directory must hold no checkpoint; with it,
        the current checkpoint's stored settings may differ only in :data:`RESUMABLE` keys."""
        if not resume:
            if self.exists():
                raise CheckpointError(
                    f"{self.directory.parent} already holds a run's checkpoints ({self.directory}); continue that run with "
                    "resume=true, or start this one in a new directory (hydra.run.dir)"
                )
            return
        found = self._resolve()
        saved = found.manifest.get("settings") if found else None
        changes = changed_settings(saved, settings) if isinstance(saved, dict) else []
        if changes:
            raise CheckpointError(
                f"{found.source}: resume=true with settings that change the run's results ({'; '.join(changes)}); resume with "
                f"the checkpoint's settings (only {', '.join(RESUMABLE)} may change), or start a new run in a new directory (hydra.run.dir)"
            )

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
        """Remove staging folders left by a crash mid-save (never complete checkpoints); make a fresh one."""
        if self.directory.is_dir():
            for stale in self.directory.glob(f"{TEMPORARY}*"):
                shutil.rmtree(stale, ignore_errors=True)
        staging.mkdir(parents=True)

    def _publish(self, staging: Path, name: str, counters: dict[str, int | float]) -> Path:
        """Give the written checkpoint its manifest (digests of its files included), rename it into
        place (``name``, or ``name_2``, ... beside a folder this invocation did not write), name it
        in the run's manifest, and remove the older folders this invocation wrote; the folder."""
        final = self.directory / name
        for n in itertools.count(2):
            if not final.exists():
                break
            final = self.directory / f"{name}_{n}"
        digests = {path.relative_to(staging).as_posix(): _sha256(path) for path in sorted(staging.rglob("*")) if path.is_file()}
        manifest = {"checkpoint": final.name, "counters": counters, "world_size": self.group.world_size, "sha256": digests}
        if self.settings is not None:
            manifest["settings"] = self.settings
        text = (json.dumps(manifest, indent=2) + "\n").encode()
        atomic_write(staging / MANIFEST, text)
        staging.rename(final)
        atomic_write(self.directory / MANIFEST, text)
        for old in self.written:
            shutil.rmtree(old, ignore_errors=True)
        self.written = [final]
        return final

    def _save_rank(self, folder: Path, state: RankState) -> None:
        prefix = f"rank{self.group.rank}"
        atomic_write(folder / f"{prefix}.pt", _serialize({"rng": state.rng, "weights": state.weights}))
        for part, arrays in state.parts.items():
            atomic_write(folder / f"{prefix}.{part}.safetensors", serialize_arrays({key: np.ascontiguousarray(value) for key, value in arrays.items()}))

    def _folders(self) -> list[Path]:
        """The checkpoint folders in the directory (not staging folders), by name: oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(path for path in self.directory.iterdir() if path.is_dir() and not path.name.startswith(TEMPORARY))

    def _resolve(self) -> Found | None:
        """The current checkpoint: the folder ``manifest.json`` names or, when that is missing,
        unreadable or names a missing folder, the newest folder with a readable manifest of its
        own (as every complete one has); None when the directory holds no checkpoint. A
        CheckpointError when it holds some but none is complete, when the manifest names a path
        outside the directory, or when another number of ranks wrote it."""
        path = self.directory / MANIFEST
        manifest, problem = _read_json(path)
        if manifest is not None:
            name = manifest.get("checkpoint")
            if name is None:  # the earlier layout: one flat folder
                return self._checked(Found(self.directory, manifest, path))
            folder = self.directory / str(name)
            if not isinstance(name, str) or name in ("", ".", "..") or folder.resolve().parent != self.directory.resolve():
                raise CheckpointError(f"{path} names {name!r}, which is not a checkpoint folder inside {self.directory}; restore the manifest, or {self.fix}")
            if folder.is_dir():
                return self._checked(Found(folder, manifest, path))
            problem = f"names {folder}, which is missing"
        if not self.exists():
            return None
        for folder in reversed(self._folders()):
            own, _ = _read_json(folder / MANIFEST)
            if own is not None:
                return self._checked(Found(folder, own, folder / MANIFEST))
        raise CheckpointError(f"{path} {problem}, and no folder in {self.directory} is a complete checkpoint (with its own {MANIFEST}); restore {path}, or {self.fix}")

    def _checked(self, found: Found) -> Found:
        """``found``, if this run's number of ranks wrote it (else a CheckpointError)."""
        saved_ranks = found.manifest.get("world_size", 1)
        if saved_ranks != self.group.world_size:
            raise CheckpointError(
                f"{found.source}: the checkpoint was written by {saved_ranks} data-parallel ranks and this run has "
                f"{self.group.world_size}; resume with the same number of ranks (torchrun --nproc_per_node/--nnodes) or {self.fix}"
            )
        return found

    def _open(self, model_only: bool) -> Found | None:
        """The current checkpoint (:meth:`_resolve`), its files that this rank reads (the model's
        alone with ``model_only``) checked against their SHA-256 in the manifest: a CheckpointError
        naming the first that is missing, outside the folder or different. Manifests of earlier
        versions have no digests: their files are not checked."""
        found = self._resolve()
        if found is None:
            return None
        if found.source != self.directory / MANIFEST:
            log.warning(f"{self.directory / MANIFEST} is missing or damaged: using {found.folder}, the newest complete checkpoint")
        digests = found.manifest.get("sha256")
        if not isinstance(digests, dict):
            return found
        for name, digest in digests.items():
            if not self._reads(name, model_only):
                continue
            path = found.folder / name
            if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts:
                raise CheckpointError(f"{found.source} lists {name!r}, which is outside {found.folder}; {self.fix}")
            if not path.is_file():
                raise CheckpointError(f"{path} is missing (listed in {found.source}); {self.fix}")
            if _sha256(path) != digest:
                raise CheckpointError(f"{path} does not match its SHA-256 in {found.source}: truncated, corrupt or changed since it was written; {self.fix}")
        return found

    def _reads(self, name: str, model_only: bool) -> bool:
        """Whether this rank reads the checkpoint file ``name`` (of the model's files alone, with ``model_only``)."""
        if RANK_FILE.match(name):
            return not model_only and name.startswith(f"rank{self.group.rank}.")
        return not (model_only and name == TRAINER)

    def _read_model(self, folder: Path, net: nn.Module) -> None:
        try:
            self.read_model(folder, net)
        except (ValueError, FileNotFoundError) as error:
            raise CheckpointError(f"{error}. Or, to give up this checkpoint: {self.fix}") from error

    def load_model(self, net: nn.Module) -> bool:
        """Load the latest checkpoint's weights into ``net`` (checked); False when the run has none yet."""
        found = self._open(model_only=True)
        if found is not None:
            self._read_model(found.folder, net)
        return found is not None

    def load(self, net: nn.Module, optimizer: torch.optim.Optimizer) -> Loaded | None:
        """Load the latest checkpoint into ``net`` and ``optimizer``, its files checked (:meth:`_open`);
        the counters, latest evaluation and this rank's state, or None when the run has none yet."""
        found = self._open(model_only=False)
        if found is None:
            return None
        folder = found.folder
        if folder == self.directory:
            raise CheckpointError(
                f"{self.directory / MANIFEST} is a checkpoint of an earlier version (weights and optimizer only): it serves to "
                f"evaluate the run (assistant.params.run) but cannot continue it; {self.fix}"
            )
        self._read_model(folder, net)
        trainer = self._torch_file(folder / TRAINER)
        with self.reading(folder / TRAINER):
            optimizer.load_state_dict(trainer["optimizer"])
            counters, last_eval = trainer["counters"], trainer.get("last_eval", {})
        prefix = f"rank{self.group.rank}"
        parts = {path.name[len(prefix) + 1 : -len(".safetensors")]: self._arrays(path) for path in sorted(folder.glob(f"{prefix}.*.safetensors"))}
        own = self._torch_file(folder / f"{prefix}.pt")
        with self.reading(folder / f"{prefix}.pt"):
            rank = RankState(own["rng"], parts, own["weights"])
        return Loaded(folder, counters, last_eval, rank)

    @contextlib.contextmanager
    def reading(self, path: Path):
        """Inside, what applying the contents of ``path`` raises when the file is readable but
        holds something else (a missing key, a wrong type, a bad random-generator state, arrays
        of another configuration) becomes a CheckpointError naming ``path`` and the fix."""
        try:
            yield
        except CheckpointError:
            raise
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError, AttributeError) as error:
            raise CheckpointError(
                f"{path} does not fit this run ({type(error).__name__}: {error}): it holds another configuration's state or is "
                f"damaged. Resume with the run's own settings, or {self.fix}"
            ) from error

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


def changed_settings(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The settings other than :data:`RESUMABLE` ones that differ between ``saved`` and
    ``current`` (nested configs), each as ``key: saved -> current`` (``(unset)`` where one has none)."""
    old, new = flat_params(saved), flat_params(current)
    keys = sorted(key for key in old.keys() | new.keys() if not any(key == r or key.startswith(f"{r}.") for r in RESUMABLE))
    return [f"{key}: {old.get(key, UNSET)} -> {new.get(key, UNSET)}" for key in keys if old.get(key, UNSET) != new.get(key, UNSET)]


def _read_json(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The JSON object in ``path``, or None and why not (missing, unreadable)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None, "is missing"
    except (OSError, ValueError) as error:
        return None, f"is unreadable ({error!r})"
    return (data, "") if isinstance(data, dict) else (None, "is unreadable (not a JSON object)")


def _sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


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
