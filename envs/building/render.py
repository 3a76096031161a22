"""Pictures and prompts of `build` games: ANSI text, RGB images, LM prompts."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from envs.building.blocks import AIR, BEDROCK, BLOCK_NAMES, FIRST_PLACEABLE, TOUCHED_BY_ASSISTANT, TOUCHED_BY_HUMAN, UNTOUCHED
from envs.core import HUMAN

BLOCK_CHARS = ".#dcglpsbw"
"""One character per block id (air, bedrock, dirt, cobblestone, glass, log, planks, stone, stonebrick, wool)."""
BLOCK_COLOURS = np.array(
    [
        [235, 240, 245],  # air
        [40, 40, 40],  # bedrock
        [140, 89, 43],  # dirt: brown
        [115, 115, 115],  # cobblestone: mid grey
        [140, 217, 242],  # glass: pale cyan
        [217, 140, 25],  # log: orange
        [242, 204, 115],  # planks: straw
        [51, 51, 51],  # stone: near black
        [128, 77, 179],  # stonebrick: purple
        [95, 175, 75],  # wool: green
    ],
    dtype=np.uint8,
)
"""[10, 3] uint8 RGB of each block id: the one colour table of every picture of `build` (these
RGB images, the TensorBoard picture, the browser's layer panels and 3-D view), with the
placeable blocks' hues far apart so that no two look alike (dirt and log are not both brown)."""
PLAYER_COLOURS = np.array([[220, 60, 60], [60, 90, 220]], dtype=np.uint8)  # human, assistant
CELL = 8
"""Pixels per voxel in :func:`rgb`."""


def _layers(grid: np.ndarray, pos_xyz: list[tuple[int, int, int]], marks: str) -> list[str]:
    """Text rows of a [W, H, D] grid, one z-by-x panel per layer y >= 1, side by side: a
    ``y=`` heading over each panel, z down the left (top row z = D - 1), x along the bottom
    (its last digit)."""
    W, H, D = grid.shape
    chars = np.array(list(BLOCK_CHARS))[grid]  # [W, H, D]
    for (x, y, z), mark in zip(pos_xyz, marks):
        chars[x, y, z] = mark
    width = max(W, len(f"y={H - 1}"))
    margin = len(str(D - 1))

    def row(label: str, panels: list[str]) -> str:
        return label.rjust(margin) + " " + "  ".join(panel.ljust(width) for panel in panels)

    rows = [row("z", [f"y={y}" for y in range(1, H)])]
    for z in range(D - 1, -1, -1):
        rows.append(row(str(z), ["".join(chars[:, y, z]) for y in range(1, H)]))
    rows.append(row("x", ["".join(str(x % 10) for x in range(W))] * (H - 1)))
    return rows


def ansi(core, state, row: int, goal: bool = True) -> str:
    """The world of game ``row`` (players as H and A) beside the goal, layer by layer;
    ``goal=False`` shows neither the goal nor the progress toward it."""
    shape = core.shape
    world = state.world[row].reshape(shape)
    players = [tuple(int(c) for c in core.coords[p]) for p in state.pos[row]]
    left = _layers(world, players, "HA")
    if goal:
        right = _layers(state.goal[row].reshape(shape), [], "")
        width = max(len(line) for line in left)
        lines = [f"{'world':<{width}}   goal"] + [f"{a:<{width}}   {b}" for a, b in zip(left, right)]
    else:
        lines = ["world"] + left
    metrics = {key: float(value[row]) for key, value in core.metrics(state).items()}
    progress = f"goal {metrics['goal_pct']:.0f}%  " if goal else ""
    lines.append("axes: x left to right, z bottom to top, y up (a panel per layer y; y=0 is bedrock); positions read x y z")
    lines.append(
        f"step {int(state.t[row])}/{core.horizon}  {progress}"
        f"human actions {int(metrics['human_actions'])}  legend: {BLOCK_CHARS[: core.n]} = {', '.join(BLOCK_NAMES[: core.n])}"
    )
    return "\n".join(lines)


def _panel(grid: np.ndarray, faded: bool) -> np.ndarray:
    """[D*CELL, (H-1)*(W*CELL+CELL), 3] uint8: one top-down x-z tile per layer y >= 1."""
    W, H, D = grid.shape
    tiles = []
    for y in range(1, H):
        colours = BLOCK_COLOURS[grid[:, y, :].T[::-1]]  # [D, W, 3], z up
        if faded:
            colours = (0.35 * colours + 0.65 * 255).astype(np.uint8)
        tile = np.repeat(np.repeat(colours, CELL, axis=0), CELL, axis=1)
        tile[:, -1] = tile[-1, :] = 200
        tiles += [tile, np.full((D * CELL, CELL, 3), 255, np.uint8)]
    return np.concatenate(tiles, axis=1)


def rgb(core, state, row: int) -> np.ndarray:
    """[2 * D * CELL + CELL, ..., 3] uint8 picture: the world's layers on top (players as
    red and blue squares), the goal's layers below as a faint blueprint."""
    W, H, D = core.shape
    world = state.world[row].reshape(core.shape)
    top = _panel(world, faded=False)
    for seat, p in enumerate(state.pos[row]):
        x, y, z = core.coords[p]
        if y >= 1:
            r0 = (D - 1 - z) * CELL + 2
            c0 = (y - 1) * (W + 1) * CELL + x * CELL + 2
            top[r0 : r0 + CELL - 4, c0 : c0 + CELL - 4] = PLAYER_COLOURS[seat]
    bottom = _panel(state.goal[row].reshape(core.shape), faded=True)
    gap = np.full((CELL, top.shape[1], 3), 255, np.uint8)
    return np.concatenate([top, gap, bottom], axis=0)


def _block_list(world: np.ndarray, coords: np.ndarray) -> str:
    """``planks: 1 1 2, 2 1 2; stone: ...`` for the non-air, non-bedrock voxels of a [V] array."""
    groups = []
    for b in np.unique(world[world >= FIRST_PLACEABLE]):
        where = coords[world == b]
        groups.append(f"{BLOCK_NAMES[b]}: " + ", ".join(" ".join(map(str, c)) for c in where))
    return "; ".join(groups) if groups else "none"


def _blocks(core, blocks: np.ndarray, touched: np.ndarray) -> list[str]:
    """``v1``: one line of every block ([V] block ids; ``touched`` [V] unread)."""
    return [f"blocks: {_block_list(blocks, core.coords)}"]


OWNER_WORDS = {TOUCHED_BY_HUMAN: "human", TOUCHED_BY_ASSISTANT: "assistant"}
"""``touched`` values of a voxel someone last changed, and the prompt's word for them."""


def _blocks_by_owner(core, blocks: np.ndarray, touched: np.ndarray) -> list[str]:
    """``v2``: a line of the blocks each seat placed (``human blocks: ...``, ``assistant
    blocks: ...``, from ``touched`` [V]), then, only if there are any, the blocks nobody
    placed (``blocks: ...``, a world that starts with some)."""
    lines = [f"{name} blocks: {_block_list(np.where(touched == owner, blocks, AIR), core.coords)}" for owner, name in OWNER_WORDS.items()]
    untouched = np.where(touched == UNTOUCHED, blocks, AIR)
    return lines + ([f"blocks: {_block_list(untouched, core.coords)}"] if (untouched >= FIRST_PLACEABLE).any() else [])


def _human_did(core, observation: dict[str, np.ndarray]) -> str:
    """``v1``: the human's recent actions, oldest first (``human_actions`` [k], action + 1, 0: none yet)."""
    names = core.action_names(HUMAN)
    recent = [names[a - 1] for a in observation["human_actions"] if a > 0]
    return "human did: " + (", ".join(recent) if recent else "nothing yet")


def _human_did_by_step(core, observation: dict[str, np.ndarray]) -> str:
    """``v2``: the human's recent actions, oldest first, each after the step it was taken
    at (``human did: step 3: move +x; step 4: place dirt 1 1 2``; the newest is at step
    ``t - 1`` of an observation at step ``t``)."""
    names = core.action_names(HUMAN)
    actions = observation["human_actions"]
    first = int(observation["step"][0]) - len(actions)
    recent = [f"step {first + j}: {names[a - 1]}" for j, a in enumerate(actions) if a > 0]
    return "human did: " + ("; ".join(recent) if recent else "nothing yet")


class PromptFormat(NamedTuple):
    """How a prompt shows the blocks (``blocks(core, blocks [V], touched [V]) -> lines``)
    and, in the assistant's, the human's recent actions (``human_did(core, observation) -> line``)."""

    blocks: Callable[..., list[str]]
    human_did: Callable[..., str]


PROMPTS = {"v1": PromptFormat(_blocks, _human_did), "v2": PromptFormat(_blocks_by_owner, _human_did_by_step)}
"""The prompt formats (``BuildConfig.prompt``, ``env.prompt``). ``v1``, the default and
the format every LM run before it trained with: one list of the blocks, the human's
recent actions oldest first. ``v2``: the blocks listed by who placed them (the human,
the assistant; blocks nobody placed as ``blocks:``), the human's recent actions oldest
first, each with its step. Both use only words of the default tokenizer's vocabulary
(:mod:`assist.llm.tokenizer`, which is built from ``v1`` text)."""


def describe(core, observation: dict[str, np.ndarray], agent: str) -> str:
    """A compact prompt from one observation in the format ``core.config.prompt`` names
    (:data:`PROMPTS`): positions, blocks, (goal or the human's recent actions and messages)."""
    prompt = PROMPTS[core.config.prompt]
    world = observation["world"]
    blocks = world[0].reshape(-1)
    players = world[2].reshape(-1)
    where = {seat: " ".join(map(str, core.coords[np.flatnonzero(players == seat + 1)[0]])) for seat in (0, 1)}
    you = 0 if agent == HUMAN else 1
    lines = [
        f"step {int(observation['step'][0])}/{core.horizon}; world {' '.join(map(str, core.shape))}; reach {core.config.reach:g}",
        f"you ({agent}) at {where[you]}; other at {where[1 - you]}",
        *prompt.blocks(core, blocks, world[1].reshape(-1)),
    ]
    if agent == HUMAN:
        goal = world[3].reshape(-1)
        todo = (goal != blocks) & (goal != BEDROCK)
        lines.append(f"goal: {_block_list(np.where(todo & (goal != AIR), goal, AIR), core.coords)}")
        wrong = todo & (blocks >= FIRST_PLACEABLE)
        if wrong.any():
            lines.append("wrong: " + ", ".join(" ".join(map(str, c)) for c in core.coords[wrong]))
    else:
        lines.append(prompt.human_did(core, observation))
        if "chat" in observation:
            said = [core.message_text(m - 1) for m in observation["chat"] if m > 0]
            lines.append("human said: " + (" | ".join(said) if said else "nothing"))
    return "\n".join(lines)
