"""Summarize a sweep directory: a table of mean and 95% CI per cell, and PNG plots; or a
study folder: a table per condition.

    python scripts/summarize.py runs/train-sweep/<time> [--metrics goal_pct return] [--replicate seed] [--out DIR]
    python scripts/summarize.py runs/play/<study> [--metrics goal_pct duration_s] [--out DIR]

Reads every job of the sweep (its ``results.json`` and ``.hydra/overrides.yaml``), groups
the jobs by the overrides that differ between them except ``--replicate`` (the seed), and
per cell and metric gives the mean over the cell's runs with a Student-t 95% interval (a
cell of one run keeps that run's own interval over its episodes); see
:mod:`assist.sweep`. Prints the table as Markdown and writes into ``--out`` (the sweep
directory by default) ``summary.md``, ``summary.json``, ``metrics.png`` (a bar per cell
and metric with CI error bars) and, for training sweeps, ``curves.png`` (learning curves
from the runs' TensorBoard events).

A folder holding ``sessions.jsonl`` is a study (``scripts/play.py ui=study``): the table has
one row per condition, over its finished sessions (:func:`assist.ui.study_log.summary_table`),
printed and written to ``summary.md``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from assist import plots, sweep
from assist.ui import study_log


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep_dir", type=Path, help="a multirun directory, e.g. runs/train-sweep/<time>, or a study folder (holding sessions.jsonl)")
    parser.add_argument("--metrics", nargs="+", help="columns (default: goal_pct return human_actions assistant_share length; a study's also duration_s)")
    parser.add_argument("--replicate", default="seed", help="the override whose runs are pooled in a cell (default: seed)")
    parser.add_argument("--out", type=Path, help="where to write the summary files (default: the sweep directory)")
    args = parser.parse_args(argv)
    if (args.sweep_dir / study_log.FILE).exists():
        summarize_study(args.sweep_dir, args.metrics, args.out or args.sweep_dir)
        return
    jobs, incomplete = sweep.read_sweep(args.sweep_dir)
    summary = sweep.summarize(jobs, incomplete, args.replicate)
    metrics = sweep.chosen_metrics(summary, args.metrics)
    out = args.out or args.sweep_dir
    out.mkdir(parents=True, exist_ok=True)
    table = sweep.markdown_table(summary, metrics)
    fixed = " ".join(f"{key}={value}" for key, value in summary.fixed.items())
    header = f"{len(jobs)} runs of {args.sweep_dir}" + (f" ({fixed})" if fixed else "") + f"; mean [95% CI] over {args.replicate}s per cell"
    print(header)
    print(table)
    (out / "summary.md").write_text(f"{header}\n\n{table}\n")
    (out / "summary.json").write_text(json.dumps(sweep.to_json(summary), indent=2) + "\n")
    written = [plots.metric_bars(summary, metrics, out / "metrics.png"), plots.learning_curves(summary.cells, out / "curves.png")]
    for path in incomplete:
        print(f"no results.json yet (failed or running): {path}")
    print("saved " + ", ".join(str(p) for p in [out / "summary.md", out / "summary.json", *written] if p is not None))


def summarize_study(folder: Path, metrics: list[str] | None, out: Path) -> None:
    """Print and save (``out/summary.md``) the table per condition of the study in ``folder``."""
    lines = study_log.read(folder / study_log.FILE)
    header = f"{len(lines)} sessions of the study {folder}; mean [95% CI] over the finished sessions per condition"
    table = study_log.summary_table(lines, metrics)
    print(header)
    print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(f"{header}\n\n{table}\n")
    print(f"saved {out / 'summary.md'}")


if __name__ == "__main__":
    main()
