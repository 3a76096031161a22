"""Play one seat yourself, in the terminal or the browser, with any player in the other
seat; the session is saved as ``recording.jsonl`` in the run directory. With ``ui=study``,
serve a study instead: a start page from which several participants each join a condition
of ``study.conditions`` (docs/study-mode.md); the run directory is the study folder."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TextIO

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from assist import config as schemas
from assist.cli import CONFIG_DIR, one_line_errors, set_threads
from assist.ui import server, study_server, terminal
from assist.ui.session import Session
from assist.ui.study import Factory, Study
from envs.core import ASSISTANT, HUMAN

log = logging.getLogger(__name__)
SEATS = {"human": HUMAN, "assistant": ASSISTANT, HUMAN: HUMAN, ASSISTANT: ASSISTANT}
UIS = ("terminal", "browser", "study")


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


def condition_config(cfg: DictConfig, name: str) -> DictConfig:
    """The play config of the study condition ``name``: ``cfg`` with the condition's seat,
    env changes and players, played in the browser; a change the game's schema refuses is a
    :class:`~assist.config.ConfigError` naming the condition's key."""
    key = f"study.conditions.{name}"
    try:
        condition = OmegaConf.merge(OmegaConf.structured(schemas.ConditionConfig), cfg.study.conditions[name])
    except OmegaConfBaseException as error:  # a key ConditionConfig has not, or a value of the wrong type
        raise schemas.ConfigError(key, f"{error}".splitlines()[0] + f"; a condition has {list(schemas.ConditionConfig.__dataclass_fields__)}") from None
    played = cfg.copy()
    played.ui = "browser"
    try:
        played.env = OmegaConf.merge(cfg.env, condition.env)
    except OmegaConfBaseException as error:  # an option the game has not, or a value of the wrong type
        raise schemas.ConfigError(f"{key}.env", f"{condition.env} does not fit env={cfg.env.name}: {error}".splitlines()[0]) from None
    for field in ("seat", "human", "assistant"):
        if condition[field] is not None:
            played[field] = condition[field]
    return played


def study_conditions(cfg: DictConfig) -> dict[str, Factory]:
    """``{name: factory}`` of ``cfg.study.conditions``, each condition built once now so that a
    bad one fails before anything is served (a ConfigError naming its key)."""
    if not cfg.study.conditions:
        raise schemas.ConfigError("study.conditions", "a study needs at least one condition, e.g. study=demo or +study.conditions.<name>={assistant: {name: noop}}")
    factories = {}
    for name in cfg.study.conditions:
        played = condition_config(cfg, name)
        try:
            make_session(played)
        except schemas.ConfigError as error:
            raise schemas.ConfigError(f"study.conditions.{name}", str(error)) from None

        def factory(seed: int, played: DictConfig = played) -> tuple[Session, str]:
            with_seed = played.copy()
            with_seed.seed = seed
            return make_session(with_seed)

        factories[name] = factory
    return factories


def run(cfg: DictConfig, out_dir: Path, stdin: TextIO | None = None, stdout: TextIO | None = None) -> Path:
    """Play as ``cfg`` says; return the path of the saved recording (of a study: its sessions log)."""
    schemas.checked(cfg, schemas.PlayConfig)
    set_threads(cfg.threads)
    if cfg.ui == "study":
        return run_study(cfg, out_dir)
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


def run_study(cfg: DictConfig, folder: Path) -> Path:
    """Serve the study ``cfg.study`` describes until Ctrl-C, its recordings and sessions log in
    ``folder``; return the log's path."""
    conditions = study_conditions(cfg)
    with schemas.naming(cfg.study):
        study = Study(conditions, folder, cfg.study.max_sessions, cfg.study.idle_s, cfg.study.assign, cfg.tick_ms, cfg.seed)
    study_server.serve(study, host=cfg.host, port=cfg.port)
    return study.log_path


@hydra.main(config_path=CONFIG_DIR, config_name="play", version_base="1.3")
def main(cfg: DictConfig) -> None:
    with one_line_errors():
        run(cfg, Path(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main()
