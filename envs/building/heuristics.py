"""The scripted human's heuristics on `build`: how good each action is for a player who
knows the goal and acts alone (:func:`goal_action_values`, what the scripted humans and
the oracle of :mod:`assist.players.scripted` act on), and the chat message that would
help most now (:func:`chat_hint`).

Not rules: :class:`~envs.building.core.BuildCore` keeps the rules and hands its
``goal_action_values`` and ``chat_hint`` to these functions, which read the goal (they
are privileged) and never change a state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from envs.building.blocks import AIR, BEDROCK, FIRST_MOVE, FIRST_PLACE, FIRST_PLACEABLE, voxel_score
from envs.core import seat_index

if TYPE_CHECKING:
    from envs.building.core import BuildCore, BuildState


def goal_action_values(core: BuildCore, state: BuildState, agent: str, goal: np.ndarray, fix_others: bool = True) -> np.ndarray:
    """[B, A] float32 one-step value of each action toward ``goal`` ([B, V]).

    Place/break: the score change they cause (+1 / -1; breaking the other seat's
    blocks is worth nothing unless ``fix_others``). Moves: up to 0.5 for getting
    closer to the nearest voxel that still needs work. No-op: 0. Illegal: -inf.
    Among equal placements, lower voxels win slightly (build bottom-up).
    """
    i = seat_index(agent)
    B, V, P = len(state.t), core.V, core.P
    mask = core.legal_mask(state, agent)
    values = np.zeros(mask.shape, np.float32)
    here = voxel_score(state.world, goal).astype(np.float32)  # [B, V]
    blocks = np.arange(FIRST_PLACEABLE, core.n, dtype=np.uint8)
    place_gain = voxel_score(blocks[None, :, None], goal[:, None, :]) - here[:, None, :]  # [B, P, V]
    bottom_up = -1e-3 * core.y.astype(np.float32)
    values[:, FIRST_PLACE : core.first_break] = (place_gain + bottom_up).reshape(B, P * V)
    break_gain = voxel_score(np.zeros_like(state.world), goal) - here
    if not fix_others:
        break_gain = np.where(state.touched == 2 - i, np.minimum(break_gain, 0.0), break_gain)
    values[:, core.first_break : core.first_message] = break_gain
    values[:, FIRST_MOVE:FIRST_PLACE] = approach_values(core, state, i, goal, fix_others)
    values[:, core.first_message :] = -1.0
    values[~mask] = -np.inf
    return values


def approach_values(core: BuildCore, state: BuildState, i: int, goal: np.ndarray, fix_others: bool) -> np.ndarray:
    """[B, 6] value of each move: 0.5 x (distance gained to the nearest work voxel) / 1 voxel."""
    work = (state.world != goal) & (state.world != BEDROCK)
    work &= (state.support[:, : core.V] > 0) | (state.world != AIR)
    if not fix_others:
        work &= ~((state.touched == 2 - i) & (state.world != AIR))
    rows = np.arange(len(work))
    pos = state.pos[:, i]
    blocking = goal[rows, pos] != AIR  # standing where a block is needed
    work[rows, state.pos[:, 0]] = False
    work[rows, state.pos[:, 1]] = False
    far = np.float32(1e6)
    d_here = np.where(work, core.distance[pos], far).min(axis=1)  # [B]
    target = core.move_target[pos]  # [B, 6]
    d_next = np.where(work[:, None, :], core.distance[np.maximum(target, 0)], far).min(axis=2)  # [B, 6]
    gain = np.where(work.any(axis=1, keepdims=True), d_here[:, None] - d_next, 0.0)
    step_aside = np.where(blocking[:, None] & (target >= 0), 0.25, 0.0)
    return np.maximum(0.5 * np.clip(gain, -1.0, 1.0), step_aside)


def chat_hint(core: BuildCore, state: BuildState) -> np.ndarray:
    """[B] int64 the human's most useful message action now, -1 if none (chat off or
    nothing left to build).

    ``say wrong`` right after the assistant placed a wrong block; else, when no
    missing goal block is within the assistant's reach, ``say here x z`` for the
    column of the missing block nearest to it; else ``say use <block>`` for the most
    needed block type.
    """
    B = len(state.t)
    if not core.config.chat:
        return np.full(B, -1, np.int64)
    rows = np.arange(B)
    last = state.last_assistant
    placed = (last >= FIRST_PLACE) & (last < core.first_break)
    v = np.where(placed, (last - FIRST_PLACE) % core.V, 0)
    wrong = placed & (state.world[rows, v] != state.goal[rows, v])
    missing = (state.world != state.goal) & (state.goal >= FIRST_PLACEABLE)  # [B, V]
    counts = np.stack([(missing & (state.goal == b)).sum(axis=1) for b in range(FIRST_PLACEABLE, core.n)], axis=1)
    use = core.first_message + counts.argmax(axis=1)
    distance = np.where(missing, core.distance[state.pos[:, 1]], np.inf)  # [B, V] from the assistant
    nearest = distance.argmin(axis=1)
    x, z = core.coords[nearest, 0], core.coords[nearest, 2]
    here = core.first_message + core.P + 1 + x * core.shape[2] + z
    far = distance.min(axis=1) > core.config.reach
    hint = np.where(missing.any(axis=1), np.where(far, here, use), -1)
    return np.where(wrong, core.first_message + core.P, hint).astype(np.int64)
