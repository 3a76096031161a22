"""The 3-D convolutional policy-value network of the `build` game (AssistanceZero's model).

:class:`BuildNet` reads the assistant's observation of B games (``observe(state,
"assistant_0")``: never the goal) and a recurrent memory [B, M], and returns a
:class:`~assist.models.base.ModelOutput` of float32 tensors plus the new memory::

    world, step ─▶ voxel encoder ─▶ residual blocks ─▶ pool ─┐
    human_actions, chat ─▶ history encoder ──────────────────┴─▶ GRU cell ─▶ new memory [B, M]
    features + broadcast(new memory) ─▶ residual blocks ─▶ (line context) ─▶ heads

The memory is what lets the net infer the goal from the human's behaviour over a whole
episode (the paper's ablation: without it the goal cannot be inferred). With
``memory_size = 0`` there is no recurrent state: the recent human actions (and chat) are
broadcast over the voxels directly.

Heads follow the flat action layout on the card of :mod:`envs.building.core`: no-op and moves
from pooled features (the mean and max over voxels, and the features at the seat's own
voxel); ``place(p, v)`` at ``7 + p * V + v`` and ``break(v)`` at ``first_break + v`` from
per-voxel 1x1x1 convolutions; the human's messages (chat on) from pooled features. Goal
logits are per voxel, in the game's voxel order ``v = (x * H + y) * D + z``. Two options
widen what a voxel's heads can see (:class:`BuildNetConfig`): ``positions`` (where it is)
and ``line_context`` (what its axis lines hold).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from assist.models.base import ModelOutput
from envs.building.core import FIRST_PLACE, BuildCore
from envs.core import HUMAN

HUMAN_SEAT, ASSISTANT_SEAT = 1, 2
"""Values of the ``players`` channel of ``world``."""


@dataclasses.dataclass(frozen=True)
class BuildNetConfig:
    """Sizes of a :class:`BuildNet` (the defaults are the ``small`` preset).

    channels: width C of the voxel features.
    blocks: residual blocks; the first ``blocks - blocks // 2`` run before the memory,
        the rest after it.
    kernel: side of the cubic convolution kernel (odd, so the world keeps its size).
    first_kernel: the first residual block's kernel (the paper's is 1x1x1).
    memory_size: M, the GRU cell's state size; 0 turns the memory off.
    embed: size of each learned embedding (block id, touched, player; the kind and the
        x, y, z of each recent human action; each chat message).
    value_hidden: hidden units of the value MLP.
    balanced_prior: start the policy and human-model heads with each voxel's P
        placements and its break weighing together about as much as one move, so that
        an untrained network mostly waits and moves (on `small` at the start: 7% of the
        prior on placing) instead of building at random (96% with every single action
        equally likely): the search then tries placements where the belief says they
        pay (``search.reward_slots``) rather than where the prior's noise points. Only
        the initial weights differ.
    positions: add a learned embedding of each voxel's x, y and z to its features. Without
        it a voxel knows where it is only within the trunk's reach of the world's faces
        (2 voxels for ``tiny``), so the goal head cannot say "the roof is at this height".
    line_context: before the heads, add to each voxel's features a projection of the
        maximum of the features along each of its three axis lines (its x row, y column
        and z row): a voxel sees a wall or a floor that shares its line however far away,
        which a 3x3x3 trunk cannot on a world wider than its reach. Costs one 1x1x1
        convolution. Measured on `small` with the tiny network, the two together are no
        gain (0.95x and 0.98x the human-alone actions against 0.93x and 0.96x without,
        seeds 0-1, results/assistancezero/build_small/recipe, step 5): they are for
        worlds much wider than the trunk's reach, where they are not yet measured.
    """

    channels: int = 32
    blocks: int = 2
    kernel: int = 3
    first_kernel: int = 3
    memory_size: int = 64
    embed: int = 16
    value_hidden: int = 64
    balanced_prior: bool = False
    positions: bool = False
    line_context: bool = False

    def __post_init__(self):
        for field in dataclasses.fields(self):
            if field.type in (bool, "bool"):
                if not isinstance(getattr(self, field.name), bool):
                    raise ValueError(f"BuildNet: {field.name}={getattr(self, field.name)!r} must be true or false")
                continue
            value, low = getattr(self, field.name), 0 if field.name == "memory_size" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"BuildNet: {field.name}={value!r} must be an int >= {low} (the small preset has {field.default})")
        for name in ("kernel", "first_kernel"):
            if getattr(self, name) % 2 == 0:
                raise ValueError(f"BuildNet: {name}={getattr(self, name)} must be odd so that padding keeps the world's W x H x D (try 3 or 5)")


PRESETS: dict[str, BuildNetConfig] = {
    "tiny": BuildNetConfig(channels=16, blocks=1, kernel=3, first_kernel=3, memory_size=32, embed=8, value_hidden=32),
    "small": BuildNetConfig(),
    "paper": BuildNetConfig(channels=64, blocks=6, kernel=5, first_kernel=1, memory_size=128, embed=16, value_hidden=128),
}
"""``tiny`` for tests, ``small`` for CPU runs, ``paper`` the AssistanceZero paper's trunk
(64 channels, 6 residual blocks: the first 1x1x1, the others 5x5x5; about 5.2 M parameters)."""


def flat_logits(moves: Tensor, voxel: Tensor, messages: Tensor | None = None) -> Tensor:
    """Logits in the game's flat action layout.

    moves: [B, 7] no-op and the 6 moves. voxel: [B, P + 1, W, H, D], channel ``p < P``
    placing block ``p`` and channel ``P`` breaking, at each voxel. messages: [B, m] the
    human's messages, or None. Returns [B, 7 + (P + 1) * V (+ m)]: ``place(p, v)`` at
    ``7 + p * V + v``, ``break(v)`` at ``7 + P * V + v``, with ``v`` the C-order index of
    (x, y, z).
    """
    return torch.cat([moves, voxel.flatten(1)] + ([] if messages is None else [messages]), dim=1)


def human_action_features(core: BuildCore) -> tuple[np.ndarray, np.ndarray]:
    """What each observed human action is, for the history encoder.

    Returns ``kind`` [A_H + 1] int64 and ``xyz`` [A_H + 1, 3] int64, indexed by action id
    + 1 (row 0: no action yet). Kinds: 0 none, 1 no-op, 2..7 the moves, 8 + p place block
    ``p``, 8 + P break, 9 + P + m message ``m``. ``xyz`` is the voxel acted on, or
    (W, H, D) for actions without one.
    """
    ids = np.arange(core.num_actions(HUMAN))
    kind = np.select(
        [ids < FIRST_PLACE, ids < core.first_break, ids < core.first_message],
        [ids + 1, FIRST_PLACE + 1 + (ids - FIRST_PLACE) // core.V, FIRST_PLACE + 1 + core.P],
        FIRST_PLACE + 2 + core.P + (ids - core.first_message),
    )
    on_voxel = (ids >= FIRST_PLACE) & (ids < core.first_message)
    xyz = np.where(on_voxel[:, None], core.coords[(ids - FIRST_PLACE) % core.V], np.array(core.shape))
    return np.concatenate([[0], kind]).astype(np.int64), np.concatenate([[core.shape], xyz]).astype(np.int64)


class ResidualBlock(nn.Module):
    """conv-BN-ReLU-conv-BN, plus the input, then ReLU: [B, C, W, H, D] float32 -> same."""

    def __init__(self, channels: int, kernel: int):
        super().__init__()
        self.conv1 = nn.Conv3d(channels, channels, kernel, padding=kernel // 2, bias=False)
        self.norm1 = nn.BatchNorm3d(channels)
        self.conv2 = nn.Conv3d(channels, channels, kernel, padding=kernel // 2, bias=False)
        self.norm2 = nn.BatchNorm3d(channels)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        return F.relu(x + self.norm2(self.conv2(y)))


class VoxelEncoder(nn.Module):
    """Embeddings of each voxel's block id, toucher and player (with ``positions``, also of
    its x, y and z), and the episode's progress.

    world: [B, 3, W, H, D] ints (block id in [0, n), touched in {0, 1, 2}, players in
    {0, 1, 2}); step: [B, 1] ints in [0, horizon]. Returns [B, C, W, H, D] float32.
    """

    def __init__(self, core: BuildCore, channels: int, embed: int, positions: bool = False):
        super().__init__()
        self.horizon = core.horizon
        self.block = nn.Embedding(core.n, embed)
        self.touched = nn.Embedding(3, embed)
        self.player = nn.Embedding(3, embed)
        self.axes = nn.ModuleList(nn.Embedding(size, embed) for size in core.shape) if positions else None
        if positions:  # [3, W, H, D] each voxel's x, y and z, made once
            self.register_buffer("grid", torch.stack(torch.meshgrid(*map(torch.arange, core.shape), indexing="ij")), persistent=False)
        width = (6 if positions else 3) * embed + 1
        self.project = nn.Conv3d(width, channels, 1, bias=False)
        self.norm = nn.BatchNorm3d(channels)

    def forward(self, world: Tensor, step: Tensor) -> Tensor:
        world = world.long()
        parts = [self.block(world[:, 0]), self.touched(world[:, 1]), self.player(world[:, 2])]
        if self.axes is not None:  # [W, H, D, 3E]: each voxel's x, y and z embeddings, the same for every game
            parts.append(torch.cat([embed(grid) for embed, grid in zip(self.axes, self.grid)], dim=-1).expand(len(world), -1, -1, -1, -1))
        embedded = torch.cat(parts, dim=-1)
        progress = (step.float() / self.horizon).view(-1, 1, 1, 1, 1).expand(-1, 1, *world.shape[2:])
        x = torch.cat([embedded.permute(0, 4, 1, 2, 3), progress], dim=1)
        return F.relu(self.norm(self.project(x)))


class LineContext(nn.Module):
    """Each voxel's features plus what lies along its three axis lines:
    ``relu(x + BN(conv1x1([max_x x, max_y x, max_z x])))``, each maximum broadcast back
    along its axis. [B, C, W, H, D] float32 -> same."""

    def __init__(self, channels: int):
        super().__init__()
        self.project = nn.Conv3d(3 * channels, channels, 1, bias=False)
        self.norm = nn.BatchNorm3d(channels)

    def forward(self, x: Tensor) -> Tensor:
        lines = [x.amax(dim=axis, keepdim=True).expand_as(x) for axis in (2, 3, 4)]
        return F.relu(x + self.norm(self.project(torch.cat(lines, dim=1))))


class HistoryEncoder(nn.Module):
    """The human's recent actions (and messages) as one feature vector.

    human_actions: [B, k] ints, action id + 1 (0: none), newest last. chat: [B, c] ints,
    message index + 1 (0: none), or None when chat is off. Each action is embedded by its
    kind and the x, y, z of its voxel (:func:`human_action_features`), each message by its
    index; the window is flattened in order and projected. Returns [B, C] float32.
    """

    def __init__(self, core: BuildCore, embed: int, out: int):
        super().__init__()
        kind, xyz = human_action_features(core)
        self.register_buffer("kind_of", torch.from_numpy(kind), persistent=False)
        self.register_buffer("xyz_of", torch.from_numpy(xyz), persistent=False)
        W, H, D = core.shape
        self.kind = nn.Embedding(int(kind.max()) + 1, embed)
        self.x, self.y, self.z = nn.Embedding(W + 1, embed), nn.Embedding(H + 1, embed), nn.Embedding(D + 1, embed)
        width = core.config.history * 4 * embed
        self.message = nn.Embedding(core.num_messages + 1, embed) if core.config.chat else None
        if self.message is not None:
            width += core.config.chat_history * embed
        self.project = nn.Linear(width, out)

    def forward(self, human_actions: Tensor, chat: Tensor | None) -> Tensor:
        actions = human_actions.long()
        xyz = self.xyz_of[actions]  # [B, k, 3]
        parts = [self.kind(self.kind_of[actions]), self.x(xyz[..., 0]), self.y(xyz[..., 1]), self.z(xyz[..., 2])]
        window = [torch.cat(parts, dim=-1).flatten(1)]
        if self.message is not None:
            window.append(self.message(chat.long()).flatten(1))
        return F.relu(self.project(torch.cat(window, dim=1)))


def at_seat(features: Tensor, players: Tensor, seat: int) -> Tensor:
    """[B, C] features of the voxel holding ``seat`` (zeros if none), from ``features``
    [B, C, V] float32 and ``players`` [B, V] ints."""
    return torch.einsum("bcv,bv->bc", features, (players == seat).to(features.dtype))


class BuildNet(nn.Module):
    """Policy, value, goal belief and human model for one `build` game configuration.

    Args:
        core: the game (its world shape, palette, action layout, history and chat options).
        config: the sizes (:data:`PRESETS` has named ones).

    Attributes:
        config: the sizes it was built with.
        memory_size: M, the size of the recurrent memory (0: no memory).
    """

    def __init__(self, core: BuildCore, config: BuildNetConfig = BuildNetConfig()):
        super().__init__()
        if not isinstance(core, BuildCore):
            raise ValueError(f"BuildNet needs a BuildCore (envs.building.make_core), got {type(core).__name__}")
        self.config = config
        self.shape, self.P, self.chat = core.shape, core.P, core.config.chat
        self.memory_size = M = config.memory_size
        C = config.channels
        self.encoder = VoxelEncoder(core, C, config.embed, config.positions)
        kernels = [config.first_kernel] + [config.kernel] * (config.blocks - 1)
        self.before = nn.Sequential(*(ResidualBlock(C, k) for k in kernels[: config.blocks - config.blocks // 2]))
        self.history = HistoryEncoder(core, config.embed, C)
        self.gru = nn.GRUCell(3 * C, M) if M else None
        self.context = nn.Linear(M if M else C, C)
        self.after = nn.Sequential(*(ResidualBlock(C, k) for k in kernels[config.blocks - config.blocks // 2 :]))
        self.lines = LineContext(C) if config.line_context else nn.Identity()
        # per voxel: the assistant's P places and break, the human's, then the n goal logits
        self.voxel_heads = nn.Conv3d(C, 2 * (core.P + 1) + core.n, 1)
        if config.balanced_prior:  # each block type's V placements (and the V breaks) weigh about one action together
            with torch.no_grad():
                self.voxel_heads.bias[: 2 * (core.P + 1)] -= math.log(core.V)
        self.moves = nn.Linear(3 * C, FIRST_PLACE)
        self.human_moves = nn.Linear(3 * C, FIRST_PLACE)
        self.messages = nn.Linear(2 * C, core.num_messages) if self.chat else None
        self.value = nn.Sequential(nn.Linear(3 * C, config.value_hidden), nn.ReLU(), nn.Linear(config.value_hidden, 1))

    def forward(self, observation: dict[str, Tensor], memory: Tensor) -> tuple[ModelOutput, Tensor]:
        """Outputs for B games and the memory that includes this observation.

        observation: the assistant's observation as tensors: ``world`` [B, 3, W, H, D],
        ``step`` [B, 1], ``human_actions`` [B, k] and, with chat, ``chat`` [B, c] (any
        integer dtype). Other keys are ignored. memory: [B, M] float32.

        Returns a :class:`ModelOutput` of float32 tensors (``policy_logits`` [B, A],
        ``value`` [B], ``goal_logits`` [B, V, n], ``human_logits`` [B, A_H]) and the new
        memory [B, M] (the input itself when M = 0).
        """
        world, step, human_actions, chat = self._inputs(observation, memory)
        x = self.before(self.encoder(world, step))
        history = self.history(human_actions, chat)
        if self.gru is not None:
            flat = x.flatten(2)
            memory = self.gru(torch.cat([flat.mean(2), flat.amax(2), history], dim=1), memory)
            context = self.context(memory)
        else:
            context = self.context(history)
        x = self.lines(self.after(F.relu(x + context[:, :, None, None, None])))

        flat = x.flatten(2)  # [B, C, V]
        pooled = torch.cat([flat.mean(2), flat.amax(2)], dim=1)
        players = world[:, 2].flatten(1)
        mine = torch.cat([pooled, at_seat(flat, players, ASSISTANT_SEAT)], dim=1)
        theirs = torch.cat([pooled, at_seat(flat, players, HUMAN_SEAT)], dim=1)
        heads = self.voxel_heads(x)
        P1 = self.P + 1
        output = ModelOutput(
            policy_logits=flat_logits(self.moves(mine), heads[:, :P1]),
            value=self.value(mine).squeeze(1),
            goal_logits=heads[:, 2 * P1 :].flatten(2).transpose(1, 2),
            human_logits=flat_logits(self.human_moves(theirs), heads[:, P1 : 2 * P1], self.messages(pooled) if self.chat else None),
        )
        return output, memory

    def _inputs(self, observation: dict[str, Tensor], memory: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """The tensors the net reads, after checking the observation is the assistant's."""
        keys = ["world", "step", "human_actions"] + (["chat"] if self.chat else [])
        missing = [key for key in keys if key not in observation]
        if missing:
            raise ValueError(f"BuildNet: the observation lacks {missing}; it needs {keys}, i.e. observe(state, 'assistant_0') of this game")
        world = observation["world"]
        if tuple(world.shape[1:]) != (3,) + self.shape:
            hint = " (4 channels is the human's observation, which holds the goal)" if world.ndim == 5 and world.shape[1] == 4 else ""
            expected = ", ".join(map(str, (3, *self.shape)))
            raise ValueError(f"BuildNet: world must be [B, {expected}] (the assistant's observation), got {list(world.shape)}{hint}")
        if tuple(memory.shape) != (len(world), self.memory_size):
            raise ValueError(f"BuildNet: memory must be [B, M] = [{len(world)}, {self.memory_size}], got {list(memory.shape)}")
        return world, observation["step"], observation["human_actions"], observation.get("chat") if self.chat else None
