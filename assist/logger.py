"""TensorBoard logging for runs: scalar groups keyed ``prefix/name`` against env steps,
text (evaluation transcripts) and hyperparameters with final metrics."""

from __future__ import annotations

from pathlib import Path

from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hparams_summary


class RunLogger:
    """Writes TensorBoard events into ``run_dir`` (scalars, text and images).

    purge_step: hide the run's earlier events at this step and later (a resumed run's
        events replace those written after its checkpoint, before it was killed).
    active: False makes every method a no-op (data-parallel ranks other than 0).
    """

    def __init__(self, run_dir: Path, purge_step: int | None = None, active: bool = True):
        self.writer = SummaryWriter(log_dir=str(run_dir), purge_step=purge_step) if active else None

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        if self.writer is None:
            return
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
