"""Run directories that are never shared: OmegaConf resolvers for ``hydra.run.dir`` and
``hydra.sweep.dir`` (``configs/train.yaml``, ``configs/evaluate.yaml``, ``configs/play.yaml``).

``${path_name:TEXT}`` makes one file name of ``TEXT`` that pastes unquoted into a shell
and into a Hydra override (``assistant.params.run=runs/train/<name>``): the configs join
the overrides as ``key-value_key-value`` (``hydra.job.config.override_dirname``), and
``path_name`` keeps only the characters both accept, so ``env.preset=tiny seed=0`` names
a run ``<time>_env.preset-tiny_seed-0`` and a path in an override stays in one name.
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
import re
import tempfile
from pathlib import Path

from omegaconf import OmegaConf

MAX_NAME_BYTES = 200
"""Longest name ``path_name`` returns (file systems allow 255 bytes)."""
DROPPED = re.compile(r"[\[\]{}()'\"]")
"""Characters ``path_name`` leaves out (a list override ``baselines=[noop,oracle]`` names ``baselines-noop-oracle``)."""
UNSAFE = re.compile(r"[^A-Za-z0-9_.+@-]+")
"""Runs of characters ``path_name`` writes as one ``-``: all but those a shell and a Hydra override value both take as they are."""


def path_name(text: str) -> str:
    """``text`` as a single file name that a shell and Hydra's override grammar both take
    unquoted: brackets, braces, parentheses and quotes are dropped, and every run of other
    characters than ASCII letters, digits and ``_ . + @ -`` (``/``, ``=``, ``,``, ``:``,
    spaces, ...) becomes one ``-``; a name longer than :data:`MAX_NAME_BYTES` is cut and
    ends in 8 hex digits of its hash (so different long texts keep different names)."""
    name = UNSAFE.sub("-", DROPPED.sub("", str(text)))
    if len(name) <= MAX_NAME_BYTES:
        return name
    digest = hashlib.sha1(str(text).encode()).hexdigest()[:8]
    return name[: MAX_NAME_BYTES - 9] + "-" + digest


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
