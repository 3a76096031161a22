"""Playing batches of episodes: every game row seeded on its own, so any episode can be
replayed from its seed (and recorded, see :mod:`assist.recording`)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from assist.players.base import Player, Turn
from envs.core import AGENTS, BatchState, GameCore


class Episodes(NamedTuple):
    """B finished episodes.

    seeds: [B] int64 each row's reset seed.
    metrics: the core's per-game metrics, each [B].
    actions: [T, B, 2] int64 joint actions per step (human, assistant); rows that had
        finished hold 0.
    rewards: [T, B] float32 shared rewards.
    illegal: [T, B, 2] bool actions applied as no-ops.
    lengths: [B] int32 steps each episode lasted.
    state: the final state.
    """

    seeds: np.ndarray
    metrics: dict[str, np.ndarray]
    actions: np.ndarray
    rewards: np.ndarray
    illegal: np.ndarray
    lengths: np.ndarray
    state: BatchState


def reset_rows(core: GameCore, seeds: np.ndarray) -> BatchState:
    """One state with row i reset by ``np.random.default_rng(seeds[i])``."""
    states = [core.reset(1, np.random.default_rng(int(s))) for s in seeds]
    return type(states[0]).concat(states)


def turn_for(core: GameCore, player: Player, state: BatchState, seat: str) -> Turn:
    """The :class:`Turn` ``player`` gets in ``seat`` (the state only if privileged)."""
    return Turn(core.observe(state, seat), core.legal_mask(state, seat), state if player.privileged else None)


def play(core: GameCore, players: dict[str, Player], seeds: np.ndarray, rng: np.random.Generator) -> Episodes:
    """Play one episode per seed, all in one batch, until every row is done."""
    state = reset_rows(core, seeds)
    B = len(seeds)
    for player in players.values():
        player.reset(B, rng)
    actions, rewards, illegal = [], [], []
    while not state.done.all():
        live = ~state.done
        joint = np.stack([players[seat].act(turn_for(core, players[seat], state, seat)) for seat in AGENTS], axis=1)
        joint = np.where(live[:, None], joint, 0)
        result = core.step(state, joint)
        actions.append(joint)
        rewards.append(result.reward)
        illegal.append(result.illegal)
    return Episodes(
        seeds=np.asarray(seeds, np.int64),
        metrics=core.metrics(state),
        actions=np.asarray(actions, np.int64).reshape(-1, B, 2),
        rewards=np.asarray(rewards, np.float32).reshape(-1, B),
        illegal=np.asarray(illegal, bool).reshape(-1, B, 2),
        lengths=state.t.astype(np.int32).copy(),
        state=state,
    )
