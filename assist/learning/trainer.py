"""What the trainers share: counters, checkpoints, and the end of every iteration
(self-play episode charts, periodic held-out evaluation, periodic checkpoints)."""

from __future__ import annotations

import numpy as np


class Trainer:
    """Base of the trainers. Subclasses set ``config`` (with ``iterations``,
    ``eval_every``, ``checkpoint_every``), ``net``, ``optimizer``, ``selfplay``,
    ``logger``, ``checkpoint``, ``iteration`` and ``env_steps``, and define ``evaluate()``."""

    def finish_iteration(self, latest: dict[str, float], progress=None) -> dict[str, float]:
        """Log finished self-play episodes, evaluate and save when due; the latest
        evaluation's means (``latest`` unchanged if none was due)."""
        cfg, step = self.config, self.env_steps
        finished = self.selfplay.pop_finished()
        if finished:
            self.logger.scalars("charts", {key: _mean(value) for key, value in finished.items()}, step)
        final = self.iteration == cfg.iterations
        if self.iteration % cfg.eval_every == 0 or final:
            latest = {key: s.mean for key, s in self.evaluate().items()}
            self.logger.scalars("eval", latest, step)
        if self.iteration % cfg.checkpoint_every == 0 or final:
            self.save()
        if progress is not None:
            progress(self.iteration, step, latest)
        return latest

    def save(self) -> None:
        self.checkpoint.save(self.net, self.optimizer, {"iteration": self.iteration, "env_steps": self.env_steps})

    def resume(self) -> bool:
        """Continue from the run directory's latest checkpoint, if there is one."""
        counters = self.checkpoint.load(self.net, self.optimizer)
        if counters is None:
            return False
        self.iteration, self.env_steps = counters["iteration"], counters["env_steps"]
        return True


def _mean(values: np.ndarray) -> float:
    """Mean over the finite values (a metric may be NaN where it is undefined), else NaN."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")
