"""docs/tabular-games.md stays true: its example game builds, the solver gives the values
the page derives by hand, and the game plays by its import path."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

import envs
from assist.cli import CONFIG_DIR
from assist.cli.evaluate import run as evaluate
from envs.kitchen.humans import human_policy
from envs.kitchen.solver import evaluate_assistant, solve_bayes, solve_known_goal

PAGE = Path(__file__).resolve().parents[1] / "docs" / "tabular-games.md"
EXAMPLE, CHANCE = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)


@pytest.fixture
def games_module(tmp_path, monkeypatch):
    """The page's code as the user's module ``my_doc_games``."""
    (tmp_path / "my_doc_games.py").write_text(EXAMPLE + CHANCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_doc_games"
    sys.modules.pop("my_doc_games", None)


@pytest.mark.parametrize("discount", [0.9, 0.5, 1.0])
def test_the_pages_values_by_hand_are_the_solvers(games_module, discount):
    """Human alone g^2, oracle 1, Bayes g (it waits one step, then brews what it saw)."""
    core = envs.make_core("kitchen", variant=f"{games_module}:two_drinks", discount=discount)
    game, policy = core.game, human_policy(core.game, "rational")
    waits = np.eye(game.num_assistant_actions)[0]
    wait = evaluate_assistant(game, policy, lambda t, s, b, h: waits)
    assert wait == pytest.approx(discount**2, abs=1e-12)
    assert solve_known_goal(game, policy).value == pytest.approx(1.0, abs=1e-12)
    bayes = solve_bayes(game, policy)
    assert bayes.value == pytest.approx(discount, abs=1e-12)
    if discount < 1:
        assert game.assistant_action_names[bayes.action(0, game.initial_state, game.prior)] == "wait"


def test_the_page_game_plays_by_its_import_path(games_module, tmp_path):
    overrides = ["env=kitchen", f"env.variant={games_module}:two_drinks", "+env.params.discount=0.5", "human=model", "episodes=20", "batch=20", "baselines=[noop,bayes]"]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        summary = evaluate(compose(config_name="evaluate", overrides=overrides), tmp_path / "eval")
    assert summary["noop"]["return"].mean == pytest.approx(0.25)
    assert summary["bayes"]["return"].mean == pytest.approx(0.5)
    assert summary["oracle"]["return"].mean == pytest.approx(1.0)


def test_the_pages_chance_example_has_the_values_it_derives(games_module):
    """q = 1/2, g = 0.9: human alone q g^2 + q (1 - q) g^3, Bayes g, oracle 1."""
    core = envs.make_core("kitchen", variant=f"{games_module}:slow_start")
    game, policy = core.game, human_policy(core.game, "rational")
    waits = np.eye(game.num_assistant_actions)[0]
    assert evaluate_assistant(game, policy, lambda t, s, b, h: waits) == pytest.approx(0.5 * 0.81 + 0.25 * 0.729, abs=1e-12)
    assert solve_bayes(game, policy).value == pytest.approx(0.9, abs=1e-12)
    assert solve_known_goal(game, policy).value == pytest.approx(1.0, abs=1e-12)
