"""Structured config schemas (dataclasses registered in Hydra's ConfigStore), and how a
composed config becomes the objects it describes.

Every YAML file under ``configs/`` names its schema first in its defaults list, so a
wrong type or an unknown key fails when the config is composed, with Hydra's message
naming the key. ``None`` in an env schema means "the preset's value". A value out of range
is found when its objects are built (a dataclass's ``__post_init__``, a game, a player):
:func:`naming` turns that ValueError into a :class:`ConfigError` that begins with the
setting's full key (``env.reach: reach=-1.0 must be >= 1 voxel``), and every entry point
builds them before it writes a file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

import envs
from assist import registry, rundirs
from assist.checks import require_positive_ints
from assist.learning.algorithms import ALGORITHMS
from assist.learning.bc import BCTrainConfig
from assist.logger import LoggerConfig, flat_params
from assist.models.checkpoint import CheckpointError
from assist.players.base import Player
from assist.search.config import SearchConfig
from envs.core import GameCore


@dataclasses.dataclass
class BuildEnvConfig:
    """The `build` game: a preset plus optional overrides of its fields."""

    name: str = "build"
    preset: str = "small"
    width: int | None = None
    height: int | None = None
    depth: int | None = None
    num_block_types: int | None = None
    horizon: int | None = None
    reach: float | None = None
    history: int | None = None
    chat: bool = False
    chat_history: int | None = None
    goal_split: str = "test"
    goal_families: list[str] | None = None
    goal_file: str | None = None
    prompt: str | None = None
    """The LM prompt's format (``envs.building.render.PROMPTS``); None: ``v1``, the format of
    every run whose config has no ``prompt``, so they evaluate with the prompt they trained with."""


@dataclasses.dataclass
class KitchenEnvConfig:
    """The `kitchen` games: a variant, the human model its solver assumes, and their
    parameters (``params``: e.g. ``horizon`` for the variant, ``beta`` for the model)."""

    name: str = "kitchen"
    variant: str = "cake_or_pie"
    human: str = "rational"
    history: int | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class PlayerConfig:
    """A player by name (see ``assist.registry.PLAYERS``) and its parameters."""

    name: str = MISSING
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ModelConfig:
    """A network by name (``auto`` picks by game), size preset, memory switch and size overrides."""

    name: str = "auto"
    preset: str = "small"
    memory: bool = True
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class TrainConfig:
    """``scripts/train.py``: train an assistant against a human model.

    For `build`, self-play draws goals from the ``train_split`` (see
    ``envs.building.goals.SPLITS``) and evaluation from the env config's ``goal_split``
    (held-out ``test`` by default).
    """

    env: Any = MISSING
    human: PlayerConfig = MISSING
    model: ModelConfig = MISSING
    search: SearchConfig = MISSING
    algo: Any = MISSING
    logger: LoggerConfig = MISSING
    seed: int = 0
    train_split: str = "train"
    device: str = "auto"
    threads: int = 1
    """CPU threads for torch (0: torch's default). The small presets run fastest on one:
    with two threads on a two-core machine that is also stepping games, a small conv3d
    ran over 100x slower."""
    resume: bool = False


@dataclasses.dataclass
class EvaluateConfig:
    """``scripts/evaluate.py``: the human with each assistant on the same episodes."""

    env: Any = MISSING
    human: PlayerConfig = MISSING
    assistant: PlayerConfig = MISSING
    baselines: list[str] = dataclasses.field(default_factory=lambda: ["noop", "random", "oracle"])
    episodes: int = 100
    batch: int = 50
    seed: int = 0
    record: bool = False
    """Save every episode to ``recording.jsonl`` in the run directory."""
    threads: int = 1
    """CPU threads for torch (0: torch's default; see ``assist.cli.set_threads``)."""

    def __post_init__(self):
        require_positive_ints(self, "episodes", "batch")


@dataclasses.dataclass
class ConditionConfig:
    """One condition of a study: what its participants play that differs from the play
    config's own ``seat``, ``env``, ``human`` and ``assistant`` (each unset: the play config's)."""

    seat: str | None = None
    """The participant's seat: ``human`` or ``assistant``."""
    env: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Changes to the play config's game settings, e.g. ``{preset: tiny}`` (the same game)."""
    human: PlayerConfig | None = None
    """The player in the human seat when the participant assists (``{name, params}``)."""
    assistant: PlayerConfig | None = None
    """The assistant when the participant is the human, e.g. ``{name: trained, params: {run: <dir>}}``."""


@dataclasses.dataclass
class StudyConfig:
    """``scripts/play.py ui=study``: the conditions participants join, and the bounds (see
    :class:`assist.ui.study.Study`)."""

    conditions: dict[str, Any] = dataclasses.field(default_factory=dict)
    """``{name: condition}`` (each a :class:`ConditionConfig`, checked when the study starts:
    typed values here could not be added from the command line), listed on the start page in
    this order; names of letters, digits, ``_`` and ``-`` (they name the recording files)."""
    assign: str = "choose"
    """``choose`` (the participant picks on the start page) or ``balanced`` (assigned: the
    condition played least so far that the participant has not played)."""
    max_sessions: int = 4
    """Sessions that may run at once; the start page refuses more."""
    idle_s: float = 300.0
    """Seconds a session's page may be gone before the session expires."""


@dataclasses.dataclass
class PlayConfig:
    """``scripts/play.py``: a person plays one seat; the other seat's player is chosen by
    name from its group (``human=...`` when the person is the assistant, ``assistant=...``
    when the person is the human)."""

    env: Any = MISSING
    human: PlayerConfig = MISSING
    assistant: PlayerConfig = MISSING
    study: StudyConfig = MISSING
    """``ui=study``: the conditions and bounds of the study."""
    seat: str = "human"
    """The person's seat: ``human`` (sees the goal) or ``assistant``."""
    ui: str = "terminal"
    """``terminal``, ``browser`` or ``study`` (a start page for several participants at once)."""
    seed: int = 0
    episodes: int = 1
    """Terminal: episodes to play (``quit`` or end of input stops sooner)."""
    timeout: float | None = None
    """Terminal: seconds to wait for a line before the step is a no-op (None: wait)."""
    tick_ms: int = 500
    """Browser: milliseconds between ticks (the assistant acts every tick)."""
    host: str = "127.0.0.1"
    port: int = 8000
    """Browser: the port to serve on (0: any free port, printed at start)."""
    threads: int = 1
    """CPU threads for torch (0: torch's default; see ``assist.cli.set_threads``)."""

    def __post_init__(self):
        require_positive_ints(self, "episodes", "tick_ms")
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"PlayConfig: timeout={self.timeout} must be > 0 seconds, or null to wait for every line")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"PlayConfig: port={self.port} must be in [0, 65535] (0: any free port)")


@dataclasses.dataclass
class TrainBCConfig:
    """``scripts/train_bc.py``: clone the human seat of recorded episodes (see
    :mod:`assist.learning.bc`); the run directory becomes the model folder."""

    data: str = MISSING
    """A recording (``.jsonl``) or a folder holding recordings, all of one game."""
    fit: BCTrainConfig = dataclasses.field(default_factory=BCTrainConfig)
    threads: int = 1
    """CPU threads for torch (0: torch's default)."""


def register() -> None:
    """Register the schemas and the run-directory resolvers (idempotent)."""
    rundirs.register_resolvers()
    store = ConfigStore.instance()
    store.store(group="env", name="build_schema", node=BuildEnvConfig)
    store.store(group="env", name="kitchen_schema", node=KitchenEnvConfig)
    store.store(group="human", name="player_schema", node=PlayerConfig)
    store.store(group="assistant", name="player_schema", node=PlayerConfig)
    store.store(name="evaluate_schema", node=EvaluateConfig)
    store.store(group="model", name="model_schema", node=ModelConfig)
    store.store(group="search", name="search_schema", node=SearchConfig)
    for name, algorithm in ALGORITHMS.items():
        store.store(group="algo", name=f"{name}_schema", node=algorithm.config)
    store.store(group="logger", name="logger_schema", node=LoggerConfig)
    store.store(name="train_schema", node=TrainConfig)
    store.store(name="play_schema", node=PlayConfig)
    store.store(group="study", name="study_schema", node=StudyConfig)
    store.store(name="train_bc_schema", node=TrainBCConfig)


NON_NEGATIVE = {"seed": "numpy's and torch's seeds", "threads": "0: torch's default"}
"""Settings that must be >= 0 wherever they are (``seed``, ``fit.seed``), and why."""


class ConfigError(ValueError):
    """A setting is out of range; the message, one line, begins with its full key (or, when
    the message names several settings, with the key of the group that holds them)."""

    def __init__(self, key: str, message: str):
        super().__init__(" ".join((f"{key}: {message}" if key else message).split()))


@contextlib.contextmanager
def naming(node: DictConfig | ListConfig):
    """Inside, a ValueError from building what the config ``node`` describes (a dataclass's
    ``__post_init__``, a game, a player, a network) becomes a :class:`ConfigError` naming the
    setting's full key: the one setting of ``node`` that the message names as ``name=value``
    (``reach=-1.0 must be ...`` under ``env``: ``env.reach``), else ``node``'s own key.
    ConfigErrors and CheckpointErrors pass unchanged (they name their key or file)."""
    try:
        yield
    except (ConfigError, CheckpointError):
        raise
    except ValueError as error:
        group = node._get_full_key(None)  # omegaconf's dotted path of the node: "env", "human.params"; "" at the root
        settings = flat_params(OmegaConf.to_container(node)) if isinstance(node, DictConfig) else {}
        said = set(re.findall(r"(\w+)=", str(error)))
        named = [key for key in settings if key.rsplit(".", 1)[-1] in said]
        key = ".".join(filter(None, [group, named[0] if len(named) == 1 else ""]))
        raise ConfigError(key, str(error)) from error


def checked(cfg: DictConfig, schema: type | None = None) -> dict[str, Any]:
    """The resolved settings of an entry point's whole config ``cfg`` (plain containers),
    after refusing, with a :class:`ConfigError` naming the key: a non-finite number anywhere
    (NaN passes every ``x <= 0`` check), a negative setting of :data:`NON_NEGATIVE`, and
    top-level values that ``schema``'s ``__post_init__`` refuses. Nothing is written before."""
    settings = OmegaConf.to_container(cfg, resolve=True)
    for key, value in flat_params(settings).items():
        name = key.rsplit(".", 1)[-1]
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(key, f"{name}={value} must be a finite number")
        if name in NON_NEGATIVE and isinstance(value, int) and value < 0:
            raise ConfigError(key, f"{name}={value} must be >= 0 ({NON_NEGATIVE[name]})")
    if schema is not None:
        to_dataclass(schema, cfg)
    return settings


def env_options(env: DictConfig) -> dict[str, Any]:
    """The game options of an env config: everything but ``name`` that is not None, with
    the entries of a ``params`` mapping lifted to the top level."""
    options = OmegaConf.to_container(env, resolve=True)
    options.pop("name")
    options.update(options.pop("params", {}))
    return {key: value for key, value in options.items() if value is not None}


def make_core(env: DictConfig, **changes) -> GameCore:
    """The game core an env config describes, with ``changes`` to its options (a value out
    of range: a :class:`ConfigError` naming its key, see :func:`naming`)."""
    with naming(env):
        return envs.make_core(env.name, **{**env_options(env), **changes})


def make_player(node: DictConfig, core: GameCore, seat: str) -> Player:
    """The player a player config (``name``, ``params``) describes, in ``seat`` of ``core``
    (a value out of range: a :class:`ConfigError` naming its key, see :func:`naming`)."""
    with naming(node):
        return registry.make_player(node.name, core, seat, **node.params)


def to_dataclass(cls, node: DictConfig):
    """An instance of the dataclass ``cls`` from its config node (a key that ``cls`` has no
    field for, e.g. one added with ``+key=value``, and a value its ``__post_init__``
    refuses are a :class:`ConfigError` naming the key, see :func:`naming`)."""
    values = OmegaConf.to_container(node, resolve=True)
    fields = sorted(field.name for field in dataclasses.fields(cls))
    unknown = sorted(set(values) - set(fields))
    with naming(node):
        if unknown:
            raise ValueError(f"{cls.__name__} has no field(s) {unknown}; its fields: {fields}")
        return cls(**values)


register()
