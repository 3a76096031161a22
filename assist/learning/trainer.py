"""What the trainers share: counters, checkpoints, and the end of every iteration
(self-play episode charts, periodic held-out evaluation, periodic checkpoints)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from assist import evaluation
from assist.recording import replay_state
from envs.codec import TextCodec
from envs.core import AGENTS


class Trainer:
    """Base of the trainers. Subclasses set ``config`` (with ``iterations``,
    ``eval_every``, ``checkpoint_every``), ``net``, ``optimizer``, ``selfplay``,
    ``logger``, ``checkpoint``, ``iteration`` and ``env_steps``, and define ``evaluate()``.

    ``last_eval`` is the latest held-out evaluation (``{metric: Summary}``, with 95%
    CIs over its episodes); empty until the first one.
    """

    last_eval: Mapping[str, evaluation.Summary] = MappingProxyType({})
    selfplay = None
    """Games kept running between iterations (``pop_finished()`` gives their finished
    episodes' metrics for ``charts/``); None for a trainer without (e.g. offline data)."""

    def finish_iteration(self, latest: dict[str, float], progress=None) -> dict[str, float]:
        """Log finished self-play episodes, evaluate and save when due; the latest
        evaluation's means (``latest`` unchanged if none was due)."""
        cfg, step = self.config, self.env_steps
        finished = self.selfplay.pop_finished() if self.selfplay is not None else {}
        if finished:
            self.logger.scalars("charts", {key: finite_mean(value) for key, value in finished.items()}, step)
        final = self.iteration == cfg.iterations
        if self.iteration % cfg.eval_every == 0 or final:
            episodes: list[dict] = []
            self.last_eval = self.evaluate(record=episodes)
            latest = {key: s.mean for key, s in self.last_eval.items()}
            self.logger.scalars("eval", latest, step)
            self.logger.text("eval/transcript", transcript(self.eval_core, episodes[0]), step)
            self.logger.image("eval/final_state", self.eval_core.render_rgb(replay_state(self.eval_core, episodes[0]), 0), step)
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


def finite_mean(values: np.ndarray) -> float:
    """Mean over the finite values (a metric may be NaN where it is undefined), else NaN."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def transcript(core, episode: dict) -> str:
    """A Markdown transcript of one recorded episode: each step's actions as text."""
    codec = TextCodec(core)
    lines = [f"goal {episode['metrics'].get('goal_pct', float('nan')):.0f}%, return {episode['metrics'].get('return', 0.0):.2f}", ""]
    for t, (joint, reward) in enumerate(zip(episode["actions"], episode["rewards"])):
        said = "; ".join(f"{agent}: {codec.action_text(agent, a)}" for agent, a in zip(AGENTS, joint))
        lines.append(f"    {t:3d}  {said}  (reward {reward:+g})")
    return "\n".join(lines)
