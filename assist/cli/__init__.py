"""Hydra entry points; ``scripts/*.py`` and the console scripts call their ``main``."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import NamedTuple

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")
"""The repository's ``configs/`` tree, found from any working directory (the package is
installed in place: ``pip install -e .``)."""


THREADS_HELP = "torch's CPU threads (0: torch's default, one per core)"


def set_threads(threads: int) -> None:
    """Set torch's CPU threads, the one rule of every entry point: ``threads`` (default 1)
    > 0 sets that many, 0 keeps torch's default (one per core). One is fastest for this
    project's small networks on a shared CPU, where torch's default leaves every thread
    waiting on the others and on the games' own stepping."""
    if threads < 0:
        raise ValueError(f"threads={threads} must be >= 0 ({THREADS_HELP}; 1 is fastest for the small presets)")
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


@contextlib.contextmanager
def one_line_errors(*kinds: type[Exception]):
    """Inside an entry point's ``main``: a :class:`~assist.config.ConfigError`, a
    :class:`~assist.models.checkpoint.CheckpointError` or one of ``kinds`` (errors whose
    messages name the key or file and say what to do) is printed as one ``error: ...`` line
    on stderr, without a traceback, and the process exits with status 1."""
    from assist.config import ConfigError
    from assist.models.checkpoint import CheckpointError

    try:
        yield
    except (ConfigError, CheckpointError, *kinds) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


class Job(NamedTuple):
    """What an entry point's ``run`` needs from the Hydra job it runs in."""

    out_dir: Path
    """The run directory (``hydra.run.dir``, or the job's sub-directory of a sweep)."""
    overrides: list[str]
    """The command line's overrides of this job, as typed."""
    progress: bool
    """Show progress bars: only in a single run (the jobs of a multirun share one terminal);
    the bars themselves also stay quiet when stderr is not a terminal."""


def hydra_job() -> Job:
    """The running Hydra job's :class:`Job` (call inside a ``@hydra.main`` function)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    return Job(Path(hydra_cfg.runtime.output_dir), list(hydra_cfg.overrides.task), hydra_cfg.mode == RunMode.RUN)
