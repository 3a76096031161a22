"""Benchmarks that print one JSON line per figure.

    python scripts/bench.py env [--preset mbag] [--seconds 5] [--repeats 3]

``env``: environment steps per second with uniformly random legal actions for both
players, legal masks included: the batched core at B = 1, 64, 1024 and one game
through the PettingZoo ``ParallelEnv``. Each figure is the median of ``repeats`` runs
of at least ``seconds`` each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np

import envs
from assist.players.sampling import sample_legal
from envs.core import AGENTS


def timed_rate(step: Callable[[], int], seconds: float) -> float:
    """Units per second of ``step`` (which returns the units it did), run for >= ``seconds``."""
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        done += step()
    return done / elapsed


def core_stepper(core, batch: int, seed: int) -> Callable[[], int]:
    """One batched step of random legal play (resetting finished games); returns B."""
    rng = np.random.default_rng(seed)
    state = core.reset(batch, rng)

    def step() -> int:
        nonlocal state
        actions = np.stack([sample_legal(core.legal_mask(state, agent), rng) for agent in AGENTS], axis=1)
        core.step(state, actions)
        if state.done.all():
            state = core.reset(batch, rng)
        return batch

    return step


def pettingzoo_stepper(game: str, options: dict, seed: int) -> Callable[[], int]:
    """One step of one PettingZoo ``ParallelEnv`` with random legal actions; returns 1."""
    env = envs.game_module(game).parallel_env(**options)
    rng = np.random.default_rng(seed)
    observations, _ = env.reset(seed=seed)

    def step() -> int:
        nonlocal observations
        actions = {agent: int(sample_legal(observations[agent]["action_mask"][None].astype(bool), rng)[0]) for agent in env.agents}
        observations, _, terminations, truncations, _ = env.step(actions)
        if not env.agents:
            observations, _ = env.reset()
        return 1

    return step


def figure(name: str, value: float, unit: str, **fields) -> None:
    print(json.dumps({"name": name, **fields, "value": round(value, 1), "unit": unit}), flush=True)


def bench_env(preset: str, seconds: float, repeats: int, batches: list[int]) -> None:
    core = envs.make_core("build", preset=preset)
    for batch in batches:
        rates = [timed_rate(core_stepper(core, batch, seed), seconds) for seed in range(repeats)]
        figure("core_random_legal", statistics.median(rates), "steps/s", preset=preset, batch=batch)
    rates = [timed_rate(pettingzoo_stepper("build", {"preset": preset}, seed), seconds) for seed in range(repeats)]
    figure("pettingzoo_random_legal", statistics.median(rates), "steps/s", preset=preset, batch=1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", choices=["env"], help="what to measure")
    parser.add_argument("--preset", default="mbag", help="build preset (default: mbag)")
    parser.add_argument("--seconds", type=float, default=5.0, help="minimum seconds per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (the median is printed)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024], help="core batch sizes")
    args = parser.parse_args(argv)
    if args.suite == "env":
        bench_env(args.preset, args.seconds, args.repeats, args.batches)


if __name__ == "__main__":
    main()
