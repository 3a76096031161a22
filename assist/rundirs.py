"""Run directories that are never shared: OmegaConf resolvers for ``hydra.run.dir`` and
``hydra.sweep.dir`` (``configs/train.yaml``, ``configs/evaluate.yaml``).

``${path_name:TEXT}`` makes one file name of ``TEXT`` (an override such as
``assistant.params.run=runs/train/x`` would otherwise nest directories), and
``${fresh_dir:PATH}`` creates a new directory at ``PATH`` (or ``PATH_2``, ``PATH_3``, ...
when it is taken) and returns its path, so two runs started in the same second with the
same overrides write to different directories (``${rank_zero_dir:PATH}`` does so only on
``torchrun``'s rank 0: one run directory per data-parallel run). ``fresh_dir`` claims the directory with
one ``mkdir`` (atomic, so parallel processes cannot get the same one); its result is
cached in the config, so every later read of the key gives the same directory.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import tempfile
from pathlib import Path

from omegaconf import OmegaConf

MAX_NAME_BYTES = 200
"""Longest name ``path_name`` returns (file systems allow 255 bytes)."""


def path_name(text: str) -> str:
    """``text`` as a single file name: path separators become ``-``; a name longer than
    :data:`MAX_NAME_BYTES` is cut and ends in 8 hex digits of its hash (so different
    long texts keep different names)."""
    name = str(text).replace("/", "-").replace(os.sep, "-")
    encoded = name.encode()
    if len(encoded) <= MAX_NAME_BYTES:
        return name
    digest = hashlib.sha1(encoded).hexdigest()[:8]
    return encoded[: MAX_NAME_BYTES - 9].decode(errors="ignore") + "-" + digest


def fresh_dir(path: str) -> str:
    """Create a new directory ``path`` (or ``path_2``, ``path_3``, ... if taken), with its
    parents; return the one created."""
    base = Path(str(path))
    base.parent.mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):
        candidate = base if n == 1 else base.with_name(f"{base.name}_{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return str(candidate)
    raise AssertionError("unreachable")


def launched_rank() -> int:
    """The rank ``torchrun`` gave this process (0 when it was not launched by torchrun)."""
    return int(os.environ.get("RANK", "0"))


def rank_zero_dir(path: str) -> str:
    """``fresh_dir(path)`` in a process that ``torchrun`` made rank 0 (or that no torchrun
    launched); on the other data-parallel ranks a shared scratch folder for Hydra's own
    log (``$TMPDIR/assist-ranks``): they learn the run directory from rank 0."""
    if launched_rank() == 0:
        return fresh_dir(path)
    scratch = Path(tempfile.gettempdir()) / "assist-ranks"
    scratch.mkdir(parents=True, exist_ok=True)
    return str(scratch)


def on_rank_zero(value, elsewhere=None):
    """``value`` on rank 0 (or without torchrun), else ``elsewhere`` (``hydra.output_subdir``:
    only rank 0 writes ``.hydra/``)."""
    return value if launched_rank() == 0 else elsewhere


def register_resolvers() -> None:
    """Register ``path_name``, ``fresh_dir``, ``rank_zero_dir`` and ``on_rank_zero`` with OmegaConf (idempotent)."""
    OmegaConf.register_new_resolver("path_name", path_name, replace=True)
    OmegaConf.register_new_resolver("fresh_dir", fresh_dir, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("rank_zero_dir", rank_zero_dir, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("on_rank_zero", on_rank_zero, replace=True)
