"""TensorBoard logging for runs: scalar groups keyed ``prefix/name`` against env steps."""

from __future__ import annotations

from pathlib import Path

from torch.utils.tensorboard import SummaryWriter


class RunLogger:
    """Writes TensorBoard events into ``run_dir`` (scalars, text and images)."""

    def __init__(self, run_dir: Path):
        self.writer = SummaryWriter(log_dir=str(run_dir))

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        for key, value in values.items():
            self.writer.add_scalar(f"{prefix}/{key}", value, step)

    def text(self, tag: str, text: str, step: int) -> None:
        self.writer.add_text(tag, text, step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
