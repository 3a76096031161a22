"""Hydra entry points; ``scripts/*.py`` and the console scripts call their ``main``."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")
"""The repository's ``configs/`` tree, found from any working directory (the package is
installed in place: ``pip install -e .``)."""


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
