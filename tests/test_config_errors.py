"""A wrong type, an unknown key or an unknown group option fails when the config is
composed, before any work, with a message that names the key and what would be valid."""

import subprocess
import sys
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException, MissingConfigException

import assist.config
from assist.cli import CONFIG_DIR
from assist.learning.assistancezero import AssistanceZeroConfig
from tests import support

ROOT = Path(__file__).resolve().parents[1]
GROUPS = ("env", "human", "model", "search", "algo", "logger", "experiment", "sweep", "hydra/launcher")


def compose_train(overrides, config_dir=CONFIG_DIR, primary="train"):
    return support.compose_train(overrides, config_dir, primary, hydra_config=True)


def message(error: pytest.ExceptionInfo) -> str:
    """Everything Hydra prints for the error: its message and its cause's."""
    return f"{error.value}\n{error.value.__cause__}"


@pytest.mark.parametrize(
    "override, key, expected",
    [
        ("seed=abc", "seed", "could not be converted to Integer"),
        ("algo.iterations=many", "algo.iterations", "could not be converted to Integer"),
        ("search.c_puct=high", "search.c_puct", "could not be converted to Float"),
        ("logger.tensorboard=maybe", "logger.tensorboard", "is not a valid bool"),
        ("env.chat=[1,2]", "env.chat", "is not a valid bool (type list)"),
    ],
)
def test_a_wrong_type_names_the_key_and_the_type_it_needs(override, key, expected):
    with pytest.raises(ConfigCompositionException) as error:
        compose_train([override])
    assert f"full_key: {key}" in message(error) and expected in message(error)


@pytest.mark.parametrize(
    "overrides, schema",
    [(["algo.not_a_field=1"], "AssistanceZeroConfig"), (["algo=ppo", "algo.sequence=8"], "PPOConfig"), (["env.colour=red"], "BuildEnvConfig"), (["epochs=3"], "TrainConfig")],
)
def test_an_unknown_key_names_the_schema_that_lacks_it(overrides, schema):
    with pytest.raises(ConfigCompositionException) as error:
        compose_train(overrides)
    key = overrides[-1].split("=")[0].split(".")[-1]
    assert f"Key '{key}' not in '{schema}'" in message(error)


def test_a_key_added_with_plus_is_refused_when_the_config_is_built():
    cfg = compose_train(["+algo.not_a_field=1"])
    with pytest.raises(ValueError, match=r"AssistanceZeroConfig has no field\(s\) \['not_a_field'\]; its fields: \[.*'iterations'"):
        assist.config.to_dataclass(AssistanceZeroConfig, cfg.algo)


@pytest.mark.parametrize("group", GROUPS)
def test_an_unknown_group_option_lists_every_valid_one(group):
    options = sorted(p.stem for p in (Path(CONFIG_DIR) / group).glob("*.yaml"))
    with pytest.raises(MissingConfigException) as error:
        compose_train([f"{group}=no_such_option"])
    listed = str(error.value).split(f"Available options in '{group}':")[1]
    assert all(f"\t{option}\n" in listed for option in options), (options, listed)


def test_a_config_file_that_drifts_from_its_schema_fails_to_compose(tmp_path):
    (tmp_path / "algo").mkdir()
    (tmp_path / "algo" / "typo.yaml").write_text("defaults:\n  - assistancezero_schema\n  - _self_\n\niteration: 5\n")
    (tmp_path / "main.yaml").write_text("defaults:\n  - algo: typo\n")
    with pytest.raises(ConfigCompositionException) as error:
        compose_train([], config_dir=tmp_path, primary="main")
    assert "Key 'iteration' not in 'AssistanceZeroConfig'" in message(error)


@pytest.mark.slow
def test_the_command_line_prints_the_valid_options_without_a_traceback(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), "algo=dqn"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert "Could not find 'algo/dqn'" in result.stderr and "\tassistancezero\n" in result.stderr and "\tppo\n" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()  # nothing was started
