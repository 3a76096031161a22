"""Play one seat yourself, in the terminal or the browser, with any player in the other
seat; the session is saved as ``recording.jsonl`` in the run directory."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TextIO

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from assist import config as schemas
from assist.cli import CONFIG_DIR, one_line_errors, set_threads
from assist.ui import server, terminal
from assist.ui.session import Session
from envs.core import ASSISTANT, HUMAN

log = logging.getLogger(__name__)
SEATS = {"human": HUMAN, "assistant": ASSISTANT, HUMAN: HUMAN, ASSISTANT: ASSISTANT}
UIS = ("terminal", "browser")


def make_session(cfg: DictConfig) -> tuple[Session, str]:
    """The session ``cfg`` describes and the person's seat (``human_0`` or ``assistant_0``); a
    setting out of range is a :class:`~assist.config.ConfigError` naming its key."""
    if cfg.seat not in SEATS:
        raise schemas.ConfigError("seat", f"{cfg.seat!r} is not a seat; use seat=human or seat=assistant")
    if cfg.ui not in UIS:
        raise schemas.ConfigError("ui", f"{cfg.ui!r} is not a way to play; use one of {list(UIS)}")
    person = SEATS[cfg.seat]
    core = schemas.make_core(cfg.env)
    players, header_seats = {}, {}
    for agent, key in ((HUMAN, "human"), (ASSISTANT, "assistant")):
        choice = cfg[key]
        if agent == person:
            players[agent], header_seats[agent] = None, {"player": cfg.ui, "person": True}
            continue
        if choice.name == "terminal":
            raise schemas.ConfigError(f"{key}.name", f"the other seat ({agent}) cannot be 'terminal' too: you play {person}; choose a player for {agent}")
        players[agent] = schemas.make_player(choice, core, agent)
        header_seats[agent] = {"player": choice.name, "person": False}
    return Session(core, players, cfg.seed, header_seats, schemas.env_options(cfg.env)), person


def run(cfg: DictConfig, out_dir: Path, stdin: TextIO | None = None, stdout: TextIO | None = None) -> Path:
    """Play as ``cfg`` says; return the path of the saved recording."""
    schemas.checked(cfg, schemas.PlayConfig)
    set_threads(cfg.threads)
    session, person = make_session(cfg)
    path = out_dir / "recording.jsonl"
    if cfg.ui == "terminal":
        stdout = stdout or sys.stdout
        try:
            terminal.play(session, person, stdin or sys.stdin, stdout, timeout=cfg.timeout, episodes=cfg.episodes)
        except KeyboardInterrupt:
            print("\ninterrupted", file=stdout)
        session.save(path)
        print(f"recording saved to {path}", file=stdout, flush=True)
    else:
        server.serve(session, person, path, host=cfg.host, port=cfg.port, tick_ms=cfg.tick_ms)
    return path


@hydra.main(config_path=CONFIG_DIR, config_name="play", version_base="1.3")
def main(cfg: DictConfig) -> None:
    with one_line_errors():
        run(cfg, Path(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main()
