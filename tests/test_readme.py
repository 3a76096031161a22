"""The commands of the README and of docs/*.md work as written. Every command of a fenced
``bash`` block that runs an entry point (``python scripts/<name>.py``, or under ``torchrun``)
parses: a Hydra one's overrides through Hydra's own grammar and, when it runs once, the
whole config tree; an argparse one through its parser. The cheap ones also run, page by
page in page order from an empty directory, with the smallest settings put in place of the
page's sizes. Every other command of a fenced block, and every entry-point command that
does not run, is listed here with the reason (:data:`OTHER_COMMANDS`, :func:`why_not_run`)."""

import argparse
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
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
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
HYDRA_SCRIPTS = ("train", "evaluate", "play", "train_bc")
ARGPARSE_MAINS = {"bench": bench.main, "compare": compare.main, "diagnose": diagnose.main, "summarize": summarize.main}
HYDRA_FLAGS = {"-m": False, "--multirun": False, "--config-dir": True}
"""Hydra's own command-line flags that the pages use, and whether each takes a value."""
PLACEHOLDERS = {"<partition>": "debug"}
"""What stands for the pages' ``<...>`` placeholders (``<run>``: a run directory's name, made by a page's first training command)."""
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
"""Settings that replace a page's (or are added) when a command runs: seconds, not minutes."""
STDIN = {"play": "quit\n"}
"""What a person types: play quits at once; the terminal human of ``evaluate`` reads end of input (no-ops)."""
NOT_RUN = {
    r"ui=(browser|study)": "a browser or study server waits for people: tests/test_server.py, test_study_server.py and test_browser.py serve them",
    r"assistant=llm\w*|algo=(pretrain|sft|rlft|search_loop)": "the LM's default model takes minutes to make: tests/test_llm_pipeline.py runs the stages at tiny sizes",
    r"\S*my_(humans|assistants|games):\S*": "names the reader's own module: tests/test_custom_players.py and test_tabular_docs.py play the pages' code by its path",
}
"""Arguments that keep a command parsed only (a regular expression that matches a whole argument), and why."""
OTHER_COMMANDS = {
    r"bash scripts/(setup|test)\.sh": "sets up the environment and runs the suite that this test is part of",
    r"bash scripts/llm_pipeline\.sh .*": "the LM stages, minutes with the default LM: tests/test_llm_pipeline.py runs the script at tiny sizes",
    r"\S*tensorboard --logdir \S+": "a server that waits for a browser: tests/test_tensorboard.py reads the events it shows",
    r"ASSIST_DOCS_PICTURES=docs \S*python -m pytest .*": "runs tests of this suite",
    r"head=\$\(scontrol show hostnames \$SLURM_JOB_NODELIST|head -n 1\)": "a line of a Slurm batch script that names the rendezvous node",
}
"""Commands of fenced ``bash`` blocks that start no entry point (a regular expression that
matches the whole command, its words joined by spaces), and why this test does not run them."""


class Command(NamedTuple):
    """One command of a page that starts an entry point."""

    page: Path  # README.md or docs/<name>.md
    line: int  # in the page
    launcher: str  # python or torchrun
    script: str  # scripts/<script>.py
    args: list[str]  # after the script, placeholders as written

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:L{self.line}-{self.script}"

    def multirun(self) -> bool:
        return "-m" in self.args or "--multirun" in self.args

    def overrides(self, placeholders: dict[str, str]) -> list[str]:
        """The arguments with every ``<...>`` placeholder replaced (an unknown one fails the test)."""
        out = []
        for arg in self.args:
            for name, value in placeholders.items():
                arg = arg.replace(name, value)
            assert "<" not in arg, f"{self}: no stand-in for the placeholder in {arg!r}; add one to PLACEHOLDERS"
            out.append(arg)
        return out


def fenced_commands(page: Path) -> Iterator[tuple[int, list[str]]]:
    """(line, words) of every command in ``page``'s fenced ``bash`` blocks, in order: a line
    continued with a backslash is joined to the next, and ``&&``, ``||``, ``;`` and ``|``
    separate commands; comments and empty commands are left out."""
    fenced, start, text = False, 0, ""
    for number, line in enumerate(page.read_text().splitlines(), 1):
        if line.startswith("```"):
            fenced = line.strip() == "```bash"
            continue
        if not fenced:
            continue
        start, text = (start, text + line) if text else (number, line)
        if text.endswith("\\"):
            text = text[:-1]
            continue
        words = [[]]
        for word in shlex.split(text, comments=True):
            words.append([]) if word in ("&&", "||", ";", "|") else words[-1].append(word)
        yield from ((start, command) for command in words if command)
        text = ""


def entry_point(page: Path, line: int, words: list[str]) -> Command | None:
    """The entry point that ``words`` start (``python scripts/<name>.py`` or ``torchrun
    scripts/<name>.py``, after any launcher such as ``srun``), or None."""
    for i, word in enumerate(words):
        script = re.fullmatch(r"scripts/(\w+)\.py", word)
        launchers = [Path(w).name for w in words[:i] if Path(w).name in ("python", "python3", "torchrun")]
        if script and launchers:
            return Command(page, line, launchers[-1], script.group(1), words[i + 1 :])
    return None


COMMANDS = [command for page in PAGES for line, words in fenced_commands(page) if (command := entry_point(page, line, words))]


def test_the_readme_shows_commands_of_every_entry_point():
    assert {c.script for c in COMMANDS if c.page == README} >= {"train", "evaluate", "play", "train_bc", "summarize", "bench"}


def test_every_other_command_of_the_pages_is_listed_with_why_it_does_not_run():
    others = [
        f"{page.relative_to(ROOT)}:{line}: {' '.join(words)}"
        for page in PAGES
        for line, words in fenced_commands(page)
        if entry_point(page, line, words) is None and not any(re.fullmatch(pattern, " ".join(words)) for pattern in OTHER_COMMANDS)
    ]
    assert others == [], "commands that start no entry point: list them in OTHER_COMMANDS with a reason"


def page_files(page: Path) -> dict[str, str]:
    """The files ``page`` shows the reader writing, by path: a fenced block with a language
    right after a paragraph that ends in the path as code (`` `mystudies/study/pilot.yaml`: ``)."""
    return dict(re.findall(r"`([\w./-]+\.\w+)`:\n\n```\w+\n(.*?)```", page.read_text(), re.S))


def hydra_flags(args: list[str]) -> tuple[dict[str, str], list[str]]:
    """``args`` split into Hydra's own flags (:data:`HYDRA_FLAGS`, each with its value or
    ``""``) and the overrides."""
    flags, overrides, words = {}, [], iter(args)
    for arg in words:
        if arg in HYDRA_FLAGS:
            flags[arg] = next(words) if HYDRA_FLAGS[arg] else ""
        else:
            overrides.append(arg)
    return flags, overrides


@pytest.fixture(scope="module")
def run_name(tmp_path_factory) -> str:
    """The directory name the README's first training command (run once, no ``hydra.run.dir``) gives its run."""
    named = [c for c in COMMANDS if c.page == README and c.script == "train" and not c.multirun()]
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
def test_the_command_parses_as_written(command, run_name, tmp_path):
    args = command.overrides({**PLACEHOLDERS, "<run>": run_name})
    if command.script in HYDRA_SCRIPTS:
        flags, overrides = hydra_flags(args)
        OverridesParser.create().parse_overrides(overrides)  # Hydra's grammar: "mismatched input '='" and the like
        if "--config-dir" in flags:  # the folder of configs the page has the reader write
            for path, text in page_files(command.page).items():
                (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / path).write_text(text)
            overrides.append(f"hydra.searchpath=[file://{tmp_path / flags['--config-dir']}]")
        if not command.multirun():
            with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
                compose(config_name=command.script, overrides=overrides)  # unknown keys and options
    else:
        known = command.script in ARGPARSE_MAINS
        assert known, f"{command}: scripts/{command.script}.py is neither a Hydra nor a known argparse entry point"
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


def why_not_run(command: Command) -> str | None:
    """Why ``command`` is parsed but not run, or None when it runs."""
    if command.multirun():
        return "a sweep starts many jobs: tests/test_summarize.py sweeps smoke jobs and summarizes them"
    if command.launcher == "torchrun":
        return "several processes, GPUs on a cluster: tests/test_distributed.py trains under torchrun with two CPU ranks"
    if command.script not in SMALLEST:
        return f"an argparse entry point, parsed only: tests/test_{command.script}.py runs it with small settings"
    return next((reason for pattern, reason in NOT_RUN.items() if any(re.fullmatch(pattern, a) for a in command.args)), None)


RUN_PAGES = [page for page in PAGES if any(c.page == page and why_not_run(c) is None for c in COMMANDS)]
"""The pages with a command that runs (those of the other pages are all listed in :func:`why_not_run`)."""


@pytest.mark.slow
@pytest.mark.parametrize("page", RUN_PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_the_cheap_commands_of_a_page_run_in_order_from_an_empty_directory(page, tmp_path):
    placeholders = dict(PLACEHOLDERS)
    ran = []
    for command in (c for c in COMMANDS if c.page == page and why_not_run(c) is None):
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
        assert done.returncode == 0, f"{command} ({shlex.join(args)}):\n{done.stderr[-3000:]}"
        ran.append(command.script)
        made = tmp_path / "runs" / "train"
        if command.script == "train" and "<run>" not in placeholders and made.is_dir():
            placeholders["<run>"] = max(made.iterdir(), key=lambda p: p.stat().st_mtime).name  # what a user pastes
    assert page != README or {"train", "evaluate", "play", "train_bc"} <= set(ran)


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
