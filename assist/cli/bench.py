"""Benchmarks that print one JSON line per figure.

    python scripts/bench.py env [--preset mbag] [--seconds 5] [--repeats 3] [--threads 1]
    python scripts/bench.py search [--preset small] [--simulations 32] [--seconds 5] [--repeats 3] [--threads 1]
    python scripts/bench.py learn [--preset small] [--minutes 60] [--seed 0] [--eval-every 40] [--eval-episodes 100] [--set KEY=VALUE ...] [--threads 1]
    python scripts/bench.py llm [--preset small] [--model DIR] [--steps 20] [--groups 2] [--group-size 4] [--seconds 5] [--repeats 3] [--threads 1]

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
length and the candidates per game. Then ``rlft_step``: the seconds of one RLFT
iteration (:class:`~assist.learning.llm_rlft.RLFTTrainer`: ``--groups`` groups of
``--group-size`` whole episodes of ``steps`` steps against the greedy human, then one
gradient step over all their steps with the KL to the reference), in s/step.

``learn``: time-to-help. AssistanceZero trains on `build` ``--preset`` (the experiment
``build_<preset>_az``, or ``--experiment``; any train.py setting with ``--set KEY=VALUE``)
for at most ``--minutes`` of training time, and every ``--eval-every`` iterations its
search (the evaluation's: no root noise, ``algo.eval_simulations``) plays ``--eval-episodes``
episodes of new goals of the training families (``env.goal_split=train``, the paper's
protocol) with the human model it trains with; the human alone plays the same episodes
once. Per evaluation a line ``eval_ratio`` (the human's place/break actions with the
assistant over alone, ``env_steps`` and ``seconds`` beside it); at the end ``train_rate``
(env steps per second of training) and, for 0.9x and 0.8x, ``time_to_<r>x`` (s) and
``steps_to_<r>x`` (env steps) of the first evaluation at or below that ratio (``"value":
null`` if none within the budget). Training time excludes the evaluations. It stops early
once 0.8x is reached. A single run: compare configurations on the same ``--seed``, and
repeat over seeds before trusting a difference.

Each figure of the other suites is the median of ``repeats`` runs of at least ``seconds`` each. A progress
bar over the runs goes to stderr when it is a terminal; stdout holds only the figures.

``--threads`` sets torch's CPU threads by the rule of every entry point
(:func:`assist.cli.set_threads`: 1 by default, 0 for torch's default of one per core), and
every line carries ``threads``, the count torch ran with, so figures taken with different
counts are never mixed up.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

import envs
from assist.cli import THREADS_HELP, set_threads
from assist.models.base import ModelOutput
from assist.models.factory import make_model
from assist.models.torch_evaluator import TorchEvaluator
from assist.players.sampling import sample_legal
from assist.search.config import SearchConfig
from assist.search.mcts import MCTS
from envs.core import AGENTS, ASSISTANT, HUMAN

PRESETS = {"env": "mbag", "search": "small", "llm": "small", "learn": "small"}
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


def figure(name: str, value: float | None, unit: str, **fields) -> None:
    """Print one figure as a JSON line: the value to 5 significant digits (``None``: not
    reached, printed as ``null``), and ``threads``, torch's CPU threads in effect."""
    value = None if value is None else float(f"{value:.5g}")
    tqdm.write(json.dumps({"name": name, **fields, "threads": torch.get_num_threads(), "value": value, "unit": unit}), file=sys.stdout)
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


def bench_llm(
    preset: str, seconds: float, repeats: int, batches: list[int], model: str | None, steps: int, groups: tuple[int, int], bar: tqdm
) -> None:
    """The ``llm`` suite (``groups``: RLFT's groups and episodes per group); ``bar``
    advances by one per timed run."""
    from assist.llm.encoding import TextEncoder
    from assist.llm.lm import ensure_default_lm, load_lm
    from assist.llm.scoring import score_cached, score_uncached

    core = envs.make_core("build", preset=preset)
    lm, tokenizer = load_lm(ensure_default_lm() if model is None else model, "cuda" if torch.cuda.is_available() else "cpu")
    encoder = TextEncoder(core, tokenizer)
    bar.reset(total=(len(batches) * 2 + 1) * repeats)
    for batch in batches:
        state = played_state(core, batch, steps, seed=0)
        prompts, candidates, _ = encoder.batch(core.observe(state, ASSISTANT), core.legal_mask(state, ASSISTANT), lm.device)
        fields = dict(model=model or "default", device=str(lm.device), preset=preset, batch=batch, steps=steps)
        fields.update(prompt_tokens=round(float(prompts.mask.sum()) / batch, 1), candidates=round(len(candidates.prompt) / batch, 1))
        rates = {}
        for name, score in (("score_cached", score_cached), ("score_uncached", score_uncached)):

            def step(score=score, prompts=prompts, candidates=candidates) -> int:
                with torch.inference_mode():
                    score(lm, prompts, candidates)
                return len(candidates.prompt)

            step()  # warm-up, not measured
            rates[name] = statistics.median(runs(lambda seed, step=step: timed_rate(step, seconds), repeats, bar))
            figure(name, rates[name], "actions/s", **fields)
        figure("score_speedup", rates["score_cached"] / rates["score_uncached"], "x", **fields)
    with tempfile.TemporaryDirectory(prefix="bench-rlft-") as run_dir:  # nothing is saved there
        rlft = rlft_trainer(preset, model, steps, groups, run_dir)
        rlft.iterate()  # warm-up, not measured
        rates = runs(lambda seed: timed_rate(lambda: (rlft.iterate(), 1)[1], seconds), repeats, bar)
    fields = dict(model=model or "default", device=str(rlft.device), preset=preset, steps=steps, groups=groups[0], group_size=groups[1])
    figure("rlft_step", statistics.median(1.0 / rate for rate in rates), "s/step", **fields)


def rlft_trainer(preset: str, model: str | None, steps: int, groups: tuple[int, int], run_dir: str):
    """An RLFT trainer of ``model`` on `build` ``preset`` episodes of ``steps`` steps
    against the greedy human, logging nothing."""
    from assist.learning.llm_configs import RLFTConfig
    from assist.learning.llm_rlft import RLFTTrainer
    from assist.learning.trainer import TrainingContext
    from assist.logger import LoggerConfig, RunLogger
    from assist.registry import make_player

    core = envs.make_core("build", preset=preset, horizon=steps)
    human = make_player("greedy", core, HUMAN)
    config = RLFTConfig(init=model, groups=groups[0], group_size=groups[1])
    return RLFTTrainer(TrainingContext(core, core, human, human, run_dir, seed=0, logger=RunLogger(run_dir, LoggerConfig(tensorboard=False))), config)


LEARN_RATIOS = (0.9, 0.8)
"""The human-actions ratios (assistant over alone) whose time-to-reach ``learn`` reports."""


def learn_config(preset: str, experiment: str | None, seed: int, eval_every: int, eval_episodes: int, settings: list[str]):
    """The train config of a ``learn`` run (evaluated on new goals of the training families, nothing logged)."""
    from hydra import compose, initialize_config_dir

    from assist.cli import CONFIG_DIR

    overrides = [f"experiment={experiment or f'build_{preset}_az'}", f"env.preset={preset}", "env.goal_split=train", "logger=none", f"seed={seed}"]
    overrides += [f"algo.eval_every={eval_every}", f"algo.eval_episodes={eval_episodes}", *settings]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    cfg.algo.checkpoint_every = cfg.algo.iterations  # a checkpoint only if the run ends, into a scratch folder
    return cfg


def bench_learn(preset: str, experiment: str | None, minutes: float, seed: int, eval_every: int, eval_episodes: int, settings: list[str]) -> None:
    """The ``learn`` suite (see the module docstring)."""
    from assist import evaluation
    from assist.cli.train import trainer_for
    from assist.registry import make_player

    cfg = learn_config(preset, experiment, seed, eval_every, eval_episodes, settings)
    fields = dict(preset=preset, experiment=experiment or f"build_{preset}_az", seed=seed)
    with tempfile.TemporaryDirectory(prefix="bench-learn-") as run_dir:
        trainer = trainer_for(cfg, run_dir)
        alone = evaluation.evaluate(
            trainer.eval_core, trainer.eval_human, make_player("noop", trainer.eval_core, ASSISTANT), eval_episodes, eval_episodes, trainer.seed + 1
        )["human_actions"].mean()
        figure("human_alone_actions", alone, "actions", **fields, episodes=eval_episodes)
        reached: dict[float, tuple[float, int]] = {}
        start = time.perf_counter()

        def training_seconds() -> float:
            return time.perf_counter() - start - trainer.eval_seconds

        def progress(iteration: int, env_steps: int, latest: dict) -> None:
            if trainer.iteration % eval_every == 0 and latest:
                ratio = latest["human_actions"] / alone
                figure("eval_ratio", ratio, "x", **fields, env_steps=env_steps, seconds=round(training_seconds(), 1), goal_pct=round(latest["goal_pct"], 1))
                for target in LEARN_RATIOS:
                    if ratio <= target and target not in reached:
                        reached[target] = (training_seconds(), env_steps)
            if training_seconds() > 60 * minutes or min(LEARN_RATIOS) in reached:
                trainer.stop_requests.append(0)  # stop after this iteration

        trainer.train(progress)
        seconds = training_seconds()
    figure("train_rate", trainer.env_steps / seconds, "steps/s", **fields, env_steps=trainer.env_steps, seconds=round(seconds, 1))
    for target in LEARN_RATIOS:
        time_to, steps_to = reached.get(target, (None, None))
        figure(f"time_to_{target}x", time_to, "s", **fields)
        figure(f"steps_to_{target}x", steps_to, "env steps", **fields)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", choices=["env", "search", "llm", "learn"], help="what to measure")
    parser.add_argument("--preset", help="build preset (default: mbag for env, small for search and llm)")
    parser.add_argument("--seconds", type=float, default=5.0, help="minimum seconds per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (the median is printed)")
    parser.add_argument("--batches", type=int, nargs="+", help="batch sizes (default: 1 64 1024 for env, 1 16 256 for search, 1 8 for llm)")
    parser.add_argument("--simulations", type=int, default=32, help="simulations per search (search suite)")
    parser.add_argument("--model", help="local model directory (llm suite; default: the default small LM)")
    parser.add_argument("--steps", type=int, default=20, help="random steps played before scoring, and RLFT's episode length (llm suite)")
    parser.add_argument("--groups", type=int, default=2, help="RLFT groups per step (llm suite)")
    parser.add_argument("--group-size", type=int, default=4, help="RLFT episodes per group (llm suite)")
    parser.add_argument("--experiment", help="train.py experiment preset (learn suite; default: build_<preset>_az)")
    parser.add_argument("--minutes", type=float, default=60.0, help="training-time budget (learn suite)")
    parser.add_argument("--seed", type=int, default=0, help="the training run's seed (learn suite)")
    parser.add_argument("--eval-every", type=int, default=40, help="iterations between evaluations (learn suite)")
    parser.add_argument("--eval-episodes", type=int, default=100, help="episodes per evaluation (learn suite)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a train.py setting (learn suite; repeatable)")
    parser.add_argument("--threads", type=int, default=1, help=THREADS_HELP)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    preset = args.preset or PRESETS[args.suite]
    if args.suite == "learn":
        bench_learn(preset, args.experiment, args.minutes, args.seed, args.eval_every, args.eval_episodes, args.set)
        return
    batches = args.batches or BATCHES[args.suite]
    with tqdm(desc=f"bench {args.suite}", unit="run", disable=None, leave=False) as bar:
        if args.suite == "env":
            bench_env(preset, args.seconds, args.repeats, batches, bar)
        elif args.suite == "search":
            bench_search(preset, args.seconds, args.repeats, batches, args.simulations, bar)
        else:
            bench_llm(preset, args.seconds, args.repeats, batches, args.model, args.steps, (args.groups, args.group_size), bar)


if __name__ == "__main__":
    main()
