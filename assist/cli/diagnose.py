"""What a trained `build` assistant does, and how far its goal belief can be trusted.

``python scripts/diagnose.py RUN [--episodes 40] [--goal-split train] [--seed 1000]``
plays the run's assistant (its search at its evaluation budget) beside the human it
trained with and prints, per episode:

* its blocks placed, right or wrong by the goal, and its blocks broken, by who placed
  them (``human``, ``own``) and whether they were right: an assistant that makes the
  human work harder usually does it by one of these;
* the calibration of its root belief at every step, in bins of the probability it
  gives: on the blocks the human placed, the probability that the block there is the
  goal's (a belief that doubts right blocks breaks them), and on the air voxels the
  assistant could place at, its most likely block's probability (how often that block
  is the goal's: whether placing where the belief is confident would be right).

The goal is read only to score what happened (a diagnostic, like the evaluation's
metrics); the assistant plays as in an evaluation and never sees it. Episodes reset
from ``evaluation.episode_seeds(seed, episodes)``, as ``compare.py`` plays them.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

import numpy as np
from omegaconf import OmegaConf

from assist import config as schemas
from assist.calibration import calibration
from assist.cli import THREADS_HELP, set_threads
from assist.evaluation import episode_seeds
from assist.models.base import softmax
from assist.players.search import SearchPlayer
from assist.registry import make_player
from assist.rollout import reset_rows, turn_for
from envs.building.blocks import AIR, FIRST_PLACEABLE
from envs.building.core import FIRST_PLACE, BuildCore
from envs.core import AGENTS, ASSISTANT, HUMAN

SEATS = {1: "human", 2: "own"}
"""``BuildState.touched`` values: who last placed a block."""


def assistant_changes(touched: np.ndarray, voxel: np.ndarray, old: np.ndarray, new: np.ndarray, goal: np.ndarray) -> Counter:
    """Count the assistant's changes of one step ([B] voxel, -1 for none; [B] old and new
    block ids) as ``place_right``/``place_wrong`` and ``break_<whose>_<right|wrong>``
    (whose block by ``touched`` [B, V] before the step, see :data:`SEATS`; right: it
    was the goal's [B, V])."""
    counts: Counter = Counter()
    for row in np.nonzero(voxel >= 0)[0]:
        v = voxel[row]
        if new[row] != AIR:
            counts["place_right" if goal[row, v] == new[row] else "place_wrong"] += 1
        else:
            whose = SEATS.get(int(touched[row, v]), "world")
            counts[f"break_{whose}_{'right' if goal[row, v] == old[row] else 'wrong'}"] += 1
    return counts


def diagnose(core: BuildCore, human, assistant: SearchPlayer, episodes: int, seed: int) -> dict:
    """Play ``episodes`` (one batch) and gather :func:`assistant_changes` per episode and
    the two calibrations of the assistant's root belief (see the module docstring)."""
    seeds = episode_seeds(seed, episodes)
    state = reset_rows(core, seeds)
    players = {HUMAN: human, ASSISTANT: assistant}
    rng = np.random.default_rng([seed, 1])
    for player in players.values():
        player.reset(len(seeds), rng)
    changes: Counter = Counter()
    human_blocks: list[np.ndarray] = []  # [N, 2] (belief that the block there is the goal's, right)
    air_voxels: list[np.ndarray] = []  # [N, 2] (belief in the most likely block, right)
    while not state.done.all():
        live = ~state.done
        joint = np.stack([players[seat].act(turn_for(core, players[seat], state, seat)) for seat in AGENTS], axis=1)
        joint = np.where(live[:, None], joint, 0)
        belief = softmax(assistant.last.root_output.goal_logits)  # [B, V, n]
        rows, voxels = np.nonzero((state.touched == 1) & (state.world != AIR) & live[:, None])
        blocks = state.world[rows, voxels]
        human_blocks.append(np.stack([belief[rows, voxels, blocks], state.goal[rows, voxels] == blocks], 1))
        placeable = core.legal_mask(state, ASSISTANT)[:, FIRST_PLACE : core.first_break].reshape(len(seeds), core.P, core.V).any(1)
        rows, voxels = np.nonzero(placeable & live[:, None])
        choice = belief[rows, voxels, FIRST_PLACEABLE:]
        air_voxels.append(np.stack([choice.max(1), state.goal[rows, voxels] == choice.argmax(1) + FIRST_PLACEABLE], 1))
        touched = state.touched.copy()
        t = core.step(state, joint).transition
        changes += assistant_changes(touched, t.voxel[:, 1], t.old[:, 1], t.new[:, 1], state.goal)
    metrics = core.metrics(state)
    human_blocks_, air_voxels_ = np.concatenate(human_blocks), np.concatenate(air_voxels)
    return {
        "episodes": episodes,
        "human_actions": float(metrics["human_actions"].mean()),
        "per_episode": {key: changes[key] / episodes for key in sorted(changes)},
        "human_blocks": calibration(human_blocks_[:, 0], human_blocks_[:, 1].astype(bool)),
        "air_voxels": calibration(air_voxels_[:, 0], air_voxels_[:, 1].astype(bool)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="an AssistanceZero run directory on the build game")
    parser.add_argument("--episodes", type=int, default=40, help="episodes, played in one batch")
    parser.add_argument("--goal-split", choices=["train", "test", "all"], help="the goals (default: the run's env.goal_split)")
    parser.add_argument("--seed", type=int, default=1000, help="episode seed (compare.py's default)")
    parser.add_argument("--threads", type=int, default=1, help=THREADS_HELP)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    cfg = OmegaConf.load(f"{args.run}/config.yaml")
    changes = {"goal_split": args.goal_split} if args.goal_split else {}
    core = schemas.make_core(cfg.env, **changes)
    if not isinstance(core, BuildCore):
        parser.error(f"{args.run} is a run of another game; the diagnosis reads the build game's blocks")
    human = make_player(cfg.human.name, core, HUMAN, **(cfg.human.get("params") or {}))
    assistant = make_player("trained", core, ASSISTANT, run=args.run)
    if not isinstance(assistant, SearchPlayer):
        parser.error(f"{args.run} is not an AssistanceZero run: the diagnosis reads the search's root belief")
    found = diagnose(core, human, assistant, args.episodes, args.seed)
    print(json.dumps({"run": args.run, "episodes": found["episodes"], "human_actions": found["human_actions"], "per_episode": found["per_episode"]}))
    for name in ("human_blocks", "air_voxels"):
        for row in found[name]:
            print(json.dumps({"calibration": name, **row}))


if __name__ == "__main__":
    main()
