"""Compare trained assistants with the baselines on the same held-out episodes.

    python scripts/compare.py RUN [RUN ...] --out DIR [--name results]
        [--baselines noop oracle library_bayes:split=test] [--episodes 200] [--batch 100]
        [--seed 1000] [--goal-split train | --goal-file GOALS] [--pairs rlft-sft ...]
        [--simulations 64] [--search reuse_subtree=true] [--library-prior 0.5 [--library-split test all]]
        [--human corrective] [--jobs 2]

Each RUN is a training run directory of ``scripts/train.py``; all must share the game
and the human model (taken from their ``config.yaml``: the game's evaluation split, i.e.
held-out goals for ``build``; ``--human SPEC`` plays every row with another human, e.g.
``corrective``, ``boltzmann:beta=2`` or a player of your own, ``my_humans:SteadyHuman:every=2``).
Every run is played as its algorithm plays it (AssistanceZero through its search, PPO from its policy) on the same episode seeds as
the baselines (``noop`` is the human alone; a baseline ``name:key=value,...`` passes the
player parameters, e.g. ``library_bayes:split=test,threshold=0.6``). Rows per algorithm
(a run's ``algo.name``, plus ``/<train_split>`` for runs whose self-play goals came from
another split than ``train``) pool the runs (training seeds): the mean over runs of each
run's mean, with a Student-t 95% interval over runs; each run also gets its own row with
a bootstrap interval over episodes. ``human_actions ratio`` divides by the human-alone mean. ``--pairs A-B`` adds paired differences of
algorithm A's human actions minus B's, run by run for the runs of the same training seed
(both on the same episodes), with a t-interval over seeds: negative means A saves the
human more actions than B. ``--simulations N`` plays every searching run at N
simulations per move instead of its run's evaluation budget, ``--search k=v,...`` with
those search settings instead of its run's (e.g. ``reuse_subtree=true``). ``--library-prior P``
also plays every searching run with its root belief the Bayesian average of its
network's and a library of its training goals' (prior weight P for the library), in
rows ``<algo>+library``, on the same episodes; with ``--library-split S ...`` the library
is drawn from goal split S instead, in rows ``<algo>+library:S`` (``--library-prior 1``:
the library's posterior alone, e.g. over the evaluation's own split, a privileged
reference of what a search with an exact belief achieves). ``--jobs N`` evaluates N
runs at a time in worker processes (the same numbers: every evaluation is seeded by
``--seed`` alone). Writes ``<name>.md`` (headed by the command that made it and the
commit) and ``<name>.json`` into ``--out``.

Each row is a typed record (:class:`RunRow`): the run and how it is played, the
:class:`~assist.trained.PlayedRun` the ``trained`` player takes. This entry point stays
argparse, not Hydra like the others: it is a report over finished experiments, not one;
its subject is a list of run directories of any length (positional paths, which Hydra's
overrides have no form for); it makes no run directory (the table goes to ``--out``,
headed by its exact command); and every table under ``results/`` is headed by a
command in this form that must keep working.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import platform
import shlex
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
import yaml
from omegaconf import DictConfig, OmegaConf

from assist import config as schemas
from assist import evaluation
from assist.cli import THREADS_HELP, set_threads
from assist.evaluation import render_table
from assist.registry import PLAYERS, make_player
from assist.sweep import seed_interval
from assist.trained import SEARCHING, PlayedRun
from envs.core import ASSISTANT, HUMAN

HUMAN_ALONE = "noop"


@dataclasses.dataclass(frozen=True)
class RunRow:
    """One row of the comparison: a training run played one way (:class:`PlayedRun`)."""

    played: PlayedRun
    config: DictConfig
    """The run's resolved training config (``config.yaml``)."""
    label: str
    """The algorithm row it pools into: :func:`algo_label`, plus its :attr:`variant`."""
    results: dict
    """The run's training record (``results.json``)."""
    variant: str = ""
    """``""``: the run as it plays; ``"+library"`` or ``"+library:<split>"``: with a library root belief."""
    metrics: dict[str, np.ndarray] | None = None
    """Per-episode metrics (``{metric: [episodes]}``) once played."""

    @property
    def run(self) -> Path:
        return Path(self.played.run)

    @property
    def seed(self) -> int:
        """The run's training seed."""
        return int(self.config.seed)


def read_runs(runs: list[Path], **settings) -> list[RunRow]:
    """A row for each run, played with ``settings`` (fields of :class:`PlayedRun`), with
    its config (``config.yaml``), training record (``results.json``) and label
    (:func:`algo_label`); the runs must share the game and human model."""
    rows = []
    for run in runs:
        if not (run / "config.yaml").exists() or not (run / "results.json").exists():
            raise FileNotFoundError(f"{run} is not a finished training run (needs config.yaml and results.json)")
        config = OmegaConf.load(run / "config.yaml")
        rows.append(RunRow(PlayedRun(str(run), **settings), config, algo_label(config), json.loads((run / "results.json").read_text())))
    first = rows[0]
    for row in rows[1:]:
        same = {"env": schemas.env_options(row.config.env) == schemas.env_options(first.config.env), "human": row.config.human == first.config.human}
        for key in ("env", "human"):  # env by its options: an option a run's config lacks (older code) and one left null are alike
            if not same[key]:
                raise ValueError(f"{row.run} has another {key} than {first.run}: compare runs of one game and human model")
    seen: dict[tuple[str, int], Path] = {}
    for row in rows:
        key = (row.label, row.seed)
        if key in seen:
            raise ValueError(
                f"{seen[key]} and {row.run} are both {key[0]} seed {key[1]}: a table pools one run per algorithm and "
                "training seed; compare runs that differ in other settings in separate tables (the same --seed plays the same episodes)"
            )
        seen[key] = row.run
    return rows


def algo_label(config) -> str:
    """A run's row label: its algorithm, plus ``/<split>`` when self-play drew goals from
    another split than ``train`` (e.g. ``assistancezero/train_wide``)."""
    split = config.get("train_split", "train")
    return config.algo.name if split == "train" else f"{config.algo.name}/{split}"


def wall_seconds(run: Path, results: dict) -> float:
    """A run's training time: ``results.json``'s ``train_seconds`` (the whole run, across
    resumes), else its ``wall_seconds`` (the last invocation), or for runs that predate
    both, the time between writing its ``config.yaml`` (start) and ``results.json`` (end)."""
    for key in ("train_seconds", "wall_seconds"):
        if key in results:
            return float(results[key])
    return round((run / "results.json").stat().st_mtime - (run / "config.yaml").stat().st_mtime, 1)


def pooled(per_run: list[dict[str, float]]) -> dict[str, evaluation.Summary]:
    """Per metric, the mean over runs with a t-interval (:func:`~assist.sweep.seed_interval`)."""
    out = {}
    for key in per_run[0]:
        values = [m[key] for m in per_run]
        out[key] = seed_interval(values)
    return out


def paired_differences(rows: list[RunRow], pairs: list[str], metric: str = "human_actions") -> dict[str, evaluation.Summary]:
    """For each ``"A-B"`` of ``pairs``: the mean over training seeds of (A's run mean of
    ``metric`` - B's run mean, the two runs of that seed), with a t-interval over seeds.
    ``rows``: played ones (with their ``metrics``). Raises ValueError for a pair that is
    not two algorithms among the runs, or that shares fewer than two seeds."""
    by_algo: dict[str, dict[int, float]] = {}
    for row in rows:
        by_algo.setdefault(row.label, {})[row.seed] = float(row.metrics[metric].mean())
    out = {}
    for pair in pairs:
        first, _, second = pair.partition("-")
        if first not in by_algo or second not in by_algo:
            raise ValueError(f"--pairs {pair!r}: expected A-B with A and B among the runs' algorithms {sorted(by_algo)}")
        seeds = sorted(set(by_algo[first]) & set(by_algo[second]))
        if len(seeds) < 2:
            raise ValueError(f"--pairs {pair!r}: {first} and {second} share {len(seeds)} training seed(s); an interval needs 2 or more")
        out[f"{first} - {second}"] = seed_interval([by_algo[first][s] - by_algo[second][s] for s in seeds])
    return out


def parse_player(spec: str, what: str) -> tuple[str, dict]:
    """A player and its parameters from ``name``, ``name:key=value,...`` or an import path
    with or without them, ``package.module:Name[:key=value,...]``
    (:func:`assist.registry.make_player`): after the last ``:``, parameters (values read by
    :func:`parse_settings`) if the part before it is a built-in player or the part after it
    holds ``=``; else the whole is the name. A ValueError naming ``what`` for bad parameters."""
    head, colon, rest = spec.rpartition(":")
    if colon and (head in PLAYERS or "=" in rest):
        return head, parse_settings(rest, what, "library_bayes:split=test,threshold=0.6")
    return spec, {}


def parse_baseline(spec: str) -> tuple[str, dict]:
    """``"name:key=value,key=value"`` -> ``(name, {key: value})`` (:func:`parse_player`)."""
    return parse_player(spec, f"baseline {spec!r}")


def parse_settings(text: str, what: str, example: str) -> dict:
    """``"key=value,key=value"`` -> ``{key: value}``, values read as YAML scalars (``0.6``
    a float, ``true`` a bool, ``test`` a string); a ValueError naming ``what`` otherwise."""
    settings = {}
    for item in filter(None, text.split(",")):
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise ValueError(f"{what}: parameters are key=value pairs separated by commas, e.g. {example}")
        settings[key] = yaml.safe_load(value)
    return settings


def evaluate_assistant(env: dict, human: dict, assistant: str, params: dict, episodes: int, batch: int, seed: int, threads: int = 0) -> dict[str, np.ndarray]:
    """Per-episode metrics of the ``assistant`` player (with ``params``) beside the
    ``human`` player config on the ``env`` config (plain dicts, so that a worker process
    can run it; ``threads`` > 0 sets torch's threads there)."""
    set_threads(threads)
    core = schemas.make_core(OmegaConf.create(env))
    human_player = make_player(human["name"], core, HUMAN, **human["params"])
    return evaluation.evaluate(core, human_player, make_player(assistant, core, ASSISTANT, **params), episodes, batch, seed)


def compare(
    runs: list[Path],
    baselines: list[str],
    episodes: int,
    batch: int,
    seed: int,
    goal_split: str | None = None,
    pairs: list[str] = (),
    jobs: int = 1,
    simulations: int = 0,
    goal_file: str | None = None,
    library_prior: float = 0.0,
    library_splits: list[str] = (),
    library_samples: int = 20000,
    search: dict | None = None,
    human: str | None = None,
) -> dict:
    """Evaluate baselines and runs on the same episodes; the tables' data. ``goal_split``
    (``build``) replaces the runs' evaluation split, e.g. ``train`` for new goals of the
    training families; ``goal_file`` plays goals from that file instead (e.g. held-out
    goals no training goal equals, ``envs.building.goals.novel_goals``); ``pairs``: see
    :func:`paired_differences`; ``jobs``: runs evaluated at a time (in worker processes
    when more than 1); ``simulations``: every searching run's budget per move (0: its
    run's ``algo.eval_simulations``); ``library_prior`` > 0: every searching run is also
    played with its root belief averaged with a library of its training goals, in rows
    labelled ``<algo>+library`` (:attr:`PlayedRun.library_prior <assist.trained.PlayedRun.library_prior>`);
    ``library_splits``: draw the library from each of these goal splits instead, in rows
    ``<algo>+library:<split>``; ``library_samples``: goals drawn for each library; ``search``: search settings every searching run plays with
    instead of its own (``{setting: value}``); ``human``: the human of every row instead of
    the one the runs trained with (a :func:`parse_player` spec)."""
    if library_splits and not library_prior:
        raise ValueError(f"--library-split {' '.join(library_splits)}: give the library's prior weight too (--library-prior, in (0, 1])")
    rows = read_runs(runs, simulations=simulations, search=search)
    if library_prior:
        variants = {f"+library:{split}": split for split in library_splits} or {"+library": None}
        rows += [
            dataclasses.replace(
                row,
                played=dataclasses.replace(row.played, library_prior=library_prior, library_split=split, library_samples=library_samples),
                label=row.label + variant,
                variant=variant,
            )
            for variant, split in variants.items()
            for row in rows
            if row.config.algo.name in SEARCHING
        ]
    cfg = rows[0].config
    changes = {key: value for key, value in (("goal_split", goal_split), ("goal_file", goal_file)) if value}
    env = {**OmegaConf.to_container(cfg.env), **changes}
    if human is None:
        human = OmegaConf.to_container(cfg.human)
    else:
        name, params = parse_player(human, f"--human {human!r}")
        human = {"name": name, "params": params}
    if HUMAN_ALONE not in baselines:
        baselines = [HUMAN_ALONE, *baselines]
    per_episode = {spec: evaluate_assistant(env, human, *parse_baseline(spec), episodes, batch, seed) for spec in baselines}
    tasks = [(env, human, "trained", dataclasses.asdict(row.played), episodes, batch, seed, torch.get_num_threads()) for row in rows]
    if jobs > 1:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(evaluate_assistant, *zip(*tasks)))
    else:
        results = [evaluate_assistant(*task) for task in tasks]
    rows = [dataclasses.replace(row, metrics=metrics) for row, metrics in zip(rows, results)]
    per_algo: dict[str, list[RunRow]] = {}
    for row in rows:
        per_algo.setdefault(row.label, []).append(row)
    alone = float(per_episode[HUMAN_ALONE]["human_actions"].mean())
    baseline_rows = evaluation.summarize(per_episode, seed=seed)
    algo_rows = {algo: pooled([{key: float(v.mean()) for key, v in r.metrics.items()} for r in group]) for algo, group in per_algo.items()}
    run_rows = {f"{r.label} seed {r.config.seed} ({r.run.name})": evaluation.summarize({"run": r.metrics}, seed=seed)["run"] for r in rows}
    training = [
        {"run": str(r.run), "algo": r.label, "seed": r.seed, "env_steps": r.results.get("env_steps"), "wall_seconds": wall_seconds(r.run, r.results)}
        for r in rows
        if not r.variant
    ]
    return {
        "human_alone_actions": alone,
        "baselines": baseline_rows,
        "algorithms": algo_rows,
        "runs": run_rows,
        "pairs": paired_differences(rows, list(pairs)),
        "training": training,
        "meta": {
            "env": OmegaConf.to_container(cfg.env),
            "goal_split": env.get("goal_split"),
            "goal_file": env.get("goal_file"),
            "simulations": simulations or "each run's algo.eval_simulations",
            "search": search or "each run's own",
            "library_prior": library_prior,
            "library_splits": list(library_splits) or "each run's train_split",
            "library_samples": library_samples,
            "human": human,
            "episodes": episodes,
            "seed": seed,
            "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, {platform.processor() or platform.platform()}",
        },
    }


def markdown(data: dict, metrics: tuple[str, ...] = evaluation.METRICS) -> str:
    """The comparison as Markdown: one table of baselines and pooled algorithms, one per run."""
    alone = data["human_alone_actions"]

    def row(name: str, cells: dict[str, evaluation.Summary]) -> list[str]:
        ratio = cells["human_actions"].mean / alone if alone > 0 else float("nan")
        return [name, str(cells[metrics[0]].n), *(cells[m].cell() for m in metrics), f"{ratio:.2f}"]

    columns = ["assistant", "n", *metrics, "human_actions ratio"]
    main = [row(name, cells) for name, cells in data["baselines"].items()]
    main += [row(f"**{name}** (over seeds)", cells) for name, cells in data["algorithms"].items()]
    runs = [row(name, cells) for name, cells in data["runs"].items()]
    train = [[t["run"], t["algo"], str(t["seed"]), str(t["env_steps"]), str(round(t["wall_seconds"]))] for t in data["training"]]
    n = "n: episodes for baselines and single runs, runs (seeds) for pooled rows (t-interval over their means)"
    paired = []
    if data["pairs"]:
        rows = [[name, str(d.n), d.cell()] for name, d in data["pairs"].items()]
        paired = ["## Paired differences", "", render_table(["human_actions, A - B", "n (seeds)", "mean [95% CI]"], rows), ""]
        paired += ["Per training seed, on the same episodes; negative: A needs fewer human actions than B.", ""]
    sections = ["## Baselines and algorithms", "", render_table(columns, main), "", n, "", *paired, "## Each run", "", render_table(columns, runs), ""]
    sections += ["## Training", "", render_table(["run", "algo", "seed", "env steps", "wall-clock (s)"], train, labels=2), ""]
    return "\n".join(sections)


def to_json(data: dict) -> dict:
    """``data`` with every :class:`~assist.evaluation.Summary` as a dict."""

    def table(rows):
        return {name: {key: s.to_dict() for key, s in cells.items()} for name, cells in rows.items()}

    pairs = {name: d.to_dict() for name, d in data["pairs"].items()}
    return {
        **data,
        "baselines": table(data["baselines"]),
        "algorithms": table(data["algorithms"]),
        "runs": table(data["runs"]),
        "pairs": pairs,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="training run directories")
    parser.add_argument("--out", type=Path, required=True, help="where to write the table")
    parser.add_argument("--name", default="results", help="file stem of the table: <out>/<name>.md and <name>.json")
    parser.add_argument("--baselines", nargs="*", default=["noop", "oracle"], help="assistants by name, or name:key=value,... with player parameters (default: noop oracle)")
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1000, help="the evaluation episodes' seed (not a training seed)")
    parser.add_argument("--goal-split", help="build: evaluate on this goal split instead of the runs' (train, test, all)")
    parser.add_argument("--goal-file", help="build: evaluate on the goals of this file (.npy, .npz, .json) instead")
    parser.add_argument("--pairs", nargs="*", default=[], help="A-B algorithm pairs: paired differences of human actions over seeds")
    parser.add_argument("--simulations", type=int, default=0, help="search budget per move for searching runs (0: each run's algo.eval_simulations)")
    parser.add_argument("--search", default="", help="search settings for searching runs instead of their own, key=value,... (e.g. reuse_subtree=true,c_puct=2)")
    parser.add_argument("--library-prior", type=float, default=0.0, help="also play searching runs with a goal-library root belief of this prior weight, in (0, 1] (1: the library alone; rows <algo>+library)")
    parser.add_argument("--library-split", nargs="+", default=[], help="draw the --library-prior library from each of these goal splits instead of each run's training split (rows <algo>+library:<split>)")
    parser.add_argument("--library-samples", type=int, default=20000, help="goals drawn for each --library-prior library (its distinct ones are kept)")
    parser.add_argument("--human", help="the human of every row instead of the runs' own: a name, name:key=value,... or package.module:Name[:key=value,...]")
    parser.add_argument("--jobs", type=int, default=1, help="runs evaluated at a time (worker processes)")
    parser.add_argument("--threads", type=int, default=1, help=THREADS_HELP)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    data = compare(args.runs, args.baselines, args.episodes, args.batch, args.seed, args.goal_split, args.pairs, args.jobs, args.simulations, args.goal_file, args.library_prior, args.library_split, args.library_samples, parse_settings(args.search, "--search", "reuse_subtree=true,c_puct=2"), args.human)
    args.out.mkdir(parents=True, exist_ok=True)
    command = "python scripts/compare.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    data["meta"].update(command=command, commit=commit())
    human = data["meta"]["human"]
    text = f"Made by `{command}` at commit {data['meta']['commit']}. Human in every row: `{human['name']}` {human['params'] or ''}\n\n" + markdown(data)
    (args.out / f"{args.name}.md").write_text(text)
    (args.out / f"{args.name}.json").write_text(json.dumps(to_json(data), indent=2, default=str) + "\n")
    print(text)
    print(f"saved {args.out / f'{args.name}.md'} and {args.out / f'{args.name}.json'}")


def commit() -> str:
    """The checkout's commit (with ``+changes`` if the tree differs from it), or ``unknown``."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


if __name__ == "__main__":
    main()
