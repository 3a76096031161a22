"""``scripts/play.py ui=study``: the conditions of ``study.conditions`` become sessions of the
play config with what each condition changes; bad ones are refused naming their key; the
script serves a study and logs its sessions when stopped."""

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from omegaconf import open_dict

from assist.cli.play import run_study, study_conditions
from assist.config import ConfigError
from assist.ui import study_log
from envs.core import ASSISTANT, HUMAN
from tests.test_play_terminal import compose_play

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_study_plays_each_assistant_in_the_human_seat():
    conditions = study_conditions(compose_play(["ui=study"]))
    assert list(conditions) == ["oracle", "noop"]
    session, seat = conditions["noop"](7)
    assert seat == HUMAN and session.header["seats"][ASSISTANT] == {"player": "noop", "person": False}
    assert session.header["seats"][HUMAN] == {"player": "browser", "person": True}


def test_a_condition_changes_only_what_it_names():
    cfg = compose_play(["ui=study", "+study.conditions.assist={seat: assistant, env: {horizon: 5}, human: {name: lazy}}"])
    session, seat = study_conditions(cfg)["assist"](0)
    assert seat == ASSISTANT and session.core.horizon == 5 and session.header["seats"][HUMAN]["player"] == "lazy"
    assert cfg.seat == "human" and cfg.env.horizon is None  # the play config itself is unchanged


@pytest.mark.parametrize(
    "override, message",
    [
        ("+study.conditions.x={colour: red}", r"study.conditions.x: .*colour.*a condition has \['seat', 'env', 'human', 'assistant'\]"),
        ("+study.conditions.x={env: {colour: 1}}", r"study.conditions.x.env: .*colour"),
        ("+study.conditions.x={assistant: {name: pizza}}", r"study.conditions.x: .*pizza"),
        ("+study.conditions.x={seat: both}", r"study.conditions.x: seat: 'both' is not a seat"),
    ],
)
def test_a_bad_condition_is_refused_naming_its_key(override, message):
    with pytest.raises(ConfigError, match=message):
        study_conditions(compose_play(["ui=study", override]))


def test_bad_study_settings_are_refused_naming_the_setting(tmp_path):
    cfg = compose_play(["ui=study"])
    cfg.study.conditions = {}  # a study file of no conditions
    with pytest.raises(ConfigError, match=r"study.conditions: a study needs at least one condition"):
        study_conditions(cfg)
    for setting, message in [("assign=random", r"assign='random' must be one of \['choose', 'balanced'\]"), ("max_sessions=0", "must be >= 1"), ("idle_s=-1", "must be > 0")]:
        with pytest.raises(ConfigError, match=rf"study.{setting.split('=')[0]}: .*{message}"):
            run_study(compose_play(["ui=study", f"study.{setting}"]), tmp_path)
    cfg = compose_play(["ui=study"])
    with open_dict(cfg):
        cfg.study.conditions["a b"] = {}
    with pytest.raises(ConfigError, match=r"study: condition names \['a b'\] must be 1 to 40 letters"):
        run_study(cfg, tmp_path)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


@pytest.mark.slow
def test_the_play_script_serves_a_study_and_logs_its_sessions_when_stopped(tmp_path):
    port, folder = free_port(), tmp_path / "study"
    command = [sys.executable, str(ROOT / "scripts" / "play.py"), "ui=study", "env.preset=tiny", f"port={port}", f"hydra.run.dir={folder}"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base + "/", timeout=2).close()
                break
            except OSError:
                time.sleep(0.2)
        joined = post(base + "/api/join", {"participant": "P01", "condition": "noop"})
        post(base + joined["url"] + "api/action", {"text": "noop"})
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert f"at http://127.0.0.1:{port}/" in out and f"python scripts/summarize.py {folder}" in out
    (line,) = study_log.read(folder / "sessions.jsonl")
    assert (line["participant"], line["condition"], line["ended"]) == ("P01", "noop", "stopped")
    assert (folder / "recordings" / "P01__noop.jsonl").exists()
