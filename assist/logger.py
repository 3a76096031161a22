"""TensorBoard logging for runs: scalar groups keyed ``prefix/name`` against env steps,
text (evaluation transcripts), pictures (evaluation end states) and hyperparameters with
final metrics, all in the run directory's one event file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hparams_summary

SCALAR_PREFIXES = {
    "charts": "self-play episodes that ended in the iteration: goal_pct, return, human_actions, ...",
    "losses": "the learner: each loss term, total, grad_norm and the algorithm's diagnostics",
    "search": "MCTS in self-play: simulations_per_s, depth, root_entropy",
    "eval": "held-out evaluation: the metrics of results.json (means)",
    "perf": "throughput: env_steps_per_s, updates_per_s, tokens_per_s (the LM's learner)",
    "hparams": "the final evaluation's means, once at the end, for the HParams tab",
}
"""Every scalar key is ``<prefix>/<name>`` with one of these prefixes (docs/training.md, "TensorBoard")."""


@dataclasses.dataclass
class LoggerConfig:
    """The ``logger`` config group.

    tensorboard: write TensorBoard events into the run directory (false: none at all,
        e.g. for a large sweep read only through ``results.json``).
    flush_secs: the longest time, in seconds, before logged values reach the event file
        (how soon a running TensorBoard shows them).
    """

    tensorboard: bool = True
    flush_secs: int = 30

    def __post_init__(self):
        if self.flush_secs < 1:
            raise ValueError(f"logger.flush_secs={self.flush_secs} must be >= 1 (seconds)")


class RunLogger:
    """Writes TensorBoard events into ``run_dir`` (scalars, text and images); with
    ``config.tensorboard`` false every call does nothing.

    purge_step: hide the run's earlier events at this step and later (a resumed run's
        events replace those written after its checkpoint, before it was killed).
    active: False makes every call do nothing too (data-parallel ranks other than 0).
    """

    def __init__(self, run_dir: Path, config: LoggerConfig | None = None, purge_step: int | None = None, active: bool = True):
        config = config if config is not None else LoggerConfig()
        writes = config.tensorboard and active
        self.config = config
        self.writer = SummaryWriter(log_dir=str(run_dir), flush_secs=config.flush_secs, purge_step=purge_step) if writes else None

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"{prefix}/{key}", value, step)

    def text(self, tag: str, text: str, step: int) -> None:
        if self.writer is not None:
            self.writer.add_text(tag, text, step)

    def hparams(self, params: dict[str, object], metrics: dict[str, float]) -> None:
        """Record the run's hyperparameters and final metrics in its own event file (the
        HParams tab then compares runs of a sweep); metric keys should be unique tags."""
        if self.writer is None:
            return
        for item in hparams_summary(params, metrics):
            self.writer.file_writer.add_summary(item)
        for key, value in metrics.items():
            self.writer.add_scalar(key, value)

    def image(self, tag: str, image, step: int) -> None:
        """An [H, W, 3] uint8 picture."""
        if self.writer is not None:
            self.writer.add_image(tag, image, step, dataformats="HWC")

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def flat_params(config: dict, prefix: str = "") -> dict[str, object]:
    """A nested config as ``{"a.b": value}`` with TensorBoard-friendly values (lists and
    None become strings)."""
    flat: dict[str, object] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_params(value, f"{name}."))
        else:
            flat[name] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return flat
