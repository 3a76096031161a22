"""Players of your own, by import path (``package.module:Name``), in every seat."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

import envs
from assist.cli import CONFIG_DIR
from assist.cli.evaluate import run as evaluate
from assist.registry import make_player
from envs.core import HUMAN

DOCS = Path(__file__).resolve().parents[1] / "docs" / "players.md"
EXAMPLE = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S).group(1)
"""The complete human of docs/players.md, which every test here plays: the page stays true."""
MODULE = EXAMPLE + """

def not_a_player(x):
    return x
"""


def user_module(tmp_path, monkeypatch, name: str, text: str):
    """A module ``name`` outside the package, importable as a user's would be; forgotten after the test."""
    (tmp_path / f"{name}.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


@pytest.fixture
def module_path(tmp_path, monkeypatch):
    """``my_humans``: the page's example human."""
    yield from user_module(tmp_path, monkeypatch, "my_humans", MODULE)


def test_a_player_by_import_path_takes_its_parameters_and_plays(module_path):
    core = envs.make_core("build", preset="tiny")
    player = make_player(f"{module_path}:SteadyHuman", core, HUMAN, every=2)
    assert player.every == 2
    state = core.reset(3, np.random.default_rng(0))
    from assist.rollout import turn_for

    player.reset(3, np.random.default_rng(0))
    assert (player.act(turn_for(core, player, state, HUMAN)) > 0).all()  # the first step builds
    assert (player.act(turn_for(core, player, state, HUMAN)) == 0).all()  # the second waits


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("steady", {}, r"unknown player 'steady'; valid players: \[.*'greedy'.*\], or an import path"),
        ("no_such_module:Human", {}, r"cannot import 'no_such_module'.*PYTHONPATH"),
        ("{m}:Missing", {}, r"has no class or function 'Missing'"),
        ("{m}:not_a_player", {}, r"must take \(core, seat, \*\*params\) first"),
        ("{m}:SteadyHuman", {"patience": 3}, r"has no parameter\(s\) \['patience'\]; its parameters: \['every'\]"),
    ],
)
def test_a_bad_import_path_or_parameter_says_what_is_wrong(module_path, name, params, message):
    with pytest.raises(ValueError, match=message):
        make_player(name.format(m=module_path), envs.make_core("build", preset="tiny"), HUMAN, **params)


def test_evaluate_seats_a_player_by_import_path_with_its_parameters_checked(module_path, tmp_path):
    overrides = ["env.preset=tiny", "episodes=4", "batch=4", "baselines=[noop]", "assistant=oracle", "human=custom", f"human.name={module_path}:SteadyHuman"]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        summary = evaluate(compose(config_name="evaluate", overrides=overrides + ["+human.params.every=2"]), tmp_path / "ok")
        assert set(summary) == {"noop", "oracle"} and summary["noop"]["human_actions"].mean > 0
        with pytest.raises(ValueError, match="human.params.every: every=0 must be >= 1"):
            evaluate(compose(config_name="evaluate", overrides=overrides + ["+human.params.every=0"]), tmp_path / "bad")


def test_training_takes_a_human_by_import_path(module_path, tmp_path):
    from assist.cli.train import run as train
    from tests.test_train import TINY, compose_train

    overrides = ["env.preset=tiny", "human=custom", f"human.name={module_path}:SteadyHuman", "+human.params.every=2", "algo.goal_envs=2"]
    final = train(compose_train(overrides + TINY), tmp_path / "run", progress=False)  # the last evaluation's means
    assert final["human_actions"] > 0
    assert "SteadyHuman" in (tmp_path / "run" / "config.yaml").read_text()



@pytest.mark.parametrize("seat", ["assistant", "human"])
def test_play_seats_a_player_by_import_path_beside_the_person(module_path, tmp_path, seat):
    """play.py: the page's human in the human seat beside a person assisting it, and, by
    its import path too, a built-in assistant (``assist.players.simple:NoopPlayer``)
    beside a person playing the human; the recording names both."""
    import io

    from assist import recording
    from assist.cli.play import run as play

    other = ["human=custom", f"human.name={module_path}:SteadyHuman", "+human.params.every=2"] if seat == "assistant" else [
        "assistant=custom", "assistant.name=assist.players.simple:NoopPlayer"]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="play", overrides=["env.preset=tiny", f"seat={seat}", *other])
    path = play(cfg, tmp_path, stdin=io.StringIO("\n\n\nquit\n"), stdout=io.StringIO())
    saved = recording.read(path)
    players = {agent: seat_info["player"] for agent, seat_info in saved.header["seats"].items()}
    expected = f"{module_path}:SteadyHuman" if seat == "assistant" else "assist.players.simple:NoopPlayer"
    assert expected in players.values() and "terminal" in players.values()
    (episode,) = saved.episodes
    assert len(episode["actions"]) == 3  # three empty lines: three steps, then quit

GAMES = '''
import numpy as np

from envs.kitchen import variants


def sure_red(horizon=2):
    """red_blue with a prior that all but names the goal."""
    return variants.red_blue(horizon=horizon, prior_red=0.9)


def first_best(q):
    """The human takes the lowest-numbered of its best actions."""
    best = q >= q.max(axis=-1, keepdims=True)
    first = best & (np.cumsum(best, axis=-1) == 1)
    return first.astype(float)


def not_a_game():
    return 3


def sums_to_two(q):
    return np.where(np.isneginf(q), 0.0, 2.0 / np.isfinite(q).sum(axis=-1, keepdims=True))
'''


@pytest.fixture
def games_module(tmp_path, monkeypatch):
    """``my_games``: a kitchen variant and human models of the user's own."""
    yield from user_module(tmp_path, monkeypatch, "my_games", GAMES)


def test_a_kitchen_variant_and_human_model_of_ones_own_play_by_import_path(games_module, tmp_path):
    core = envs.make_core("kitchen", variant=f"{games_module}:sure_red", human=f"{games_module}:first_best", horizon=3)
    assert core.game.horizon == 3 and core.game.prior[0] == pytest.approx(0.9)
    overrides = ["env=kitchen", f"env.variant={games_module}:sure_red", f"env.human={games_module}:first_best", "episodes=8", "batch=8", "baselines=[noop,bayes]", "human=model"]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        summary = evaluate(compose(config_name="evaluate", overrides=overrides), tmp_path / "eval")
    assert set(summary) == {"noop", "bayes", "oracle"} and summary["bayes"]["return"].mean >= summary["noop"]["return"].mean


@pytest.mark.parametrize(
    "variant, human, message",
    [
        ("{m}:not_a_game", "rational", "returned int, not a TabularGame"),
        ("red_blue", "{m}:sums_to_two", "must return probabilities of shape"),
        ("{m}:missing", "rational", "has no class or function 'missing'"),
        ("blue_red", "rational", r"unknown kitchen variant 'blue_red'; valid kitchen variants: \[.*'red_blue'"),
    ],
)
def test_a_bad_variant_or_human_model_of_ones_own_says_what_is_wrong(games_module, variant, human, message):
    with pytest.raises(ValueError, match=message):
        envs.make_core("kitchen", variant=variant.format(m=games_module), human=human.format(m=games_module))
