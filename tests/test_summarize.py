"""Summarizing a sweep directory: cells, intervals, table, files and plots."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from scipy import stats

from assist import sweep
from assist.cli.summarize import main
from assist.evaluation import Summary
from assist.ui import study_log

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def write_job(path: Path, overrides: list[str], summary: dict[str, dict[str, Summary]]) -> Path:
    """A job directory as Hydra and the entry points leave it."""
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    data = {"summary": {row: {m: s._asdict() for m, s in cells.items()} for row, cells in summary.items()}}
    (path / "results.json").write_text(json.dumps(data))
    return path


def goal(mean: float) -> dict[str, Summary]:
    return {"goal_pct": Summary(mean, mean - 1, mean + 1, 32)}


@pytest.fixture
def algo_sweep(tmp_path):
    """Two algos x two seeds, all on env.preset=tiny."""
    means = {("az", 0): 10.0, ("az", 1): 30.0, ("ppo", 0): 5.0, ("ppo", 1): 7.0}
    for n, ((algo, seed), mean) in enumerate(means.items()):
        write_job(tmp_path / f"{n}_job", ["env.preset=tiny", f"algo={algo}", f"seed={seed}"], {algo: goal(mean)})
    return tmp_path


def test_jobs_are_pooled_over_seeds_into_one_cell_per_swept_setting(algo_sweep):
    summary = sweep.summarize(*sweep.read_sweep(algo_sweep))
    assert summary.swept == ["algo"] and summary.fixed == {"env.preset": "tiny"}
    cells = {cell.overrides["algo"]: cell for cell in summary.cells}
    assert set(cells) == {"az", "ppo"} and all(len(c.jobs) == 2 and c.ci_over == "seeds" for c in cells.values())
    az = cells["az"].metrics["goal_pct"]
    assert az.mean == pytest.approx(20.0) and az.n == 2 and not az.has_interval()  # two seeds: too few for an interval


def test_three_seeds_or_more_get_a_student_t_interval_and_fewer_none():
    three = sweep.seed_interval([10.0, 20.0, 30.0])
    half = stats.t.ppf(0.975, 2) * 10.0 / 3**0.5  # sd 10 over three seeds
    assert (three.mean, three.n) == (20.0, 3) and three.low == pytest.approx(20.0 - half) and three.high == pytest.approx(20.0 + half)
    two = sweep.seed_interval([10.0, 30.0])
    assert two.cell() == "20.00 (n=2: too few for an interval)" and two.to_dict() == {"mean": 20.0, "low": None, "high": None, "n": 2}
    assert Summary.from_dict(json.loads(json.dumps(two.to_dict()))).cell() == two.cell()  # JSON (null bounds) and back


def test_a_cell_of_one_run_keeps_that_runs_interval_over_episodes(tmp_path):
    write_job(tmp_path / "0", ["human=greedy"], {"az": goal(50.0)})
    write_job(tmp_path / "1", ["human=lazy"], {"az": goal(60.0)})
    summary = sweep.summarize(*sweep.read_sweep(tmp_path))
    assert [(c.overrides, c.ci_over, c.metrics["goal_pct"]) for c in summary.cells] == [
        ({"human": "greedy"}, "episodes", Summary(50.0, 49.0, 51.0, 32)),
        ({"human": "lazy"}, "episodes", Summary(60.0, 59.0, 61.0, 32)),
    ]


def test_each_assistant_of_an_evaluation_run_is_a_cell_of_its_own(tmp_path):
    for seed in (0, 1):
        write_job(tmp_path / str(seed), [f"seed={seed}"], {"noop": goal(40.0 + seed), "oracle": goal(90.0 + seed)})
    summary = sweep.summarize(*sweep.read_sweep(tmp_path))
    assert summary.swept == [] and [(c.assistant, c.metrics["goal_pct"].mean) for c in summary.cells] == [("noop", 40.5), ("oracle", 90.5)]


def test_unfinished_jobs_are_listed_not_fatal(algo_sweep):
    (algo_sweep / "9_failed" / ".hydra").mkdir(parents=True)
    jobs, incomplete = sweep.read_sweep(algo_sweep)
    assert len(jobs) == 4 and incomplete == [algo_sweep / "9_failed"]


@pytest.mark.parametrize(
    "layout, message",
    [("missing", "no sweep directory"), ("empty", "no job directories"), ("no_overrides", "not a job of a Hydra sweep")],
)
def test_what_is_not_a_sweep_is_a_clear_error(tmp_path, layout, message):
    if layout == "empty":
        (tmp_path / "runs").mkdir()
    if layout == "no_overrides":
        (tmp_path / "runs" / "0").mkdir(parents=True)
        (tmp_path / "runs" / "0" / "results.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=message):
        sweep.read_sweep(tmp_path / "runs")


def test_unknown_metrics_name_the_present_ones(algo_sweep):
    summary = sweep.summarize(*sweep.read_sweep(algo_sweep))
    with pytest.raises(ValueError, match=r"present: \['goal_pct'\]"):
        sweep.chosen_metrics(summary, ["goal_percent"])


def test_the_summary_files_and_bar_chart_are_written(algo_sweep, capsys):
    main([str(algo_sweep)])
    out = capsys.readouterr().out
    assert "| algo | runs | goal_pct |" in out and "| az | 2 | 20.00 (n=2: too few for an interval) |" in out  # algo names the assistant
    assert (algo_sweep / "summary.md").read_text().count("\n| ") == 3  # the rule and two cells
    data = json.loads((algo_sweep / "summary.json").read_text())
    assert data["swept"] == ["algo"] and [c["runs"] for c in data["cells"]] == [2, 2]
    assert (algo_sweep / "metrics.png").read_bytes().startswith(PNG)
    assert not (algo_sweep / "curves.png").exists()  # no TensorBoard events in these jobs


@pytest.mark.slow
def test_a_two_job_joblib_training_sweep_is_summarized_with_learning_curves(tmp_path):
    sweep_dir = tmp_path / "sweep"
    command = [sys.executable, str(ROOT / "scripts" / "train.py"), "-m", "hydra/launcher=parallel", "experiment=smoke", "algo=ppo", "seed=0,1", f"hydra.sweep.dir={sweep_dir}"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list(sweep_dir.glob("*/results.json"))) == 2
    summarize = subprocess.run([sys.executable, str(ROOT / "scripts" / "summarize.py"), str(sweep_dir)], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert summarize.returncode == 0, summarize.stderr[-3000:]
    assert "| ppo | 2 |" in summarize.stdout
    cell = json.loads((sweep_dir / "summary.json").read_text())["cells"][0]
    assert cell["ci_over"] == "seeds" and set(cell["metrics"]) >= {"goal_pct", "return"}
    for png in ("metrics.png", "curves.png"):
        assert (sweep_dir / png).read_bytes().startswith(PNG), png


def test_a_study_folder_is_summarized_per_condition_over_its_finished_sessions(tmp_path, capsys):
    for participant, condition, ended, goal_pct in [("p1", "oracle", "finished", 100.0), ("p2", "oracle", "finished", 80.0), ("p3", "noop", "expired", 10.0)]:
        line = study_log.SessionLine(participant, condition, ended, "2026-12-07T12:00:00Z", 30.0, f"recordings/{participant}__{condition}.jsonl", {"goal_pct": goal_pct})
        study_log.append(tmp_path / study_log.FILE, line)
    main([str(tmp_path), "--metrics", "goal_pct"])
    out = capsys.readouterr().out
    assert "3 sessions of the study" in out and "| condition | finished | goal_pct | not finished |" in out
    assert "| oracle | 2 | 90.00 (n=2: too few for an interval) | 0 |" in out and "| noop | 0 |  | 1 |" in out
    assert (tmp_path / "summary.md").read_text().count("\n| ") == 3  # the rule and two conditions
