"""Batched rules of the `build` game (a voxel building assistance game).

The card
--------
World: ``W x H x D`` voxels of block ids (see :mod:`envs.building.blocks`), bedrock at
``y = 0``. Voxels are addressed by a flat index ``v = (x * H + y) * D + z``. A human and
an assistant each occupy one voxel and fly (no gravity).

Actions (both seats; flat ids):

====================  ==========================================================
``0``                 no-op
``1 .. 6``            move +x, -x, +y, -y, +z, -z (into an empty, in-world voxel
                      not held by the other player)
``7 + p * V + v``     place placeable block ``p`` (block id ``p + 2``) at voxel ``v``:
                      ``v`` is air, not a player's voxel, within reach, and has a
                      solid face neighbour (bedrock counts)
``7 + P * V + v``     break the block at ``v``: not air, not bedrock, within reach
``7 + (P + 1) * V``   human only, when chat is on: ``say use <block>`` (P of them),
                      ``say wrong``, then ``say here x z`` (W * D of them)
====================  ==========================================================

Each step the human's action is applied first, then the assistant's; an action that
is illegal (or became illegal after the human's move) is applied as a no-op and
flagged. Reward: each voxel scores +1 if it matches the goal and -1 if it holds a
wrong non-air block where the goal has a block; the shared reward is the change in the
total score. The episode ends when the goal is complete or at the horizon.

Goal factors: one categorical per voxel over the ``n`` block ids, so the goal is
``[B, V]`` and a belief ``[B, V, n]``.

The module is the rules and only the rules, kept in one place as PettingZoo keeps a
game, which is why it runs past 400 lines: legality, step, rewards, observations and
metrics, each read against the card above. What is not rules lives beside it: the
palette and moves (``blocks.py``), the scripted human's heuristics (``heuristics.py``),
pictures and prompts (``render.py``), presets (``config.py``) and goals (``goals/``).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple

import numpy as np
from gymnasium import spaces

from envs.building import heuristics, render
from envs.building.blocks import (
    AIR,
    BEDROCK,
    BLOCK_NAMES,
    FACE_OFFSETS,
    FIRST_MOVE,
    FIRST_PLACE,
    FIRST_PLACEABLE,
    MOVE_NAMES,
    NUM_MOVES,
    expected_voxel_score,
    voxel_score,
)
from envs.building.config import BuildConfig
from envs.building.goals import GoalGenerator, load_goals, validate_goal
from envs.core import ASSISTANT, HUMAN, BatchState, StepResult, check_actions, seat_index

CONCEALED = 255
"""Goal id that stands for "unknown" in states a planner simulates (never a block id)."""


@dataclasses.dataclass
class BuildState(BatchState):
    """State of B `build` games (V voxels, k = history, c = chat history).

    world: [B, V] uint8 block ids.
    goal: [B, V] uint8 the true goal (read only by rewards, the human and privileged players).
    touched: [B, V] uint8 who last placed or broke each voxel (0 nobody, 1 human, 2 assistant).
    support: [B, V + 1] uint8 solid face neighbours of each voxel (column V absorbs
        writes to out-of-world neighbours).
    pos: [B, 2] int64 voxel of each player (human, assistant).
    t: [B] int32 steps taken.
    done: [B] bool episode over.
    score: [B] int32 current score; initial_score: [B] int32 score at reset.
    human_actions: [B] int32 place/break actions the human took.
    parts: [B, 2] float32 cumulative reward of each seat's own actions.
    recent: [B, k] int32 the human's last k actions + 1, newest last (0: none yet).
    chat: [B, c] int32 the human's last c messages (message index + 1, newest last; 0: none).
    last_assistant: [B] int64 the assistant's last applied action (0 at reset).
    """

    world: np.ndarray
    goal: np.ndarray
    touched: np.ndarray
    support: np.ndarray
    pos: np.ndarray
    t: np.ndarray
    done: np.ndarray
    score: np.ndarray
    initial_score: np.ndarray
    human_actions: np.ndarray
    parts: np.ndarray
    recent: np.ndarray
    chat: np.ndarray
    last_assistant: np.ndarray


class BuildTransition(NamedTuple):
    """What one step changed, per seat (human, assistant); goal-free.

    voxel: [B, 2] int64 the voxel a seat placed or broke at, -1 if none.
    old: [B, 2] uint8 the block there before; new: [B, 2] uint8 the block after.
    """

    voxel: np.ndarray
    old: np.ndarray
    new: np.ndarray


class BuildCore:
    """Batched `build` rules for one :class:`BuildConfig` (see the module docstring)."""

    name: ClassVar[str] = "build"
    discount: ClassVar[None] = None
    """The return is the plain sum of score changes; learners choose their own discount."""

    def __init__(self, config: BuildConfig):
        self.config = config
        self.options = {**dataclasses.asdict(config), "goal_families": None if config.goal_families is None else list(config.goal_families)}
        W, H, D = config.shape
        self.shape = (W, H, D)
        self.V = V = W * H * D
        self.n = config.num_block_types
        self.P = self.n - FIRST_PLACEABLE
        self.horizon = config.horizon
        self.goal_shape = (V, self.n)
        self._one_hot = np.zeros((256, self.n), np.float32)  # [goal id, n] one-hot rows; CONCEALED is all-zero
        self._one_hot[: self.n] = np.eye(self.n)
        self.first_break = FIRST_PLACE + self.P * V
        self.first_message = self.first_break + V
        self.num_messages = (self.P + 1 + W * D) if config.chat else 0
        self._num_actions = {HUMAN: self.first_message + self.num_messages, ASSISTANT: self.first_message}

        coords = np.stack(np.unravel_index(np.arange(V), self.shape), axis=1)  # [V, 3]
        self.coords = coords
        self.y = coords[:, 1]
        dist = np.linalg.norm(coords[:, None, :] - coords[None, :, :], axis=-1)
        self.reach_table = dist <= config.reach  # [V, V] player voxel -> reachable voxels
        self.distance = dist.astype(np.float32)  # [V, V] voxel-to-voxel distance
        targets = coords[:, None, :] + FACE_OFFSETS[None]  # [V, 6, 3]
        inside = np.all((targets >= 0) & (targets < np.array(self.shape)), axis=-1)
        flat = np.ravel_multi_index(tuple(np.clip(targets, 0, np.array(self.shape) - 1).transpose(2, 0, 1)), self.shape)
        self.move_target = np.where(inside, flat, -1)  # [V, 6] voxel after each move, -1 outside
        self.neighbours = np.where(inside, flat, V)  # [V, 6] face neighbours, V outside

        floor = self.y == 0
        self.initial_world = np.where(floor, BEDROCK, AIR).astype(np.uint8)  # [V]
        self.initial_support = np.zeros(V + 1, np.uint8)
        np.add.at(self.initial_support, self.neighbours[floor].ravel(), 1)
        self.initial_support[V] = 0
        ring = (coords[:, 1] == 1) & ((coords[:, 0] == 0) | (coords[:, 0] == W - 1) | (coords[:, 2] == 0) | (coords[:, 2] == D - 1))
        self.start_voxels = np.flatnonzero(ring)  # players start on the border ring, above the floor

        self._goal_pool = None
        if config.goal_file is not None:
            pool = load_goals(config.goal_file, shape=self.shape, num_block_types=self.n)
            self._goal_pool = pool.reshape(len(pool), V)
        self._goal_generator = GoalGenerator(self.shape, self.n, split=config.goal_split, families=config.goal_families)
        self._action_names = {agent: self._make_action_names(agent) for agent in (HUMAN, ASSISTANT)}
        self._observation_spaces = {agent: self._make_observation_space(agent) for agent in (HUMAN, ASSISTANT)}

    # ------------------------------------------------------------------ contract

    def num_actions(self, agent: str) -> int:
        return self._num_actions[agent]

    def sample_goals(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """[batch, V] uint8 goals from the goal file's pool or the generator."""
        if self._goal_pool is not None:
            return self._goal_pool[rng.integers(len(self._goal_pool), size=batch)]
        return self._goal_generator.sample(rng, batch).reshape(batch, self.V)

    def reset(self, batch: int, rng: np.random.Generator, goals: np.ndarray | None = None) -> BuildState:
        """Fresh worlds (bedrock floor, air above) for ``batch`` games.

        goals: [batch, V] or [batch, W, H, D] block ids; sampled when None. The start
        positions are drawn first, so a given rng state yields the same starts whether or
        not the goals are given (recordings replay from their seed and goal).
        """
        starts = np.stack([rng.choice(self.start_voxels, size=2, replace=False) for _ in range(batch)])
        if goals is None:
            goals = self.sample_goals(batch, rng)
        else:
            goals = np.asarray(goals)
            if goals.shape not in ((batch, self.V), (batch,) + self.shape):
                raise ValueError(f"goals must have shape {(batch, self.V)} or {(batch,) + self.shape}, got {goals.shape}")
            for goal in goals.reshape((batch,) + self.shape):
                validate_goal(goal, self.n)
            goals = goals.reshape(batch, self.V).astype(np.uint8)
        world = np.broadcast_to(self.initial_world, (batch, self.V)).copy()
        score = voxel_score(world, goals).sum(axis=1, dtype=np.int32)
        return BuildState(
            world=world,
            goal=goals,
            touched=np.zeros((batch, self.V), np.uint8),
            support=np.broadcast_to(self.initial_support, (batch, self.V + 1)).copy(),
            pos=starts.astype(np.int64),
            t=np.zeros(batch, np.int32),
            done=np.zeros(batch, bool),
            score=score,
            initial_score=score.copy(),
            human_actions=np.zeros(batch, np.int32),
            parts=np.zeros((batch, 2), np.float32),
            recent=np.zeros((batch, self.config.history), np.int32),
            chat=np.zeros((batch, self.config.chat_history), np.int32),
            last_assistant=np.zeros(batch, np.int64),
        )

    def legal_mask(self, state: BuildState, agent: str) -> np.ndarray:
        """[B, A] bool legal actions of ``agent``."""
        i = seat_index(agent)
        B, V, P = len(state.t), self.V, self.P
        pos = state.pos[:, i]
        mask = np.zeros((B, self._num_actions[agent]), bool)
        mask[:, 0] = True
        target = self.move_target[pos]  # [B, 6]
        free = state.world[np.arange(B)[:, None], np.maximum(target, 0)] == AIR
        mask[:, FIRST_MOVE:FIRST_PLACE] = (target >= 0) & free & (target != state.pos[:, 1 - i, None])
        reach = self.reach_table[pos]  # [B, V]
        place = (state.world == AIR) & (state.support[:, :V] > 0) & reach
        rows = np.arange(B)
        place[rows, state.pos[:, 0]] = False
        place[rows, state.pos[:, 1]] = False
        mask[:, FIRST_PLACE : self.first_break].reshape(B, P, V)[:] = place[:, None, :]
        mask[:, self.first_break : self.first_message] = (state.world >= FIRST_PLACEABLE) & reach
        mask[:, self.first_message :] = True
        mask[state.done] = False
        mask[state.done, 0] = True
        return mask

    def conceal_goal(self, state: BuildState) -> None:
        """Replace the goal with :data:`CONCEALED` everywhere above the floor: no world can
        match it, so a concealed game never terminates early."""
        state.goal[:, self.y > 0] = CONCEALED

    def step(self, state: BuildState, actions: np.ndarray) -> StepResult:
        """Apply ``actions`` ([B, 2]: human, assistant) in place; see the module docstring."""
        B = len(state.t)
        actions = check_actions(actions, B)
        live = ~state.done
        voxel = np.full((B, 2), -1, np.int64)
        old = np.zeros((B, 2), np.uint8)
        new = np.zeros((B, 2), np.uint8)
        illegal = np.zeros((B, 2), bool)
        for i in range(2):
            a = np.where(live, actions[:, i], 0)
            illegal[:, i] = self._apply(state, i, a, voxel[:, i], old[:, i], new[:, i])
            illegal[:, i] &= live
        transition = BuildTransition(voxel, old, new)
        parts = self.true_reward(transition, state.goal)
        state.parts += parts
        gain = parts.sum(axis=1)
        state.score += gain.astype(np.int32)
        placed_or_broken = (actions[:, 0] >= FIRST_PLACE) & (actions[:, 0] < self.first_message) & ~illegal[:, 0] & live
        state.human_actions += placed_or_broken
        h = np.where(live & ~illegal[:, 0], actions[:, 0] + 1, 1)
        state.recent[live] = np.concatenate([state.recent[live, 1:], h[live, None]], axis=1)
        said = live & ~illegal[:, 0] & (actions[:, 0] >= self.first_message)
        if said.any():
            msg = actions[said, 0] - self.first_message + 1
            state.chat[said] = np.concatenate([state.chat[said, 1:], msg[:, None]], axis=1)
        state.last_assistant[live] = np.where(illegal[live, 1], 0, actions[live, 1])
        state.t += live
        terminated = live & (state.score == self.V)
        truncated = live & ~terminated & (state.t >= self.horizon)
        state.done |= terminated | truncated
        return StepResult(gain.astype(np.float32), parts, terminated, truncated, illegal, transition)

    def _apply(self, state: BuildState, i: int, a: np.ndarray, voxel, old, new) -> np.ndarray:
        """Apply seat ``i``'s actions ``a`` [B]; fill ``voxel``/``old``/``new``; return illegal [B]."""
        B, V = len(a), self.V
        rows = np.arange(B)
        pos = state.pos[:, i]
        other = state.pos[:, 1 - i]
        in_range = (a >= 0) & (a < self._num_actions[HUMAN if i == 0 else ASSISTANT])
        a = np.where(in_range, a, 0)
        legal = in_range.copy()

        is_move = (a >= FIRST_MOVE) & (a < FIRST_PLACE)
        target = self.move_target[pos, (a - FIRST_MOVE) % NUM_MOVES]  # meaningful where is_move
        safe_target = np.maximum(target, 0)
        move_ok = (target >= 0) & (state.world[rows, safe_target] == AIR) & (target != other)
        legal &= ~is_move | move_ok
        moving = is_move & move_ok
        state.pos[moving, i] = target[moving]

        is_place = (a >= FIRST_PLACE) & (a < self.first_break)
        is_break = (a >= self.first_break) & (a < self.first_message)
        v = np.where(is_place, (a - FIRST_PLACE) % V, np.where(is_break, a - self.first_break, 0))
        block = state.world[rows, v]
        near = self.reach_table[pos, v]
        place_ok = (block == AIR) & (state.support[rows, v] > 0) & near & (v != pos) & (v != other)
        break_ok = (block >= FIRST_PLACEABLE) & near
        legal &= (~is_place | place_ok) & (~is_break | break_ok)
        placing = is_place & place_ok
        breaking = is_break & break_ok
        changed = placing | breaking
        if changed.any():
            r, vv = rows[changed], v[changed]
            new_block = np.where(placing, (a - FIRST_PLACE) // V + FIRST_PLACEABLE, AIR).astype(np.uint8)[changed]
            voxel[changed] = vv
            old[changed] = block[changed]
            new[changed] = new_block
            state.world[r, vv] = new_block
            state.touched[r, vv] = i + 1
            delta = np.where(placing[changed], 1, -1).astype(np.int16)
            nbrs = self.neighbours[vv]  # [N, 6]
            support = state.support[r[:, None], nbrs].astype(np.int16) + delta[:, None]
            state.support[r[:, None], nbrs] = support.astype(np.uint8)
            state.support[:, V] = 0
        return ~legal

    def _score_change(self, transition: BuildTransition, probs_at) -> np.ndarray:
        """[B, 2] float32 expected score change of each seat's action, where
        ``probs_at(rows, voxels)`` gives the goal probabilities [N, n] at those voxels."""
        parts = np.zeros(transition.voxel.shape, np.float32)
        rows, seats = np.nonzero(transition.voxel >= 0)
        if len(rows):
            probs = probs_at(rows, transition.voxel[rows, seats])
            new, old = transition.new[rows, seats], transition.old[rows, seats]
            parts[rows, seats] = expected_voxel_score(new, probs) - expected_voxel_score(old, probs)
        return parts

    def expected_reward(self, transition: BuildTransition, belief: np.ndarray) -> np.ndarray:
        """[B, 2] float32 expected reward of each seat's change under ``belief`` [B, V, n]."""
        return self._score_change(transition, lambda rows, voxels: belief[rows, voxels])

    def true_reward(self, transition: BuildTransition, goal: np.ndarray) -> np.ndarray:
        """[B, 2] float32 reward parts under the true goal [B, V]: the one-hot belief."""
        return self._score_change(transition, lambda rows, voxels: self._one_hot[goal[rows, voxels]])

    # ------------------------------------------------------------ observations

    def _make_observation_space(self, agent: str) -> spaces.Dict:
        channels = 4 if agent == HUMAN else 3
        fields = {
            "world": spaces.Box(0, 255, (channels,) + self.shape, np.uint8),
            "step": spaces.Box(0, self.horizon, (1,), np.int32),
        }
        if agent == ASSISTANT:
            fields["human_actions"] = spaces.Box(0, self._num_actions[HUMAN], (self.config.history,), np.int32)
            if self.config.chat:
                fields["chat"] = spaces.Box(0, self.num_messages, (self.config.chat_history,), np.int32)
        return spaces.Dict(fields)

    def observation_space(self, agent: str) -> spaces.Dict:
        return self._observation_spaces[agent]

    def observe(self, state: BuildState, agent: str) -> dict[str, np.ndarray]:
        """Channels of ``world`` ([B, C, W, H, D] uint8): block id, who last touched it,
        players (1 human, 2 assistant), and for the human only the goal block id."""
        B = len(state.t)
        players = np.zeros((B, self.V), np.uint8)
        rows = np.arange(B)
        players[rows, state.pos[:, 0]] = 1
        players[rows, state.pos[:, 1]] = 2
        layers = [state.world, state.touched, players] + ([state.goal] if agent == HUMAN else [])
        obs = {
            "world": np.stack(layers, axis=1).reshape((B, len(layers)) + self.shape),
            "step": np.minimum(state.t, self.horizon)[:, None].astype(np.int32),
        }
        if agent == ASSISTANT:
            obs["human_actions"] = state.recent.copy()
            if self.config.chat:
                obs["chat"] = state.chat.copy()
        return obs

    def observed_goal_factors(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        """[B, V] int64 the block id in each voxel (the goal is the target world)."""
        world = observation["world"]
        return world[:, 0].reshape(len(world), -1).astype(np.int64)

    def observed_goal_owners(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        """[B, V] int64 who last placed or broke each voxel (the ``touched`` channel: 0 nobody, 1 the human, 2 the assistant)."""
        world = observation["world"]
        return world[:, 1].reshape(len(world), -1).astype(np.int64)

    # ---------------------------------------------------------- planning

    def expected_action_rewards(self, state: BuildState, agent: str, belief) -> np.ndarray:
        """[B, A] float32 expected score change of each action under ``belief`` [B, V, n]:
        placing block b on air gains ``2 p_b - 1``, breaking block w loses ``2 p_w - 1``
        (from :func:`expected_voxel_score`); moves, messages and the no-op gain 0."""
        B, V, P = len(state.t), self.V, self.P
        probs = np.asarray(belief, dtype=np.float32)  # [B, V, n]
        values = np.zeros((B, self._num_actions[agent]), np.float32)
        values[:, FIRST_PLACE : self.first_break] = (2 * probs[:, :, FIRST_PLACEABLE:] - 1).transpose(0, 2, 1).reshape(B, P * V)
        p_here = np.take_along_axis(probs, state.world[:, :, None].astype(np.intp), axis=2)[:, :, 0]
        values[:, self.first_break : self.first_message] = 1 - 2 * p_here
        values[~self.legal_mask(state, agent)] = -np.inf
        return values

    # ------------------------------------------- scripted play (heuristics.py)

    def goal_action_values(self, state: BuildState, agent: str, goal: np.ndarray, fix_others: bool = True) -> np.ndarray:
        """[B, A] float32 one-step value of each action toward ``goal`` ([B, V]): :func:`envs.building.heuristics.goal_action_values`."""
        return heuristics.goal_action_values(self, state, agent, goal, fix_others)

    def chat_hint(self, state: BuildState) -> np.ndarray:
        """[B] int64 the human's most useful message action now, -1 if none: :func:`envs.building.heuristics.chat_hint`."""
        return heuristics.chat_hint(self, state)

    # ------------------------------------------------------------------ metrics

    def metrics(self, state: BuildState) -> dict[str, np.ndarray]:
        """Per-game metrics, each [B]: goal_pct (the net score gain as a percentage of the
        possible: 100 when the goal is built, below 0 when wrong blocks outweigh right
        ones), human_actions, assistant_share (the assistant's part of the net score gain,
        0 when nothing was gained), length, return (net score gain)."""
        gain = (state.score - state.initial_score).astype(np.float32)
        possible = np.maximum(self.V - state.initial_score, 1).astype(np.float32)
        share = np.where(gain > 0, state.parts[:, 1] / np.maximum(gain, 1e-9), 0.0)
        return {
            "goal_pct": 100.0 * gain / possible,
            "human_actions": state.human_actions.astype(np.float32),
            "assistant_share": share.astype(np.float32),
            "length": state.t.astype(np.float32),
            "return": gain,
        }

    # --------------------------------------------------------------------- text

    def _make_action_names(self, agent: str) -> list[str]:
        xyz = [" ".join(map(str, c)) for c in self.coords]
        names = ["noop"] + [f"move {m}" for m in MOVE_NAMES]
        for b in range(FIRST_PLACEABLE, self.n):
            names += [f"place {BLOCK_NAMES[b]} {c}" for c in xyz]
        names += [f"break {c}" for c in xyz]
        if agent == HUMAN and self.config.chat:
            names += [f"say use {BLOCK_NAMES[b]}" for b in range(FIRST_PLACEABLE, self.n)]
            names += ["say wrong"]
            names += [f"say here {x} {z}" for x in range(self.shape[0]) for z in range(self.shape[2])]
        return names

    def action_names(self, agent: str) -> list[str]:
        return self._action_names[agent]

    def message_text(self, message: int) -> str:
        """Text of message index ``message`` (0-based)."""
        return self._action_names[HUMAN][self.first_message + message][len("say ") :]

    def describe_observation(self, observation: dict[str, np.ndarray], agent: str) -> str:
        return render.describe(self, observation, agent)

    def render_ansi(self, state: BuildState, row: int = 0, goal: bool = True) -> str:
        return render.ansi(self, state, row, goal)

    def render_rgb(self, state: BuildState, row: int = 0) -> np.ndarray:
        return render.rgb(self, state, row)
