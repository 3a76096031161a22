"""PettingZoo wrappers over a game core at batch size 1 (docs/design.md, contract 2).

:class:`AssistanceParallelEnv` is a ``ParallelEnv``; :func:`make_aec` converts it to an
AEC env with PettingZoo's own converter. Observations are
``{"observation": <the core's observation>, "action_mask": int8 [A]}``. An illegal
action is applied as a no-op and flagged in ``infos[agent]["illegal_action"]``; with
``strict=True`` it raises :class:`~envs.core.IllegalActionError` instead.
Render modes: ``"ansi"`` (returns a string), ``"rgb_array"`` (an [H, W, 3] uint8 image)
and ``"human"`` (prints the ANSI picture; needs no display).
"""

from __future__ import annotations

import functools
import numbers
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

from envs.core import AGENTS, GameCore, IllegalActionError

RENDER_MODES = ("ansi", "rgb_array", "human")


class AssistanceParallelEnv(ParallelEnv):
    """One game of ``core`` as a PettingZoo ``ParallelEnv``.

    Args:
        core: the batched rules (any :class:`~envs.core.GameCore`).
        render_mode: one of :data:`RENDER_MODES` or None.
        max_cycles: truncate after this many steps (at most the core's horizon).
        strict: raise on illegal actions instead of applying a flagged no-op.
    """

    possible_agents = list(AGENTS)

    def __init__(self, core: GameCore, render_mode: str | None = None, max_cycles: int | None = None, strict: bool = False):
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode={render_mode!r} is not supported; choose one of {list(RENDER_MODES)} or None")
        if max_cycles is not None and max_cycles < 1:
            raise ValueError(f"max_cycles={max_cycles} must be >= 1 (or None for the game's horizon)")
        self.core = core
        self.render_mode = render_mode
        self.max_cycles = core.horizon if max_cycles is None else min(max_cycles, core.horizon)
        self.strict = strict
        self.metadata = {"render_modes": list(RENDER_MODES), "name": f"{core.name}_v0", "is_parallelizable": True}
        self._observation_spaces = {
            agent: spaces.Dict(
                {
                    "observation": core.observation_space(agent),
                    "action_mask": spaces.Box(0, 1, (core.num_actions(agent),), np.int8),
                }
            )
            for agent in self.possible_agents
        }
        self._action_spaces = {agent: spaces.Discrete(core.num_actions(agent)) for agent in self.possible_agents}
        self.agents: list[str] = []
        self.state = None
        self._rng = np.random.default_rng()
        self._cycles = 0

    def observation_space(self, agent: str) -> spaces.Dict:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start a new game. ``options={"goal": array [F]}`` fixes the goal."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        goal = None if not options or options.get("goal") is None else np.asarray(options["goal"])[None]
        self.state = self.core.reset(1, self._rng, goals=goal)
        self.agents = list(self.possible_agents)
        self._cycles = 0
        infos = {agent: {} for agent in self.agents}
        return self._observations(), infos

    def step(self, actions: dict[str, int]):
        joint = np.zeros((1, len(self.possible_agents)), dtype=np.int64)
        for i, agent in enumerate(self.possible_agents):
            if agent in actions and actions[agent] is not None:
                joint[0, i] = self._checked_action(agent, actions[agent])
        if self.strict:
            for i, agent in enumerate(self.possible_agents):
                if not self.core.legal_mask(self.state, agent)[0, joint[0, i]]:
                    raise IllegalActionError(f"{agent} took illegal action {joint[0, i]} ({self.core.action_names(agent)[joint[0, i]]!r})")
        result = self.core.step(self.state, joint)
        self._cycles += 1
        truncated = bool(result.truncated[0]) or self._cycles >= self.max_cycles
        terminated = bool(result.terminated[0])
        observations = self._observations()
        rewards = {agent: float(result.reward[0]) for agent in self.agents}
        terminations = {agent: terminated for agent in self.agents}
        truncations = {agent: truncated for agent in self.agents}
        infos = {
            agent: {"illegal_action": bool(result.illegal[0, i]), "reward_part": float(result.reward_parts[0, i])}
            for i, agent in enumerate(self.agents)
        }
        if terminated or truncated:
            metrics = {key: value[0].item() for key, value in self.core.metrics(self.state).items()}
            for agent in self.agents:
                infos[agent]["episode"] = metrics
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    def _checked_action(self, agent: str, action) -> int:
        """``action`` as an id for the core: one outside the space becomes -1, which the core
        applies as a flagged no-op (``strict``: raises); a non-integer raises TypeError."""
        if not isinstance(action, numbers.Integral) or isinstance(action, bool):
            raise TypeError(f"{agent}'s action must be an int action id; got {action!r} ({type(action).__name__})")
        action = int(action)
        if not 0 <= action < self.core.num_actions(agent):
            if self.strict:
                raise IllegalActionError(f"{agent}'s action {action} is outside [0, {self.core.num_actions(agent)})")
            return -1
        return action

    def _observations(self) -> dict[str, dict[str, np.ndarray]]:
        return {
            agent: {
                "observation": {key: value[0] for key, value in self.core.observe(self.state, agent).items()},
                "action_mask": self.core.legal_mask(self.state, agent)[0].astype(np.int8),
            }
            for agent in self.possible_agents
        }

    def render(self):
        if self.render_mode is None or self.state is None:
            return None
        if self.render_mode == "rgb_array":
            return self.core.render_rgb(self.state, 0)
        text = self.core.render_ansi(self.state, 0)
        if self.render_mode == "ansi":
            return text
        print(text)
        return None

    def close(self) -> None:
        pass


def make_aec(parallel: AssistanceParallelEnv):
    """The AEC form of ``parallel`` through PettingZoo's converter."""
    return parallel_to_aec(parallel)


def module_constructors(make_core):
    """``parallel_env(**cfg)`` and ``env(**cfg)`` for a game module.

    ``make_core(**game_cfg)`` builds the core; ``render_mode``, ``max_cycles`` and
    ``strict`` go to the wrapper.
    """

    def parallel_env(render_mode: str | None = None, max_cycles: int | None = None, strict: bool = False, **cfg):
        return AssistanceParallelEnv(make_core(**cfg), render_mode=render_mode, max_cycles=max_cycles, strict=strict)

    @functools.wraps(parallel_env)
    def env(**kwargs):
        return make_aec(parallel_env(**kwargs))

    return parallel_env, env
