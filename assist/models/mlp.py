"""The MLP policy-value network of the tabular `kitchen` games.

:class:`KitchenNet` reads the assistant's observation of B games (``state``, ``t`` and the
human's recent actions with the states they were taken in; never the goal) and a
recurrent memory [B, M], and returns a :class:`~assist.models.base.ModelOutput` of float32
tensors plus the new memory::

    one-hot(state, t, recent states, recent human actions) ─▶ MLP trunk ─▶ GRU cell ─▶ new memory
    (a state: its one-hot id, or the game's ``state_inputs`` row where it gives them)
    trunk features + new memory ─▶ heads (policy [A_R], value, goal [1, K], human [A_H])

With ``memory_size = 0`` there is no recurrent state; the recent history still enters
through the one-hot inputs (with the default ``history = T`` it is a sufficient statistic
for the Bayes belief).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from assist.models.base import ModelOutput
from envs.kitchen.core import KitchenCore

INPUT_KEYS = ("state", "t", "recent_states", "recent_human_actions")


@dataclasses.dataclass(frozen=True)
class KitchenNetConfig:
    """Sizes of a :class:`KitchenNet` (the defaults are the ``small`` preset).

    hidden: width of the trunk and of the value head.
    layers: Linear-ReLU layers in the trunk.
    memory_size: M, the GRU cell's state size; 0 turns the memory off.
    """

    hidden: int = 128
    layers: int = 2
    memory_size: int = 64

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value, low = getattr(self, field.name), 0 if field.name == "memory_size" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"KitchenNet: {field.name}={value!r} must be an int >= {low} (the small preset has {field.default})")


PRESETS: dict[str, KitchenNetConfig] = {
    "tiny": KitchenNetConfig(hidden=32, layers=1, memory_size=16),
    "small": KitchenNetConfig(),
    "paper": KitchenNetConfig(hidden=256, layers=3, memory_size=128),
}
"""The same preset names as the conv net's, so any game takes ``preset=...``."""


class KitchenNet(nn.Module):
    """Policy, value, goal belief and human model for one kitchen game.

    Args:
        core: the game (its states, horizon, goals, action counts and history length).
        config: the sizes (:data:`PRESETS` has named ones).

    Attributes:
        config: the sizes it was built with.
        memory_size: M, the size of the recurrent memory (0: no memory).
    """

    def __init__(self, core: KitchenCore, config: KitchenNetConfig = KitchenNetConfig()):
        super().__init__()
        if not isinstance(core, KitchenCore):
            raise ValueError(f"KitchenNet needs a KitchenCore (envs.kitchen.make_core), got {type(core).__name__}")
        game = core.game
        self.config = config
        self.memory_size = M = config.memory_size
        self.num_states, self.num_steps, self.history = game.num_states, game.horizon + 1, core.history
        self.num_human_actions = game.num_human_actions
        self.state_inputs = game.state_inputs is not None
        if self.state_inputs:  # [S + 1, E + 1]: row 0 "no state yet" (flag 1), row s + 1 state s's inputs (flag 0)
            inputs = torch.tensor(game.state_inputs, dtype=torch.float32)
            table = torch.zeros(len(inputs) + 1, inputs.shape[1] + 1)
            table[0, -1], table[1:, :-1] = 1.0, inputs
            self.register_buffer("state_table", table, persistent=False)
        state_width = game.state_inputs.shape[1] if self.state_inputs else self.num_states
        width = state_width + self.num_steps + self.history * (state_width + 1 + self.num_human_actions + 1)
        layers = []
        for i in range(config.layers):
            layers += [nn.Linear(width if i == 0 else config.hidden, config.hidden), nn.ReLU()]
        self.trunk = nn.Sequential(*layers)
        self.gru = nn.GRUCell(config.hidden, M) if M else None
        self.context = nn.Linear(M, config.hidden) if M else None
        self.policy = nn.Linear(config.hidden, game.num_assistant_actions)
        self.human = nn.Linear(config.hidden, game.num_human_actions)
        self.goal = nn.Linear(config.hidden, game.num_goals)
        self.value = nn.Sequential(nn.Linear(config.hidden, config.hidden), nn.ReLU(), nn.Linear(config.hidden, 1))

    def encode(self, observation: dict[str, Tensor]) -> Tensor:
        """[B, width] float32 inputs: state, t, and each recent (state, human action) slot,
        where -1 (before the first step) is its own value. A state is its one-hot id, or
        where the game gives ``state_inputs`` [S, E], its row of them (width E instead of
        S; a recent slot adds a flag for "no state yet")."""
        state, recent = observation["state"].long(), observation["recent_states"].long() + 1
        if self.state_inputs:
            states = [self.state_table[state + 1, :-1], self.state_table[recent].flatten(1)]
        else:
            states = [F.one_hot(state, self.num_states).float(), F.one_hot(recent, self.num_states + 1).flatten(1).float()]
        parts = [
            states[0],
            F.one_hot(observation["t"].long(), self.num_steps).float(),
            states[1],
            F.one_hot(observation["recent_human_actions"].long() + 1, self.num_human_actions + 1).flatten(1).float(),
        ]
        return torch.cat(parts, dim=1)

    def forward(self, observation: dict[str, Tensor], memory: Tensor) -> tuple[ModelOutput, Tensor]:
        """Outputs for B games and the memory that includes this observation.

        observation: the assistant's observation as tensors: ``state`` [B], ``t`` [B],
        ``recent_states`` [B, history], ``recent_human_actions`` [B, history] (integers,
        -1 padded). Other keys are ignored. memory: [B, M] float32.

        Returns a :class:`ModelOutput` of float32 tensors (``policy_logits`` [B, A_R],
        ``value`` [B], ``goal_logits`` [B, 1, K], ``human_logits`` [B, A_H]) and the new
        memory [B, M] (the input itself when M = 0).
        """
        missing = [key for key in INPUT_KEYS if key not in observation]
        if missing:
            raise ValueError(
                f"KitchenNet: the observation lacks {missing}; it needs {list(INPUT_KEYS)}, i.e. observe(state, 'assistant_0')"
            )
        batch = len(observation["state"])
        if tuple(memory.shape) != (batch, self.memory_size):
            raise ValueError(f"KitchenNet: memory must be [B, M] = [{batch}, {self.memory_size}], got {list(memory.shape)}")
        x = self.trunk(self.encode(observation))
        if self.gru is not None:
            memory = self.gru(x, memory)
            x = F.relu(x + self.context(memory))
        output = ModelOutput(
            policy_logits=self.policy(x),
            value=self.value(x).squeeze(1),
            goal_logits=self.goal(x).unsqueeze(1),
            human_logits=self.human(x),
        )
        return output, memory
