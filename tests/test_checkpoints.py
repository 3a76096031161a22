"""Checkpoints never lose or silently corrupt a run: a run never deletes a checkpoint it
did not write in this invocation, a directory with checkpoints is refused without
``resume=true``, a missing or damaged manifest falls back to the newest complete checkpoint
(or is refused), every file is checked against its digest, readable files of the wrong
structure are named, and a resume may not change the settings that alter the run's results.

The CLI refusals start ``scripts/train.py`` in a subprocess on the tiny preset, as a user would."""

import hashlib
import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file

import envs
from assist.learning.checkpoints import CheckpointError, RunCheckpoint, changed_settings
from assist.models.factory import make_model
from assist.registry import make_player
from envs.core import ASSISTANT
from tests.test_long_runs import ROOT, RUN, current, finish, resume, train, trained, trained_once  # noqa: F401 (fixtures)

MANIFEST = "manifest.json"


def manifests(run_dir: Path) -> list[Path]:
    """The run's manifest and the current checkpoint folder's own."""
    return [run_dir / "checkpoints" / MANIFEST, current(run_dir) / MANIFEST]


def edit_manifests(run_dir: Path, change) -> None:
    """Apply ``change`` (a function of the manifest dict) to the manifests of the current checkpoint."""
    for path in filter(Path.exists, manifests(run_dir)):
        manifest = json.loads(path.read_text())
        change(manifest)
        path.write_text(json.dumps(manifest))


def snapshot(run_dir: Path) -> dict[str, bytes]:
    """Every file under ``checkpoints/`` by its path there, with its bytes."""
    folder = run_dir / "checkpoints"
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def assert_one_line_error(code: int, output: str, *says: str) -> None:
    """The process exited 1 with one ``error:`` line (no traceback) that says each of ``says``."""
    assert code == 1 and "Traceback" not in output, output
    (line,) = [line for line in output.splitlines() if line.startswith("error:")]
    for text in says:
        assert text in line, line


# -------------------------------------------------------------- starting and resuming


def test_a_run_without_resume_in_a_directory_with_checkpoints_is_refused(trained):
    before = snapshot(trained)
    code, output = finish(train(trained, *RUN, "algo.iterations=2"))
    assert_one_line_error(code, output, str(trained / "checkpoints"), "resume=true", "new directory")
    assert snapshot(trained) == before


def test_a_resume_that_changes_the_runs_results_is_refused_with_the_changed_keys(trained):
    config = (trained / "config.yaml").read_text()
    code, output = finish(train(trained, *RUN, "algo.iterations=3", "resume=true", "seed=99", "algo.lr=0.5"))
    assert_one_line_error(code, output, "seed: 0 -> 99", "algo.lr: 0.001 -> 0.5", "new directory")
    assert (trained / "config.yaml").read_text() == config  # the run's true settings are kept


def test_only_the_documented_settings_may_change_on_resume():
    saved = {"seed": 0, "resume": False, "device": "auto", "threads": 1, "logger": {"tensorboard": True}, "model": {"overrides": {}}}
    saved["algo"] = {"iterations": 2, "checkpoint_every": 1, "eval_every": 1, "max_nonfinite": 10, "lr": 0.001, "eval_episodes": 4}
    allowed = {**saved, "resume": True, "device": "cpu", "threads": 2, "logger": {"tensorboard": False}}
    allowed["algo"] = {**saved["algo"], "iterations": 9, "checkpoint_every": 3, "eval_every": 3, "max_nonfinite": 20}
    assert changed_settings(saved, allowed) == []
    changed = {**allowed, "seed": 1, "model": {"overrides": {"channels": 8}}, "algo": {**allowed["algo"], "lr": 0.5, "eval_episodes": 8}}
    assert changed_settings(saved, changed) == ["algo.eval_episodes: 4 -> 8", "algo.lr: 0.001 -> 0.5", "model.overrides.channels: (unset) -> 8", "seed: 0 -> 1"]


def test_a_run_never_deletes_a_checkpoint_it_did_not_write_in_this_invocation(trained):
    earlier = current(trained)
    foreign = Path(shutil.copytree(earlier, trained / "checkpoints" / "000001"))
    resume(trained, "algo.iterations=4", "algo.checkpoint_every=1")
    folders = sorted(path.name for path in (trained / "checkpoints").iterdir() if path.is_dir())
    assert folders == [foreign.name, earlier.name, "000004"]  # this invocation's 000003 made way for 000004


# ------------------------------------------------------------------- the manifest


@pytest.mark.parametrize("damage", ["missing", "unreadable", "names a missing folder"])
def test_a_missing_or_damaged_manifest_falls_back_to_the_newest_complete_checkpoint(trained, damage, caplog):
    manifest = trained / "checkpoints" / MANIFEST
    newer = current(trained)
    shutil.copytree(newer, trained / "checkpoints" / "000001")  # an older complete checkpoint
    if damage == "missing":
        manifest.unlink()
    elif damage == "unreadable":
        manifest.write_text("{not json")
    else:
        manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "checkpoint": "000009"}))
    with caplog.at_level(logging.INFO):
        resume(trained)
    assert "resumed at iteration 2" in caplog.text
    assert f"using {newer}, the newest complete checkpoint" in caplog.text
    assert json.loads((trained / "results.json").read_text())["iterations"] == 3


def test_a_missing_manifest_without_a_complete_checkpoint_is_refused(trained):
    for path in manifests(trained):
        path.unlink()
    with pytest.raises(CheckpointError, match=rf"{re.escape(str(trained / 'checkpoints' / MANIFEST))} is missing, and no folder .* is a complete checkpoint.*restore"):
        resume(trained)
    code, output = finish(train(trained, *RUN, "algo.iterations=2"))  # never starts over
    assert_one_line_error(code, output, "resume=true")


@pytest.mark.parametrize("name", ["../elsewhere", "/tmp", ".", "linked"])
def test_the_manifest_cannot_name_a_folder_outside_the_run(trained, name):
    outside = Path(shutil.copytree(current(trained), trained.parent / "elsewhere"))
    (trained / "checkpoints" / "linked").symlink_to(outside)
    edit_manifests(trained, lambda manifest: manifest.update(checkpoint=name))
    with pytest.raises(CheckpointError, match=rf"names '{re.escape(name)}', which is not a checkpoint folder inside"):
        resume(trained)


def test_committed_runs_of_the_earlier_manifest_still_load_for_evaluation():
    stored = ROOT / "results" / "assistancezero" / "build_small" / "recipe" / "paper" / "0"
    assert "sha256" not in json.loads((stored / "checkpoints" / MANIFEST).read_text())
    core = envs.make_core("build", preset="small")
    assert make_player("assistancezero", core, ASSISTANT, run=str(stored)).evaluator.net is not None


# -------------------------------------------------------------------- the files


def flip(path: Path, count: int = 64) -> None:
    """Invert ``count`` bytes in the middle of ``path``."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + count] = bytes(byte ^ 0xFF for byte in data[middle : middle + count])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["model.safetensors", "trainer.pt", "rank0.pt", "rank0.replay.safetensors", "rank0.games.safetensors"])
def test_flipped_bytes_in_any_checkpoint_file_are_named(trained, name):
    path = current(trained) / name
    flip(path)
    with pytest.raises(CheckpointError, match=rf"{re.escape(str(path))} does not match its SHA-256 in .*manifest.json") as error:
        resume(trained)
    assert "\n" not in str(error.value)
    net = make_model(envs.make_core("build", preset="tiny"), preset="tiny")
    if name == "model.safetensors":  # evaluation checks the weights too
        with pytest.raises(CheckpointError, match=re.escape(str(path))):
            RunCheckpoint(trained / "checkpoints").load_model(net)
    else:
        assert RunCheckpoint(trained / "checkpoints").load_model(net)


def rewrite(run_dir: Path, name: str, change) -> Path:
    """Replace the current checkpoint's file ``name`` by ``change`` of its contents, a readable
    file of another structure, and its digest in both manifests by the new file's."""
    path = current(run_dir) / name
    if name.endswith(".safetensors"):
        save_file(change(load_file(path)), path)
    else:
        torch.save(change(torch.load(path, weights_only=True)), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    edit_manifests(run_dir, lambda manifest: manifest.get("sha256", {}).update({name: digest}))
    return path


@pytest.mark.parametrize(
    "name, change",
    [
        ("trainer.pt", lambda saved: {key: value for key, value in saved.items() if key != "counters"}),
        ("trainer.pt", lambda saved: [saved]),
        ("trainer.pt", lambda saved: {**saved, "optimizer": {"state": {}, "param_groups": []}}),
        ("trainer.pt", lambda saved: {**saved, "last_eval": {"goal_pct": {"mean": 1.0}}}),
        ("rank0.pt", lambda saved: {**saved, "rng": {**saved["rng"], "numpy": {"bit_generator": "PCG64", "state": 5}}}),
        ("rank0.pt", lambda saved: {**saved, "rng": {**saved["rng"], "torch": torch.zeros(3, dtype=torch.uint8)}}),
        ("rank0.pt", lambda saved: {**saved, "weights": "0" * 64}),
        ("rank0.games.safetensors", lambda saved: {key: value for key, value in saved.items() if key != "start"}),
        ("rank0.replay.safetensors", lambda saved: {key: np.zeros(3, np.int64) for key in saved}),
    ],
    ids=["no counters", "not a dict", "another optimizer", "bad evaluation", "bad numpy rng", "bad torch rng", "other weights", "games field missing", "replay arrays"],
)
def test_readable_checkpoint_files_of_the_wrong_structure_are_named(trained, name, change):
    path = rewrite(trained, name, change)
    with pytest.raises(CheckpointError, match=rf"{re.escape(str(path))} does not fit this run") as error:
        resume(trained)
    assert "\n" not in str(error.value)

