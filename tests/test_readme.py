"""The README's commands work as written. Every command of a fenced ``bash`` block that runs
an entry point (``python scripts/<name>.py``, or under ``torchrun``) parses: a Hydra one's
overrides through Hydra's own grammar and, when it runs once, the whole config tree; an
argparse one through its parser. The cheap ones also run, in README order from an empty
directory, with the smallest settings put in place of the README's sizes."""

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple
from unittest import mock

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

from assist import evaluation, sweep
from assist.cli import CONFIG_DIR, bench, compare, diagnose, summarize

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
HYDRA_SCRIPTS = ("train", "evaluate", "play", "train_bc")
ARGPARSE_MAINS = {"bench": bench.main, "compare": compare.main, "diagnose": diagnose.main, "summarize": summarize.main}
PLACEHOLDERS = {"<partition>": "debug"}
"""What stands for the README's ``<...>`` placeholders (``<run>``: a run directory's name, made by the first training command)."""
SMALLEST = {
    "evaluate": {"episodes": "2", "batch": "2"},
    "train": {
        "algo.iterations": "1",
        "algo.envs": "4",
        "algo.rollout": "8",
        "algo.eval_episodes": "2",
        "search.num_simulations": "2",
        "search.max_children": "4",
        "search.human_samples": "2",
    },
    "train_bc": {"fit.epochs": "1"},
    "play": {},
}
"""Settings that replace the README's (or are added) when a command runs: seconds, not minutes."""
STDIN = {"play": "quit\n"}
"""What a person types: play quits at once; the terminal human of ``evaluate`` reads end of input (no-ops)."""
NOT_RUN = re.compile(r"ui=(browser|study)|assistant=llm\w*|algo=(pretrain|sft|rlft|search_loop)")
"""Commands that stay parsed only: a browser or study server waits for people, and the LM's default model takes minutes to make."""


class Command(NamedTuple):
    """One README command that starts an entry point."""

    line: int  # in README.md
    launcher: str  # python or torchrun
    script: str  # scripts/<script>.py
    args: list[str]  # after the script, placeholders as written

    def __str__(self) -> str:
        return f"L{self.line}-{self.script}"

    def multirun(self) -> bool:
        return "-m" in self.args or "--multirun" in self.args

    def overrides(self, placeholders: dict[str, str]) -> list[str]:
        """The arguments with every ``<...>`` placeholder replaced (an unknown one fails the test)."""
        out = []
        for arg in self.args:
            for name, value in placeholders.items():
                arg = arg.replace(name, value)
            assert "<" not in arg, f"README line {self.line}: no stand-in for the placeholder in {arg!r}; add one to PLACEHOLDERS"
            out.append(arg)
        return out


def readme_commands() -> list[Command]:
    """Every entry-point command in the README's fenced ``bash`` blocks, in order."""
    commands, fenced = [], False
    for number, line in enumerate(README.read_text().splitlines(), 1):
        if line.startswith("```"):
            fenced = line.strip() == "```bash"
            continue
        if not fenced:
            continue
        tokens = shlex.split(line, comments=True)
        segments = [[]]
        for token in tokens:
            segments.append([]) if token in ("&&", "||", ";", "|") else segments[-1].append(token)
        for segment in segments:
            for i, token in enumerate(segment):
                script = re.fullmatch(r"scripts/(\w+)\.py", token)
                launcher = Path(segment[0]).name if segment else ""
                if script and launcher in ("python", "python3", "torchrun"):
                    commands.append(Command(number, launcher, script.group(1), segment[i + 1 :]))
                    break
    return commands


COMMANDS = readme_commands()


def test_the_readme_shows_commands_of_every_entry_point():
    assert {c.script for c in COMMANDS} >= {"train", "evaluate", "play", "train_bc", "summarize", "bench"}


@pytest.fixture(scope="module")
def run_name(tmp_path_factory) -> str:
    """The directory name the README's first training command (run once, no ``hydra.run.dir``) gives its run."""
    named = [c for c in COMMANDS if c.script == "train" and not c.multirun()]
    train = next(c for c in named if not any(a.startswith("hydra.run.dir=") for a in c.args))
    with pytest.MonkeyPatch.context() as patch, initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        patch.chdir(tmp_path_factory.mktemp("readme"))  # resolving the name claims the directory: there
        return Path(compose(config_name="train", overrides=train.overrides(PLACEHOLDERS), return_hydra_config=True).hydra.run.dir).name


def parse_only(main, argv: list[str]) -> argparse.Namespace:
    """What ``main``'s argparse parser makes of ``argv``, without running the rest of ``main``."""

    class Parsed(Exception):
        pass

    original = argparse.ArgumentParser.parse_args

    def parse(self, args=None, namespace=None):
        raise Parsed(original(self, args, namespace))

    with mock.patch.object(argparse.ArgumentParser, "parse_args", parse), pytest.raises(Parsed) as parsed:
        main(argv)
    return parsed.value.args[0]


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_the_readme_command_parses_as_written(command, run_name):
    args = command.overrides({**PLACEHOLDERS, "<run>": run_name})
    if command.script in HYDRA_SCRIPTS:
        overrides = [a for a in args if a not in ("-m", "--multirun")]
        OverridesParser.create().parse_overrides(overrides)  # Hydra's grammar: "mismatched input '='" and the like
        if not command.multirun():
            with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
                compose(config_name=command.script, overrides=overrides)  # unknown keys and options
    else:
        known = command.script in ARGPARSE_MAINS
        assert known, f"README line {command.line}: scripts/{command.script}.py is neither a Hydra nor a known argparse entry point"
        parse_only(ARGPARSE_MAINS[command.script], args)


def smallest(command: Command, args: list[str]) -> list[str]:
    """``args`` with the README's sizes lowered to :data:`SMALLEST`'s (added where absent;
    a smaller number in the README stays)."""
    small = dict(SMALLEST[command.script])
    out = []
    for arg in args:
        key, _, value = arg.partition("=")
        if key in small:
            least = small.pop(key)
            value = str(min(int(value), int(least))) if value.isdigit() and least.isdigit() else least
        out.append(f"{key}={value}" if key in SMALLEST[command.script] else arg)
    return out + [f"{key}={value}" for key, value in small.items()]


def runs_cheaply(command: Command) -> bool:
    once = command.launcher.startswith("python") and not command.multirun()
    return once and command.script in SMALLEST and not any(NOT_RUN.fullmatch(a) for a in command.args)


@pytest.mark.slow
def test_the_cheap_readme_commands_run_in_order_from_an_empty_directory(tmp_path):
    placeholders = dict(PLACEHOLDERS)
    ran = []
    for command in filter(runs_cheaply, COMMANDS):
        args = smallest(command, command.overrides(placeholders))
        done = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / f"{command.script}.py"), *args],
            cwd=tmp_path,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            input=STDIN.get(command.script, ""),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"README line {command.line} ({shlex.join(args)}):\n{done.stderr[-3000:]}"
        ran.append(command.script)
        made = tmp_path / "runs" / "train"
        if command.script == "train" and "<run>" not in placeholders and made.is_dir():
            placeholders["<run>"] = max(made.iterdir(), key=lambda p: p.stat().st_mtime).name  # what a user pastes
    assert {"train", "evaluate", "play", "train_bc"} <= set(ran)


def table_columns() -> set[str]:
    """The columns of every kind of table the entry points print, but the row labels."""
    cells = {metric: evaluation.Summary(1.0, 0.0, 2.0, 3) for metric in evaluation.METRICS}
    cell = sweep.Cell({"seed": "0"}, "noop", [Path("0")], cells, "episodes")
    tables = [
        evaluation.markdown_table({"noop": cells}),
        compare.markdown(
            {"human_alone_actions": 1.0, "baselines": {"noop": cells}, "algorithms": {}, "runs": {}, "pairs": {}, "training": []}
        ),
        sweep.markdown_table(sweep.Sweep({}, ["seed"], "seed", [cell], []), evaluation.METRICS),
    ]
    heads = [next(line for line in table.splitlines() if line.startswith("|")) for table in tables]
    return {column.strip() for head in heads for column in head.strip("|").split("|")} - {"assistant", "seed"}


def test_the_readme_glossary_explains_every_column_of_the_tables():
    text = README.read_text()
    start = text.index("### Reading the tables")
    glossary = text[start : text.index("\n#", start + 1)]
    assert {"goal_pct", "human_actions ratio", "episodes", "n", "runs"} <= table_columns()
    assert {column for column in table_columns() if f"`{column}`" not in glossary} == set()


def test_the_readme_headline_table_is_copied_from_the_results_file_it_cites():
    text = README.read_text()
    start = text.index("## Headline result")
    section = text[start : text.index("\n## ", start + 1)]
    cited = ROOT / re.search(r"\]\((results/[\w/.-]+\.md)\)", section).group(1)  # the first results file it links
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert len(rows) >= 3, "the headline section has a table"
    assert [row for row in rows if row not in cited.read_text().splitlines()] == [], f"rows not in {cited.relative_to(ROOT)}"
