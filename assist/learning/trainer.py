"""What the trainers share: set-up, gradient steps that survive non-finite losses and
average over data-parallel ranks, the end of every iteration (self-play episode charts,
periodic held-out evaluation, periodic checkpoints), exact resume and stopping on request.

Exact resume: a checkpoint holds the weights, the optimizer, the counters, every random
generator (numpy's and torch's), and the arrays of each stateful part (:meth:`Trainer.parts`:
the running self-play games and, for AssistanceZero, the replay buffer), so a resumed run
draws the same numbers and sees the same data as one that never stopped.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from assist import evaluation
from assist.calibration import GoalScorer
from assist.checks import require_positive_ints
from assist.learning.checkpoints import TRAINER, CheckpointError, RankState, RunCheckpoint, capture_rng, restore_rng, weights_digest
from assist.learning.distributed import SINGLE, Group
from assist.learning.gradients import trunk_gradient_norms
from assist.learning.selfplay import SelfPlay
from assist.logger import RunLogger
from assist.models.base import Evaluator
from assist.models.torch_evaluator import TorchEvaluator
from assist.pictures import state_picture
from assist.players.base import Player
from assist.recording import replay_state
from envs.codec import TextCodec
from envs.core import AGENTS, GameCore


class Stateful(Protocol):
    """A part of a trainer whose arrays a checkpoint keeps (the replay buffer, running games)."""

    def state_dict(self) -> dict[str, np.ndarray]: ...

    def load_state_dict(self, arrays: dict[str, np.ndarray]) -> None: ...


class NonFiniteLossError(RuntimeError):
    """The loss or its gradient stayed non-finite for ``max_nonfinite`` updates in a row."""


@dataclasses.dataclass
class LoopConfig:
    """The training-loop settings every algorithm has (its config class extends this one
    and redeclares only the defaults it changes).

    name: the algorithm's name in the ``algo`` config group.
    iterations: training iterations (each collects data, then learns).
    lr, grad_clip: Adam's learning rate and the gradient-norm clip.
    eval_every, eval_episodes: evaluate on held-out goals every so many iterations, on so
        many episodes.
    checkpoint_every: save every so many iterations (and at the end).
    max_nonfinite: stop the run after this many updates in a row with a non-finite loss or
        gradient (each is skipped and counted in ``losses/skipped_updates``).
    """

    name: str = ""
    iterations: int = 200
    lr: float = 1e-3
    grad_clip: float = 10.0
    eval_every: int = 20
    eval_episodes: int = 64
    checkpoint_every: int = 20
    max_nonfinite: int = 10

    def __post_init__(self):
        require_positive_ints(self, "iterations", "eval_every", "eval_episodes", "checkpoint_every", "max_nonfinite")
        if not (self.lr > 0 and self.grad_clip > 0):
            raise ValueError(f"{type(self).__name__}: lr={self.lr} and grad_clip={self.grad_clip} must be > 0")


@dataclasses.dataclass(frozen=True)
class TrainingContext:
    """What every trainer is given beside its algorithm's settings and model.

    core: the game self-play plays (on `build`, the training goals: ``train_split``).
    eval_core: the game of the held-out evaluation (the env config's own goals).
    human, eval_human: the human seat's player in each of them (separate objects: players
        keep per-game state).
    run_dir: the run's directory (checkpoints, logs, config). seed: the run's seed (numpy's
        and torch's generators, rank 0's; see :func:`rank_seed`). device: ``"auto"``,
        ``"cpu"``, ``"cuda"``... logger: where scalars go (None: TensorBoard in ``run_dir``,
        rank 0 only). group: the data-parallel ranks (:data:`SINGLE`: one process).
    """

    core: GameCore
    eval_core: GameCore
    human: Any
    eval_human: Any
    run_dir: Path
    seed: int
    device: str = "auto"
    logger: RunLogger | None = None
    group: Group = SINGLE


def rank_seed(seed: int, rank: int) -> int | list[int]:
    """The seed of ``rank``'s generators: ``seed`` itself on rank 0 (so one rank draws what a
    single-process run draws), an independent stream ``[seed, rank]`` on the others."""
    return seed if rank == 0 else [seed, rank]


class Trainer:
    """Base of the trainers. Subclasses call ``super().__init__`` and then set ``selfplay``
    (if they play games between iterations), and define ``evaluate()`` and ``train()`` (a
    ``while self.running():`` loop whose iterations end with :meth:`finish_iteration`).
    ``evaluator``: how players call ``net`` (default: a :class:`TorchEvaluator` of it); a
    trainer of another kind of model (the LM pipeline's) passes its own. ``checkpoint`` may
    likewise be replaced by a :class:`RunCheckpoint` subclass that stores ``net`` its own way.

    ``config`` needs ``iterations``, ``eval_every``, ``checkpoint_every``, ``lr`` and
    ``max_nonfinite``. With a distributed ``group`` every rank trains on its own self-play
    (its generators seeded by :func:`rank_seed`); rank 0 logs, evaluates and owns the run
    directory.
    """

    selfplay: SelfPlay | None = None
    """Games kept running between iterations (their finished episodes are charted, their state
    checkpointed); None for a trainer without (learning from fixed data or whole episodes)."""

    def __init__(self, context: TrainingContext, net: nn.Module, config, evaluator: Evaluator | None = None):
        self.context, self.net, self.config = context, net, config
        self.core, self.eval_core, self.human, self.eval_human = context.core, context.eval_core, context.human, context.eval_human
        self.run_dir, self.seed, self.group = Path(context.run_dir), context.seed, context.group
        seed, group, logger = context.seed, context.group, context.logger
        self.rng = np.random.default_rng(rank_seed(seed, group.rank))
        torch.manual_seed(seed + group.rank)
        self.evaluator = TorchEvaluator(net, device=context.device) if evaluator is None else evaluator
        self.device = self.evaluator.device
        group.broadcast(net.state_dict().values())  # every rank starts from rank 0's weights
        self.optimizer = torch.optim.Adam(self.parameter_groups(), lr=config.lr)
        self.checkpoint = RunCheckpoint(self.run_dir / "checkpoints", group)
        self.logger = logger if logger is not None else RunLogger(self.run_dir, active=group.is_main)
        self.iteration = 0
        self.env_steps = 0
        self.skipped_updates = 0
        """Updates skipped because the loss or its gradient was not finite (the whole run)."""
        self.nonfinite_streak = 0
        self.last_eval: Mapping[str, evaluation.Summary] = {}
        """The latest held-out evaluation (``{metric: Summary}``, with 95% CIs over its episodes); empty until the first."""
        self.stop_requests: list[int] = []
        """Signal numbers received: any stops the run at the end of the current iteration, after a checkpoint."""
        self.stopped = False
        self.saved_iteration = 0
        """The iteration of the run's latest checkpoint (0: none)."""
        self.seconds_before = 0.0
        """Training time of the run's earlier invocations, up to the checkpoint this one resumed from (s)."""
        self.invocation_start = time.perf_counter()
        self.eval_seconds = 0.0
        """Time this invocation spent in held-out evaluations (s)."""

    def parameter_groups(self):
        """The optimizer's parameters (all at ``config.lr``); a subclass may return groups
        with their own learning rates."""
        return self.net.parameters()

    def parts(self) -> dict[str, Stateful]:
        """The stateful parts a checkpoint keeps, by name."""
        return {} if self.selfplay is None else {"games": self.selfplay}

    # ------------------------------------------------------------ learning

    def apply_gradients(self, total: torch.Tensor, grad_clip: float, terms: dict[str, torch.Tensor]) -> float:
        """Backpropagate ``total``, average the gradients over the ranks, clip their norm to
        ``grad_clip`` and step the optimizer; the gradient norm before clipping.

        A non-finite loss or gradient norm (on any rank) skips the step, counted in
        ``skipped_updates``; ``config.max_nonfinite`` of them in a row raise
        :class:`NonFiniteLossError` naming the losses (``terms``, each a scalar tensor).
        """
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        return self.step_gradients(total, grad_clip, terms)

    def weighted_step(self, terms: dict[str, torch.Tensor], weights: dict[str, float], grad_clip: float, trunk_grads: bool = False) -> dict[str, float]:
        """One optimizer step on the sum of the weighted ``terms`` (those with a key in
        ``weights``; other terms are only logged); every term, ``total`` and ``grad_norm`` as floats, and
        with ``trunk_grads`` each weighted term's gradient norm on the shared trunk before
        the step (``trunk_grad_<term>``, :func:`~assist.learning.gradients.trunk_gradient_norms`)."""
        weighted = {key: terms[key] for key in weights if key in terms}
        norms = trunk_gradient_norms(weighted, weights, self.net.parameters()) if trunk_grads else {}
        total = sum(weights[key] * value for key, value in weighted.items())
        grad_norm = self.apply_gradients(total, grad_clip, terms)
        logged = {key: value.item() for key, value in terms.items()}
        logged.update({f"trunk_grad_{key}": norm for key, norm in norms.items()})
        return {**logged, "total": total.item(), "grad_norm": float(grad_norm)}

    def step_gradients(self, total: torch.Tensor, grad_clip: float, terms: dict[str, torch.Tensor]) -> float:
        """:meth:`apply_gradients` for gradients already accumulated in the parameters'
        ``.grad`` (backpropagated piecewise by the caller; ``total``: their loss, a scalar)."""
        self.group.average_gradients(self.net.parameters())
        grad_norm = nn.utils.clip_grad_norm_(self.net.parameters(), grad_clip)
        if self.group.all_true(bool(torch.isfinite(total)) and bool(torch.isfinite(grad_norm))):
            self.optimizer.step()
            self.nonfinite_streak = 0
        else:
            self.skipped_updates += 1
            self.nonfinite_streak += 1
            if self.nonfinite_streak >= self.config.max_nonfinite:
                losses = ", ".join(f"{key}={value.item():.4g}" for key, value in terms.items())
                raise NonFiniteLossError(
                    f"the loss or its gradient was not finite in {self.nonfinite_streak} updates in a row at iteration "
                    f"{self.iteration + 1} ({losses}, grad_norm={float(grad_norm):.4g}); the run stops here; its latest "
                    f"checkpoint in {self.checkpoint.directory}, if any, is intact. Lower algo.lr or algo.grad_clip, check the inputs, "
                    "or raise algo.max_nonfinite to tolerate more"
                )
        self.group.broadcast(self.net.buffers())  # batch-norm statistics: rank 0's, as DistributedDataParallel does
        return float(grad_norm)

    # ------------------------------------------------------ the iteration's end

    def running(self) -> bool:
        """Whether to run another iteration: some are left and no rank was asked to stop.
        A stop saves a checkpoint first (unless this iteration's is already written)."""
        if self.iteration >= self.config.iterations:
            return False
        if self.group.any_true(bool(self.stop_requests)):
            if self.saved_iteration != self.iteration:
                self.save()
            self.stopped = True
            return False
        return True

    def evaluate_assistant(self, assistant: Player, name: str, record: list | None = None) -> dict[str, evaluation.Summary]:
        """``config.eval_episodes`` held-out episodes of ``eval_human`` with ``assistant`` (a
        player with ``last_output``, see :class:`~assist.calibration.GoalScorer`), episode
        dicts appended to ``record``: their metrics' summaries (row ``name``); logs the
        goal belief's :meth:`~assist.calibration.GoalScorer.figures` under ``eval/``."""
        scorer = GoalScorer(self.eval_core, assistant)
        episodes = self.config.eval_episodes
        results = evaluation.evaluate(self.eval_core, self.eval_human, scorer, episodes, episodes, self.seed + 1, record=record)
        self.logger.scalars("eval", scorer.figures(), self.env_steps)
        return evaluation.summarize({name: results}, seed=self.seed)[name]

    def finish_iteration(self, progress=None) -> None:
        """Log finished self-play episodes, evaluate and save when due; updates ``latest``."""
        cfg, step, main = self.config, self.env_steps, self.group.is_main
        finished = self.selfplay.pop_finished() if self.selfplay is not None else {}
        if finished:
            self.logger.scalars("charts", {key: _mean(value) for key, value in finished.items()}, step)
        self.logger.scalars("losses", {"skipped_updates": self.skipped_updates}, step)
        final = self.iteration == cfg.iterations
        if main and (self.iteration % cfg.eval_every == 0 or final):
            episodes: list[dict] = []
            tic = time.perf_counter()
            self.last_eval = self.evaluate(record=episodes)
            self.eval_seconds += time.perf_counter() - tic
            self.logger.scalars("eval", self.latest, step)
            self.logger.text("eval/transcript", transcript(self.eval_core, episodes[0]), step)
            self.logger.image("eval/final_state", state_picture(self.eval_core, replay_state(self.eval_core, episodes[0])), step)
        if self.iteration % cfg.checkpoint_every == 0 or final:
            self.save()
        if progress is not None and main:
            progress(self.iteration, step, self.latest)

    # -------------------------------------------------------------- checkpoints

    @property
    def latest(self) -> dict[str, float]:
        """The latest held-out evaluation's means."""
        return {key: summary.mean for key, summary in self.last_eval.items()}

    def train_seconds(self) -> float:
        """The whole run's training time so far (s): this invocation's plus, for a resumed
        run, its earlier ones' up to the checkpoint it resumed from."""
        return self.seconds_before + time.perf_counter() - self.invocation_start

    def counters(self) -> dict[str, int | float]:
        return {
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "skipped_updates": self.skipped_updates,
            "nonfinite_streak": self.nonfinite_streak,
            "train_seconds": round(self.train_seconds(), 1),
        }

    def save(self) -> None:
        """Write a checkpoint of everything the run needs to continue exactly (a collective)."""
        self.logger.flush()  # events up to this checkpoint are on disk with it
        rank = RankState(capture_rng(self.rng), {name: part.state_dict() for name, part in self.parts().items()}, weights_digest(self.net))
        last_eval = {key: summary.to_dict() for key, summary in self.last_eval.items()}
        self.checkpoint.save(self.net, self.optimizer, self.counters(), last_eval, rank)
        self.saved_iteration = self.iteration

    def resume(self) -> bool:
        """Continue from the run directory's latest checkpoint, if there is one: weights,
        optimizer, counters, generators and parts as they were when it was written. Its
        files are checked against their digests, the weights against the digest the rank
        saved with them, and anything that does not fit is a CheckpointError naming the file."""
        loaded = self.checkpoint.load(self.net, self.optimizer)
        if loaded is None:
            return False
        rank = f"rank{self.group.rank}"
        for name, part in self.parts().items():
            path = loaded.folder / f"{rank}.{name}.safetensors"
            if name not in loaded.rank.parts:
                raise CheckpointError(f"{path} is missing; {self.checkpoint.fix}")
            with self.checkpoint.reading(path):
                part.load_state_dict(loaded.rank.parts[name])
        with self.checkpoint.reading(loaded.folder / f"{rank}.pt"):
            restore_rng(self.rng, loaded.rank.rng)
            if loaded.rank.weights != weights_digest(self.net):
                raise ValueError("the weights it was saved with are not the checkpoint's network")
        with self.checkpoint.reading(loaded.folder / TRAINER):
            counters = loaded.counters
            self.iteration, self.env_steps = int(counters["iteration"]), int(counters["env_steps"])
            self.skipped_updates, self.nonfinite_streak = int(counters.get("skipped_updates", 0)), int(counters.get("nonfinite_streak", 0))
            self.seconds_before, self.invocation_start = float(counters.get("train_seconds", 0.0)), time.perf_counter()
            self.last_eval = {key: evaluation.Summary.from_dict(summary) for key, summary in loaded.last_eval.items()}
        self.saved_iteration = self.iteration
        self.logger.close()  # events written after the checkpoint (before a crash) are hidden from TensorBoard
        self.logger = RunLogger(self.run_dir, self.logger.config, purge_step=self.env_steps + 1, active=self.group.is_main)
        return True


def _mean(values: np.ndarray) -> float:
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

