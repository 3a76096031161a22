"""Behaviour-cloning human models: the human's observation (goal included) to action logits.

A person knows their goal, so a model of a person reads the human seat's observation
(``observe(state, "human_0")``), which holds it. Two networks, one per game:

- :class:`BuildHumanNet` (`build`): per-voxel embeddings of the block, who touched it,
  the players and the goal block, 3-D residual blocks (:class:`~assist.models.conv.ResidualBlock`),
  then the flat action layout of :mod:`envs.building.core` (:func:`~assist.models.conv.flat_logits`):
  no-op and moves from pooled features and the features at the human's voxel, place and
  break per voxel, messages (chat on) from pooled features.
- :class:`KitchenHumanNet` (`kitchen`): an MLP over one-hot state, step and goal.

Both map an observation dict of tensors with leading B to logits [B, A_H] float32.
:func:`save` writes a model folder (``model.safetensors`` and ``bc.json``: the game, its
options, the sizes and the training metrics); :func:`load` rebuilds the net from the JSON
and loads the weights from safetensors only (no code is executed).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from assist.models.checkpoint import atomic_write, load_weights, save_weights
from assist.models.conv import HUMAN_SEAT, ResidualBlock, at_seat, flat_logits
from envs.building.core import FIRST_PLACE, BuildCore
from envs.core import HUMAN, GameCore
from envs.kitchen.core import KitchenCore

FORMAT = "assist-bc/v1"
WEIGHTS, CONFIG = "model.safetensors", "bc.json"


def _check_sizes(config) -> None:
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{type(config).__name__}: {field.name}={value!r} must be an int >= 1 (default {field.default})")


@dataclasses.dataclass(frozen=True)
class BuildHumanNetConfig:
    """Sizes of a :class:`BuildHumanNet`: feature width, residual blocks, their odd kernel, embedding size."""

    channels: int = 32
    blocks: int = 2
    kernel: int = 3
    embed: int = 8

    def __post_init__(self):
        _check_sizes(self)
        if self.kernel % 2 == 0:
            raise ValueError(f"BuildHumanNet: kernel={self.kernel} must be odd so that padding keeps the world's size (try 3)")


class BuildHumanNet(nn.Module):
    """The human's action logits in a `build` game from its observation (see the module docstring)."""

    def __init__(self, core: BuildCore, config: BuildHumanNetConfig = BuildHumanNetConfig()):
        super().__init__()
        if not isinstance(core, BuildCore):
            raise ValueError(f"BuildHumanNet needs a BuildCore, got {type(core).__name__}")
        self.config, self.shape, self.horizon, self.chat = config, core.shape, core.horizon, core.config.chat
        C, E = config.channels, config.embed
        self.block, self.goal = nn.Embedding(core.n, E), nn.Embedding(core.n, E)
        self.touched, self.player = nn.Embedding(3, E), nn.Embedding(3, E)
        self.project = nn.Conv3d(4 * E + 1, C, 1)
        self.trunk = nn.Sequential(*(ResidualBlock(C, config.kernel) for _ in range(config.blocks)))
        self.voxel_head = nn.Conv3d(C, core.P + 1, 1)
        self.moves = nn.Linear(3 * C, FIRST_PLACE)
        self.messages = nn.Linear(2 * C, core.num_messages) if self.chat else None

    def forward(self, observation: dict[str, Tensor]) -> Tensor:
        """observation: ``world`` [B, 4, W, H, D] ints (block, touched, players, goal) and
        ``step`` [B, 1] ints. Returns logits [B, A_H] float32."""
        world = observation["world"].long()
        if tuple(world.shape[1:]) != (4,) + self.shape:
            raise ValueError(f"BuildHumanNet: world must be the human's observation [B, 4, {', '.join(map(str, self.shape))}], got {list(world.shape)}")
        embedded = torch.cat([self.block(world[:, 0]), self.touched(world[:, 1]), self.player(world[:, 2]), self.goal(world[:, 3])], dim=-1)
        progress = (observation["step"].float() / self.horizon).view(-1, 1, 1, 1, 1).expand(-1, 1, *self.shape)
        x = self.trunk(F.relu(self.project(torch.cat([embedded.permute(0, 4, 1, 2, 3), progress], dim=1))))
        flat = x.flatten(2)
        pooled = torch.cat([flat.mean(2), flat.amax(2)], dim=1)
        mine = torch.cat([pooled, at_seat(flat, world[:, 2].flatten(1), HUMAN_SEAT)], dim=1)
        return flat_logits(self.moves(mine), self.voxel_head(x), self.messages(pooled) if self.chat else None)


@dataclasses.dataclass(frozen=True)
class KitchenHumanNetConfig:
    """Sizes of a :class:`KitchenHumanNet`: hidden width and Linear-ReLU layers."""

    hidden: int = 64
    layers: int = 2

    def __post_init__(self):
        _check_sizes(self)


class KitchenHumanNet(nn.Module):
    """The human's action logits in a `kitchen` game from one-hot (state, step, goal)."""

    def __init__(self, core: KitchenCore, config: KitchenHumanNetConfig = KitchenHumanNetConfig()):
        super().__init__()
        if not isinstance(core, KitchenCore):
            raise ValueError(f"KitchenHumanNet needs a KitchenCore, got {type(core).__name__}")
        game = core.game
        self.config = config
        self.sizes = (game.num_states, game.horizon + 1, game.num_goals)
        layers, width = [], sum(self.sizes)
        for _ in range(config.layers):
            layers += [nn.Linear(width, config.hidden), nn.ReLU()]
            width = config.hidden
        self.body = nn.Sequential(*layers, nn.Linear(width, game.num_human_actions))

    def forward(self, observation: dict[str, Tensor]) -> Tensor:
        """observation: ``state``, ``t``, ``goal`` [B] ints. Returns logits [B, A_H] float32."""
        keys = ("state", "t", "goal")
        x = torch.cat([F.one_hot(observation[key].long().view(-1), size) for key, size in zip(keys, self.sizes)], dim=1)
        return self.body(x.float())


NETS: dict[str, tuple[type[nn.Module], type]] = {
    "build": (BuildHumanNet, BuildHumanNetConfig),
    "kitchen": (KitchenHumanNet, KitchenHumanNetConfig),
}
"""Each game's human network and its size config."""


def make_net(core: GameCore, **sizes) -> nn.Module:
    """A fresh human network for ``core``'s game, with ``sizes`` overriding the defaults."""
    if core.name not in NETS:
        raise ValueError(f"no behaviour-cloning network for game {core.name!r}; games: {sorted(NETS)}")
    net_class, config_class = NETS[core.name]
    fields = [field.name for field in dataclasses.fields(config_class)]
    unknown = sorted(set(sizes) - set(fields))
    if unknown:
        raise ValueError(f"unknown {net_class.__name__} size(s) {unknown}; valid sizes: {fields}")
    return net_class(core, config_class(**sizes))


def signature(core: GameCore) -> dict[str, Any]:
    """What a trained net must match in a game: its name, the human's action count and
    observation shapes."""
    space = core.observation_space(HUMAN)
    return {"game": core.name, "actions": core.num_actions(HUMAN), "observation": {key: list(space[key].shape) for key in space}}


def save(folder: str | Path, net: nn.Module, core: GameCore, env: dict[str, Any], metrics: dict[str, Any]) -> Path:
    """Write ``net`` (trained on ``core``, the game with options ``env``) and its training
    ``metrics`` to ``folder``; return the folder."""
    folder = Path(folder)
    save_weights(folder / WEIGHTS, net)
    card = {"format": FORMAT, **signature(core), "env": env, "sizes": dataclasses.asdict(net.config), "metrics": metrics}
    atomic_write(folder / CONFIG, json.dumps(card, indent=2).encode())
    return folder


def load(folder: str | Path, core: GameCore) -> nn.Module:
    """The human network saved in ``folder`` for ``core``'s game (in eval mode).

    Raises FileNotFoundError if the folder lacks its files, and ValueError if it was
    trained for another game or game size (the message names both)."""
    folder = Path(folder)
    if not (folder / CONFIG).is_file():
        raise FileNotFoundError(f"{folder} is not a behaviour-cloning model folder: {folder / CONFIG} is missing (train one with scripts/train_bc.py)")
    card = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    if card.get("format") != FORMAT:
        raise ValueError(f"{folder / CONFIG}: format is {card.get('format')!r}, expected {FORMAT!r}")
    ours = signature(core)
    theirs = {key: card.get(key) for key in ours}
    if theirs != ours:
        raise ValueError(f"{folder} was trained on {card['game']} with options {card.get('env')} ({theirs}); this game is {ours}: play it on the same game options")
    net = make_net(core, **card["sizes"])
    load_weights(folder / WEIGHTS, net)
    return net.eval()
