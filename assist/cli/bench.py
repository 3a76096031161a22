"""Benchmarks that print one JSON line per figure.

    python scripts/bench.py env [--preset mbag] [--seconds 5] [--repeats 3]
    python scripts/bench.py search [--preset small] [--simulations 32] [--seconds 5] [--repeats 3]
    python scripts/bench.py llm [--preset small] [--model DIR] [--steps 20] [--seconds 5] [--repeats 3]

``env``: environment steps per second with uniformly random legal actions for both
players, legal masks included: the batched core at B = 1, 64, 1024 and one game
through the PettingZoo ``ParallelEnv``.

``search``: the batched MCTS (``assist.search.mcts``, default :class:`SearchConfig` but
``--simulations``) on the `build` game at B = 1, 16, 256, from freshly reset root
states, with two models: ``stub`` (:class:`StubEvaluator`, numpy, next to no cost, so
the figure is the tree + env overhead) and ``small`` (the ``small`` conv net through a
:class:`TorchEvaluator`, on CUDA when available, else the CPU). Per (model, B):
``search_time`` (wall time of one ``search`` call / simulations / B, in us) and
``search_rate`` (simulations x B per second).

``llm``: how fast the LM assistant scores the assistant's legal actions (their text after
the prompt, :mod:`assist.llm.scoring`) on B `build` games after ``steps`` random legal
steps (so the prompts list blocks), with the default small LM (``--model``: any local
model directory): ``score_cached`` (each prompt encoded once, candidates run against its
cached keys and values) and ``score_uncached`` (every prompt + candidate in full), in
actions/s, and ``score_speedup``, their ratio. The figures also give the mean prompt
length and the candidates per game.

Each figure is the median of ``repeats`` runs of at least ``seconds`` each. A progress
bar over the runs goes to stderr when it is a terminal; stdout holds only the figures.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
from tqdm.auto import tqdm

import envs
from assist.models.base import ModelOutput
from assist.models.factory import make_model
from assist.models.torch_evaluator import TorchEvaluator
from assist.players.sampling import sample_legal
from assist.search.mcts import MCTS, SearchConfig
from envs.core import AGENTS, ASSISTANT, HUMAN

PRESETS = {"env": "mbag", "search": "small", "llm": "small"}
"""Default `build` preset of each suite."""
BATCHES = {"env": [1, 64, 1024], "search": [1, 16, 256], "llm": [1, 8]}
"""Default batch sizes of each suite."""


def timed_rate(step: Callable[..., int], seconds: float, setup: Callable[[], tuple] | None = None) -> float:
    """Units per second of ``step`` (which returns the units it did), run for >= ``seconds``
    of its own time. ``setup``, if given, runs untimed before each call and returns the
    arguments of that call (e.g. fresh inputs whose making is not to be measured)."""
    done, elapsed = 0, 0.0
    while elapsed < seconds:
        args = setup() if setup is not None else ()
        start = time.perf_counter()
        done += step(*args)
        elapsed += time.perf_counter() - start
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


def core_rate(core, batch: int, seconds: float, seed: int) -> float:
    """Steps per second of random legal play on ``core`` at batch ``batch``."""
    return timed_rate(core_stepper(core, batch, seed), seconds)


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


def runs(rate: Callable[[int], float], repeats: int, bar: tqdm) -> list[float]:
    """``rate(seed)`` for seeds 0 .. repeats - 1, advancing ``bar`` by one after each."""
    rates = []
    for seed in range(repeats):
        rates.append(rate(seed))
        bar.update()
    return rates


def figure(name: str, value: float, unit: str, **fields) -> None:
    """Print one figure as a JSON line (the value to 5 significant digits)."""
    tqdm.write(json.dumps({"name": name, **fields, "value": float(f"{value:.5g}"), "unit": unit}), file=sys.stdout)
    sys.stdout.flush()


def bench_env(preset: str, seconds: float, repeats: int, batches: list[int], bar: tqdm) -> None:
    """The ``env`` suite; ``bar`` advances by one per timed run."""
    core = envs.make_core("build", preset=preset)
    bar.reset(total=(len(batches) + 1) * repeats)
    for batch in batches:
        rates = runs(functools.partial(core_rate, core, batch, seconds), repeats, bar)
        figure("core_random_legal", statistics.median(rates), "steps/s", preset=preset, batch=batch)
    rates = runs(lambda seed: timed_rate(pettingzoo_stepper("build", {"preset": preset}, seed), seconds), repeats, bar)
    figure("pettingzoo_random_legal", statistics.median(rates), "steps/s", preset=preset, batch=1)


class StubEvaluator:
    """A model that costs next to nothing (an :class:`~assist.models.base.Evaluator`):
    fixed random policy and human logits, zero value, uniform goal logits, memory passed
    through. Its outputs are read-only broadcasts of fixed rows, so a search with it
    measures the tree and the game core alone.

    memory_size: 64 by default, the ``small`` net's, so the tree stores as much per node.
    """

    def __init__(self, core, memory_size: int = 64, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.memory_size = memory_size
        self.policy = rng.normal(size=core.num_actions(ASSISTANT)).astype(np.float32)
        self.human = rng.normal(size=core.num_actions(HUMAN)).astype(np.float32)
        self.goal = np.zeros(core.goal_shape, np.float32)

    def initial_memory(self, batch: int) -> np.ndarray:
        return np.zeros((batch, self.memory_size), np.float32)

    def evaluate(
        self, observation: dict[str, np.ndarray], memory: np.ndarray, legal: np.ndarray | None = None
    ) -> tuple[ModelOutput, np.ndarray]:
        B = len(memory)
        output = ModelOutput(
            policy_logits=np.broadcast_to(self.policy, (B,) + self.policy.shape),
            value=np.zeros(B, np.float32),
            goal_logits=np.broadcast_to(self.goal, (B,) + self.goal.shape),
            human_logits=np.broadcast_to(self.human, (B,) + self.human.shape),
        )
        return output, memory


def search_evaluators(core) -> dict[str, tuple[object, str]]:
    """The models of the ``search`` suite by name: (evaluator, device)."""
    torch_evaluator = TorchEvaluator(make_model(core, preset="small"))
    return {"stub": (StubEvaluator(core), "cpu"), "small": (torch_evaluator, str(torch_evaluator.device))}


def searcher(mcts, batch: int, seed: int) -> tuple[Callable[[], tuple], Callable[..., int]]:
    """(setup, step) for :func:`timed_rate`: ``setup`` resets ``batch`` fresh root games
    (untimed); ``step`` runs one search from them and returns 1."""
    rng = np.random.default_rng(seed)
    memory = mcts.evaluator.initial_memory(batch)

    def setup() -> tuple:
        return (mcts.core.reset(batch, rng),)

    def step(roots) -> int:
        mcts.search(roots, memory, rng)
        return 1

    return setup, step


def search_rate(mcts, batch: int, seconds: float, seed: int) -> float:
    """Searches per second of ``mcts`` from ``batch`` fresh roots (the resets untimed)."""
    setup, step = searcher(mcts, batch, seed)
    return timed_rate(step, seconds, setup)


def bench_search(preset: str, seconds: float, repeats: int, batches: list[int], simulations: int, bar: tqdm) -> None:
    """The ``search`` suite; ``bar`` advances by one per timed run."""
    core = envs.make_core("build", preset=preset)
    config = SearchConfig(num_simulations=simulations)
    evaluators = search_evaluators(core)
    bar.reset(total=len(evaluators) * len(batches) * repeats)
    for model, (evaluator, device) in evaluators.items():
        mcts = MCTS(core, evaluator, config)
        for batch in batches:
            setup, step = searcher(mcts, batch, seed=repeats)  # a seed no measured run uses
            step(*setup())  # warm-up (lazy torch and allocator set-up), not measured
            rates = runs(functools.partial(search_rate, mcts, batch, seconds), repeats, bar)
            fields = dict(model=model, device=device, preset=preset, batch=batch, simulations=simulations)
            figure("search_time", statistics.median(1e6 / (rate * simulations * batch) for rate in rates), "us/sim/game", **fields)
            figure("search_rate", statistics.median(rate * simulations * batch for rate in rates), "sims/s", **fields)


def played_state(core, batch: int, steps: int, seed: int):
    """``batch`` games of ``core`` after ``steps`` random legal steps of both seats."""
    rng = np.random.default_rng(seed)
    state = core.reset(batch, rng)
    for _ in range(steps):
        core.step(state, np.stack([sample_legal(core.legal_mask(state, agent), rng) for agent in AGENTS], axis=1))
    return state


def bench_llm(preset: str, seconds: float, repeats: int, batches: list[int], model: str | None, steps: int, bar: tqdm) -> None:
    """The ``llm`` suite; ``bar`` advances by one per timed run."""
    import torch  # here: the other suites need neither torch's threads set nor transformers

    from assist.llm.encoding import TextEncoder
    from assist.llm.lm import ensure_default_lm, load_lm
    from assist.llm.scoring import score_cached, score_uncached

    core = envs.make_core("build", preset=preset)
    lm, tokenizer = load_lm(ensure_default_lm() if model is None else model, "cuda" if torch.cuda.is_available() else "cpu")
    encoder = TextEncoder(core, tokenizer)
    bar.reset(total=len(batches) * 2 * repeats)
    for batch in batches:
        state = played_state(core, batch, steps, seed=0)
        prompts, candidates, _ = encoder.batch(core.observe(state, ASSISTANT), core.legal_mask(state, ASSISTANT), lm.device)
        fields = dict(model=model or "default", device=str(lm.device), preset=preset, batch=batch, steps=steps)
        fields.update(prompt_tokens=round(float(prompts.mask.sum()) / batch, 1), candidates=round(len(candidates.prompt) / batch, 1))
        rates = {}
        for name, score in (("score_cached", score_cached), ("score_uncached", score_uncached)):

            def step(score=score) -> int:
                with torch.inference_mode():
                    score(lm, prompts, candidates)
                return len(candidates.prompt)

            step()  # warm-up, not measured
            rates[name] = statistics.median(runs(lambda seed, step=step: timed_rate(step, seconds), repeats, bar))
            figure(name, rates[name], "actions/s", **fields)
        figure("score_speedup", rates["score_cached"] / rates["score_uncached"], "x", **fields)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", choices=["env", "search", "llm"], help="what to measure")
    parser.add_argument("--preset", help="build preset (default: mbag for env, small for search and llm)")
    parser.add_argument("--seconds", type=float, default=5.0, help="minimum seconds per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (the median is printed)")
    parser.add_argument("--batches", type=int, nargs="+", help="batch sizes (default: 1 64 1024 for env, 1 16 256 for search, 1 8 for llm)")
    parser.add_argument("--simulations", type=int, default=32, help="simulations per search (search suite)")
    parser.add_argument("--model", help="local model directory (llm suite; default: the default small LM)")
    parser.add_argument("--steps", type=int, default=20, help="random steps played before scoring (llm suite)")
    args = parser.parse_args(argv)
    preset = args.preset or PRESETS[args.suite]
    batches = args.batches or BATCHES[args.suite]
    with tqdm(desc=f"bench {args.suite}", unit="run", disable=None, leave=False) as bar:
        if args.suite == "env":
            bench_env(preset, args.seconds, args.repeats, batches, bar)
        elif args.suite == "search":
            bench_search(preset, args.seconds, args.repeats, batches, args.simulations, bar)
        else:
            bench_llm(preset, args.seconds, args.repeats, batches, args.model, args.steps, bar)


if __name__ == "__main__":
    main()
