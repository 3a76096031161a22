"""What a person's seat is shown, as JSON-ready dicts (the browser page draws them).

:func:`game_info` is sent once (the game, the seat, every action's text; for `build` the
world's shape, axes and the colours of its blocks and players); :func:`state_view` every refresh (the step, metrics,
legal actions, what each seat did last, the text picture and prompt; for `build` the
world, both players' voxels and, for the human's seat only, the goal as a blueprint).
The goal never reaches the assistant's seat, nor do rewards and metrics before the
episode is over (they would reveal it).
"""

from __future__ import annotations

from typing import Any

from assist.ui.session import Snapshot
from envs.building.blocks import BLOCK_NAMES, FIRST_PLACEABLE
from envs.building.core import MOVE_NAMES
from envs.building.render import BLOCK_COLOURS, PLAYER_COLOURS
from envs.codec import TextCodec
from envs.core import AGENTS, HUMAN, GameCore


def game_info(core: GameCore, seat: str) -> dict[str, Any]:
    """The constant part of the view: the game, the seat and its action texts (index = id)."""
    info: dict[str, Any] = {"game": core.name, "seat": seat, "horizon": core.horizon, "actions": core.action_names(seat)}
    if core.name == "build":
        info["build"] = {
            "shape": list(core.shape),
            "blocks": list(BLOCK_NAMES[: core.n]),
            "colours": BLOCK_COLOURS[: core.n].tolist(),
            "player_colours": dict(zip(AGENTS, PLAYER_COLOURS.tolist())),
            "placeable": list(BLOCK_NAMES[FIRST_PLACEABLE : core.n]),
            "moves": list(MOVE_NAMES),
            "reach": core.config.reach,
        }
    return info


def state_view(core: GameCore, seat: str, snap: Snapshot, codec: TextCodec) -> dict[str, Any]:
    """The changing part of the view of ``snap`` for the person in ``seat``."""
    state = snap.state
    shows_goal = seat == HUMAN
    observation = {key: value[0] for key, value in core.observe(state, seat).items()}
    last = None
    if snap.last is not None:
        last = {
            agent: {"action": codec.action_text(agent, action), "illegal": illegal}
            for agent, action, illegal in zip(AGENTS, snap.last.actions, snap.last.illegal)
        }
    scored = shows_goal or bool(state.done[0])
    view: dict[str, Any] = {
        "episode": snap.episode,
        "t": int(state.t[0]),
        "done": bool(state.done[0]),
        "metrics": snap.metrics if scored else None,
        "legal": [int(a) for a in core.legal_mask(state, seat)[0].nonzero()[0]],
        "queued": [codec.action_text(seat, a) for a in snap.queued.get(seat, [])],
        "last": last,
        "reward": None if snap.last is None or not scored else snap.last.reward,
        "text": core.render_ansi(state, 0, goal=shows_goal),
        "prompt": codec.prompt(observation, seat),
    }
    if core.name == "build":
        view["world"] = state.world[0].tolist()
        view["goal"] = state.goal[0].tolist() if shows_goal else None
        view["players"] = {agent: core.coords[state.pos[0, i]].tolist() for i, agent in enumerate(AGENTS)}
    return view
