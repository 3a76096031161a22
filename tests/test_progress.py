"""Progress reaches the log when stderr is not a terminal (nohup, CI, cluster jobs)."""

import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from assist import progress
from assist.cli.evaluate import run as evaluate
from tests.test_evaluation import compose_evaluate
from tests.test_train import TINY

ROOT = Path(__file__).resolve().parents[1]


def test_off_a_terminal_progress_is_logged_once_per_new_line(monkeypatch, caplog):
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)
    with caplog.at_level(logging.INFO, logger="assist.progress"):
        with progress.progress_bar(3, "train", "it") as bar:
            for _ in range(3):
                bar.set_postfix({"human": "12.5"}, refresh=False)
                bar.update(1)
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0].startswith("train: 0/3 it") and any(line.startswith("train: 3/3 it") and "human=12.5" in line for line in lines)
    assert len(lines) == len(set(lines)) and "|" not in "".join(lines)  # no repeats, no drawn bar
    assert sys.stderr.getvalue() == ""  # nothing drawn


def test_a_disabled_bar_says_nothing(monkeypatch, caplog):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with caplog.at_level(logging.INFO):
        with progress.progress_bar(3, "train", "it", enabled=False) as bar:
            bar.update(3)
    assert caplog.records == [] and sys.stderr.getvalue() == ""


def test_off_a_terminal_an_evaluation_logs_each_assistants_progress_and_the_table(monkeypatch, caplog, tmp_path):
    """What Hydra's job logging writes to ``evaluate.log`` (the file itself: ``test_evaluation.py::test_the_evaluate_script_runs_from_another_directory``)."""
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    with caplog.at_level(logging.INFO):
        evaluate(compose_evaluate(["env.preset=tiny", "episodes=2", "batch=2", "baselines=[noop]"]), tmp_path)
    logged = [(record.name, record.getMessage()) for record in caplog.records]
    for name in ("noop", "oracle"):
        lines = [line for logger, line in logged if logger == "assist.progress" and line.startswith(f"{name}: ")]
        assert lines[0].startswith(f"{name}: 0/2 ep") and lines[-1].startswith(f"{name}: 2/2 ep"), logged
    assert any(logger == "assist.cli.evaluate" and "| oracle |" in line for logger, line in logged)
    assert sys.stderr.getvalue() == ""  # nothing drawn


@pytest.mark.slow
def test_a_piped_training_run_logs_its_progress_and_figures(tmp_path):
    command = [sys.executable, str(ROOT / "scripts" / "train.py"), "env.preset=tiny", *TINY, "logger=none", f"hydra.run.dir={tmp_path}/run"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    log = (tmp_path / "run" / "train.log").read_text()
    assert "train: 0/2 it" in log and "train: 2/2 it" in log and '"final_eval"' in log, log
    assert "train: 2/2 it" in done.stdout and not any(line.startswith("[") for line in done.stdout.splitlines())  # plain on the console
