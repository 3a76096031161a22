"""Value, goal-belief and human-action heads on an LM's hidden state, saved beside it.

The heads read the LM's final hidden state at the prompt's last token ([B, H]) and give
the rest of a :class:`~assist.models.base.ModelOutput`: value [B], goal logits [B, F, K]
and human-action logits [B, A_H]. In games whose goal is a target state of the world
(:meth:`~envs.core.GameCore.observed_goal_factors`), the goal logits of a factor also
get a learned offset for its current value (``current``, K x K): the evidence "what is
built is likely wanted" per factor, which one hidden state summarizing the whole prompt
conveys poorly (without it, the default LM's goal head gave the human's own blocks about
a third of a chance, and the search broke them). With ``owner_offsets`` the offset is
learned per owner of the factor too (:meth:`~envs.core.GameCore.observed_goal_owners`:
nobody, the human, the assistant; ``current`` then holds ``OWNERS * K`` rows), so a
block the assistant placed need not count as evidence that it is wanted, as one the human
placed does: with one offset for every block, the LM's own wrong blocks confirmed
themselves. Heads saved without the key (before it existed) have one offset per value,
as before. They are their own module, stored next to the LM's
``save_pretrained`` files as ``heads.safetensors`` + ``heads.json`` (the sizes), so the
directory still loads with ``AutoModelForCausalLM.from_pretrained``. The heads depend on
the game (F, K, A_H); the LM does not.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from assist.models.checkpoint import CheckpointError
from envs.core import HUMAN, OWNERS, GameCore

WEIGHTS, CONFIG = "heads.safetensors", "heads.json"


@dataclasses.dataclass
class HeadsConfig:
    """Sizes of :class:`Heads`: hidden (H, the LM's width), trunk (width of the shared
    layer), goal_factors (F), goal_values (K), human_actions (A_H), the game they are for,
    and owner_offsets (the current-value offsets learned per owner as well; see the module
    docstring; absent from ``heads.json``: False, the heads before the option)."""

    hidden: int
    goal_factors: int
    goal_values: int
    human_actions: int
    game: str
    trunk: int = 256
    owner_offsets: bool = False

    @classmethod
    def for_core(cls, core: GameCore, hidden: int, trunk: int = 256) -> HeadsConfig:
        """The sizes that fit ``core``'s game and an LM of width ``hidden``."""
        F, K = core.goal_shape
        return cls(hidden=hidden, goal_factors=F, goal_values=K, human_actions=core.num_actions(HUMAN), game=core.name, trunk=trunk)


class Heads(nn.Module):
    """A shared layer (Linear + GELU) and three linear outputs. The outputs start at zero
    (value 0, a uniform goal belief and human model) so an untrained LM assistant is neutral."""

    def __init__(self, config: HeadsConfig):
        super().__init__()
        self.config = config
        self.trunk = nn.Sequential(nn.LayerNorm(config.hidden), nn.Linear(config.hidden, config.trunk), nn.GELU())
        self.value = nn.Linear(config.trunk, 1)
        self.goal = nn.Linear(config.trunk, config.goal_factors * config.goal_values)
        self.human = nn.Linear(config.trunk, config.human_actions)
        self.current = nn.Embedding(config.goal_values * (OWNERS if config.owner_offsets else 1), config.goal_values)
        for layer in (self.value, self.goal, self.human):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        nn.init.zeros_(self.current.weight)

    def forward(
        self, hidden: torch.Tensor, current: torch.Tensor | None = None, owner: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``hidden`` [B, H], ``current`` [B, F] int64 (each goal factor's current value;
        None: not observed) and ``owner`` [B, F] int64 (who last changed it, 0 nobody, 1 the
        human, 2 the assistant; read with ``owner_offsets`` only) -> value [B], goal logits
        [B, F, K], human logits [B, A_H] (float32)."""
        x = self.trunk(hidden.float())
        B, c = len(x), self.config
        goal = self.goal(x).view(B, c.goal_factors, c.goal_values)
        if current is not None:
            if c.owner_offsets and owner is None:
                raise ValueError("these heads learn the current-value offsets per owner (owner_offsets): pass owner, [B, F] (core.observed_goal_owners)")
            goal = goal + self.current(current + c.goal_values * owner if c.owner_offsets else current)
        return self.value(x)[:, 0], goal, self.human(x)

    def with_owner_offsets(self) -> Heads:
        """These heads with ``owner_offsets`` (themselves when they have them): every owner's
        offsets start as this head's offsets of the value, so the new heads give the same
        outputs until training tells the owners apart."""
        if self.config.owner_offsets:
            return self
        heads = Heads(dataclasses.replace(self.config, owner_offsets=True)).to(self.current.weight.device)
        weights = self.state_dict()
        weights["current.weight"] = weights["current.weight"].repeat(OWNERS, 1)
        heads.load_state_dict(weights)
        return heads

    def save(self, directory: str | Path) -> None:
        """Write ``heads.safetensors`` and ``heads.json`` into ``directory`` (beside the LM)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}, directory / WEIGHTS)
        (directory / CONFIG).write_text(json.dumps(dataclasses.asdict(self.config), indent=2))

    @classmethod
    def load(cls, directory: str | Path) -> Heads:
        """The heads saved in ``directory`` by :meth:`save` (safetensors: no code runs); a
        CheckpointError naming the file when either is unreadable or they do not fit each other."""
        directory = Path(directory)
        if not (directory / CONFIG).is_file() or not (directory / WEIGHTS).is_file():
            raise FileNotFoundError(f"no heads in {str(directory)!r}: expected {CONFIG} and {WEIGHTS} there (written by Heads.save)")
        fix = f"save them again (Heads.save), or delete {CONFIG} and {WEIGHTS} to start from fresh heads"
        try:
            heads = cls(HeadsConfig(**json.loads((directory / CONFIG).read_text())))
        except (OSError, ValueError, TypeError, RuntimeError) as error:
            raise CheckpointError(f"{directory / CONFIG} does not describe heads ({type(error).__name__}: {error}); {fix}") from error
        try:
            heads.load_state_dict(load_file(directory / WEIGHTS))
        except (OSError, SafetensorError, RuntimeError) as error:
            raise CheckpointError(f"{directory / WEIGHTS} is unreadable or not heads of the sizes in {CONFIG} ({type(error).__name__}: {error}); {fix}") from error
        return heads


def heads_for(core: GameCore, directory: str | Path, hidden: int) -> Heads:
    """The heads saved in ``directory`` if there are any, else fresh ones for ``core``; a
    CheckpointError (a ValueError) when saved heads are unreadable or do not fit ``core`` or
    an LM of width ``hidden``."""
    if not (Path(directory) / CONFIG).exists():
        return Heads(HeadsConfig.for_core(core, hidden))
    heads = Heads.load(directory)
    wanted = dataclasses.replace(HeadsConfig.for_core(core, hidden), trunk=heads.config.trunk, owner_offsets=heads.config.owner_offsets)
    if heads.config != wanted:
        raise CheckpointError(
            f"the heads in {str(directory)!r} are for {heads.config}, but this game and LM need {wanted}; "
            "use the model directory trained for this game configuration, or one without heads (fresh heads are made)"
        )
    return heads
