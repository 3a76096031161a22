"""Behaviour cloning of the human seat from recordings (``assist-recording/v1``).

Recordings made by the evaluator, the terminal or the browser all hold each episode's
seed, goal and joint actions. :func:`human_steps` replays them and keeps, per step, the
human's observation (goal included), its legal actions and the action it took (the no-op
where the recorded action was illegal, since that is what was applied). :func:`train`
fits a :mod:`assist.models.bc` network with the masked cross-entropy of
:func:`~assist.learning.losses.human_loss`, holding whole episodes out, and reports its
accuracy on the held-out steps beside the trivial baseline (always the most common
training action).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from assist import recording
from assist.checks import require_positive_ints
from assist.learning.losses import human_loss, masked_log_softmax
from assist.models.bc import make_net
from assist.models.torch_evaluator import resolve_device, to_tensor
from envs.core import HUMAN, GameCore


class HumanSteps(NamedTuple):
    """N recorded human steps.

    observation: the human's observations, arrays with leading N.
    legal: [N, A_H] bool. action: [N] int64 the applied action. episode: [N] int64 which
    episode (numbered over all files) each step is from.
    """

    observation: dict[str, np.ndarray]
    legal: np.ndarray
    action: np.ndarray
    episode: np.ndarray

    def take(self, rows: np.ndarray) -> HumanSteps:
        return HumanSteps({k: v[rows] for k, v in self.observation.items()}, self.legal[rows], self.action[rows], self.episode[rows])


def recording_files(source: str | Path) -> list[Path]:
    """The recordings at ``source``: one ``.jsonl`` file, or every ``*.jsonl`` below a folder."""
    source = Path(source)
    files = sorted(source.rglob("*.jsonl")) if source.is_dir() else [source] if source.is_file() else []
    if not files:
        raise FileNotFoundError(f"no recordings at {source}: give a .jsonl recording or a folder holding some")
    return files


def human_steps(files: list[Path]) -> tuple[GameCore, dict[str, Any], HumanSteps]:
    """The game, its options and every human step of the recordings in ``files``, which
    must all be of one game with the same options (each checked against it:
    :func:`~assist.recording.read_game`)."""
    core, episodes = None, []
    for path in files:
        rec, played = recording.read_game(path)
        if core is None:
            core, game, options = played, rec.header["game"], rec.header["config"]
        elif (rec.header["game"], rec.header["config"]) != (game, options):
            raise ValueError(f"{path} is {rec.header['game']} {rec.header['config']}, but {files[0]} is {game} {options}: train on recordings of one game")
        episodes.extend(rec.episodes)
    if not any(len(episode["actions"]) for episode in episodes):
        raise ValueError(f"the recordings {[str(f) for f in files]} hold no steps")
    steps = recording.seat_steps(core, episodes, HUMAN)
    return core, options, HumanSteps(steps.observation, steps.legal, steps.action, steps.episode)


@dataclasses.dataclass
class BCTrainConfig:
    """How to fit the human network.

    epochs: passes over the training steps. batch_size: steps per update. lr: Adam's
    learning rate. holdout: the fraction of episodes held out to measure accuracy (at
    least one episode each side). sizes: the network's size options
    (:mod:`assist.models.bc`). seed: the split, the initialization and the batches.
    """

    epochs: int = 20
    batch_size: int = 128
    lr: float = 3e-3
    holdout: float = 0.2
    sizes: dict[str, int] = dataclasses.field(default_factory=dict)
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        require_positive_ints(self, "epochs", "batch_size")
        if not self.lr > 0:
            raise ValueError(f"BCTrainConfig: lr={self.lr} must be > 0")
        if not 0 < self.holdout < 1:
            raise ValueError(f"holdout={self.holdout} must be a fraction of the episodes in (0, 1)")


def split_episodes(steps: HumanSteps, holdout: float, rng: np.random.Generator) -> tuple[HumanSteps, HumanSteps]:
    """(train, held out): whole episodes, ``holdout`` of them (at least one each side) held out."""
    ids = np.unique(steps.episode)
    if len(ids) < 2:
        raise ValueError(f"need at least 2 recorded episodes to hold some out, got {len(ids)}")
    count = min(max(1, round(holdout * len(ids))), len(ids) - 1)
    held = np.isin(steps.episode, rng.permutation(ids)[:count])
    return steps.take(~held), steps.take(held)


def accuracy(net: torch.nn.Module, steps: HumanSteps, device: torch.device) -> float:
    """Fraction of ``steps`` whose action is the net's most probable legal action."""
    net.eval()
    with torch.inference_mode():
        logits = net({k: to_tensor(v, device) for k, v in steps.observation.items()})
        best = masked_log_softmax(logits, to_tensor(steps.legal, device)).argmax(dim=1).cpu().numpy()
    return float((best == steps.action).mean())


def train(core: GameCore, steps: HumanSteps, config: BCTrainConfig, log=print) -> tuple[torch.nn.Module, dict[str, float]]:
    """Fit a human network for ``core`` to ``steps``; the net and its metrics: held-out
    ``accuracy``, the ``baseline`` accuracy of always playing the most common training
    action, the last epoch's mean training ``loss``, and the step counts."""
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    train_steps, held = split_episodes(steps, config.holdout, rng)
    net = make_net(core, **config.sizes).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    data = {key: to_tensor(value, device) for key, value in train_steps.observation.items()}
    legal, action = to_tensor(train_steps.legal, device), to_tensor(train_steps.action, device)
    N = len(action)
    for epoch in range(config.epochs):
        net.train()
        losses = []
        for rows in np.array_split(rng.permutation(N), max(1, N // config.batch_size)):
            index = torch.from_numpy(rows).to(device)
            loss = human_loss(net({k: v[index] for k, v in data.items()}), legal[index], action[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        log(f"epoch {epoch + 1}/{config.epochs}: loss {np.mean(losses):.4f}")
    common = np.bincount(train_steps.action).argmax()
    metrics = {
        "accuracy": accuracy(net, held, device),
        "baseline": float((held.action == common).mean()),
        "loss": float(np.mean(losses)),
        "train_steps": N,
        "heldout_steps": len(held.action),
    }
    return net.cpu().eval(), metrics
