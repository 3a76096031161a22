"""Run directories are named by time and overrides, paste into a command as they are, and
are never shared by two runs."""

import shlex
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import setup_globals
from omegaconf import OmegaConf

import assist.config  # noqa: F401  (registers the resolvers, as every entry point does)
from assist.cli import CONFIG_DIR
from assist.rundirs import MAX_NAME_BYTES, fresh_dir, path_name


@pytest.fixture
def same_second(tmp_path, monkeypatch):
    """Compose (primary, overrides) -> the hydra node, as if every run started in the same
    second (Hydra's ``now`` resolver fixed), working under ``tmp_path``."""
    monkeypatch.chdir(tmp_path)

    def hydra_config(primary, overrides):
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            OmegaConf.register_new_resolver("now", lambda pattern: "2030-01-01_00-00-00", replace=True)
            return compose(config_name=primary, overrides=overrides, return_hydra_config=True).hydra

    yield hydra_config
    setup_globals()  # Hydra's own ``now`` again


@pytest.mark.parametrize("primary", ["train", "evaluate"])
def test_runs_started_in_the_same_second_with_the_same_overrides_get_their_own_directories(same_second, primary):
    first = same_second(primary, ["seed=3"])
    second = same_second(primary, ["seed=3"])
    assert first.run.dir == f"runs/{primary}/2030-01-01_00-00-00_seed-3"
    assert second.run.dir == first.run.dir + "_2"
    assert Path(first.run.dir).is_dir() and Path(second.run.dir).is_dir()
    assert not Path(first.run.dir + "_3").exists()  # reading a key again claims nothing new
    assert first.sweep.dir != second.sweep.dir


def test_an_override_with_a_path_stays_in_one_directory_name(same_second):
    run_dir = Path(same_second("evaluate", ["assistant=assistancezero", "assistant.params.run=runs/train/x"]).run.dir)
    assert run_dir.parent == Path("runs/evaluate")
    assert run_dir.name == "2030-01-01_00-00-00_assistant.params.run-runs-train-x_assistant-assistancezero"


def pastes_unquoted(run_dir: str) -> bool:
    """Whether ``run_dir`` is read back as itself from an override and from a shell line."""
    parsed = [OverridesParser.create().parse_override(f"{key}={run_dir}").value() for key in ("assistant.params.run", "hydra.run.dir")]
    return parsed == [run_dir, run_dir] and shlex.split(run_dir) == [run_dir]


@pytest.mark.parametrize("primary", ["train", "evaluate", "play"])
def test_a_run_directory_is_named_key_value_and_pastes_unquoted_into_an_override(same_second, primary):
    run_dir = same_second(primary, ["env.preset=tiny", "seed=0"]).run.dir
    assert run_dir == f"runs/{primary}/2030-01-01_00-00-00_env.preset-tiny_seed-0"
    assert pastes_unquoted(run_dir)


def test_lists_dicts_quotes_and_paths_in_overrides_name_a_directory_that_pastes_unquoted(same_second):
    overrides = [
        "assistant=assistancezero",
        "human=bc",
        "baselines=[noop,oracle]",
        "assistant.params.search={reuse_subtree:true,num_simulations:4}",
        "human.params.path='/tmp/a b=c, (d)'",
        "assistant.params.simulations=8",
    ]
    run_dir = same_second("evaluate", overrides).run.dir
    assert run_dir == (
        "runs/evaluate/2030-01-01_00-00-00_assistant.params.search-reuse_subtree-true-num_simulations-4_"
        "assistant.params.simulations-8_assistant-assistancezero_baselines-noop-oracle_human.params.path--tmp-a-b-c-d_human-bc"
    )
    assert pastes_unquoted(run_dir)


@pytest.mark.parametrize("text", ["a=b,c=d", "é/ü", "x:{y}", "$HOME;rm *", "a\tb", "~a=[1, 2]", "--" * 150])
def test_any_text_becomes_a_name_that_pastes_unquoted(text):
    assert pastes_unquoted("runs/train/2030-01-01_00-00-00_" + path_name(text))


def test_long_names_are_cut_but_stay_distinct():
    a, b = path_name("x" * 500 + "a"), path_name("x" * 500 + "b")
    assert len(a.encode()) <= MAX_NAME_BYTES and len(b.encode()) <= MAX_NAME_BYTES
    assert a != b
    assert path_name("é" * 300) == "-"  # one file-system-safe character for a run of unsafe ones


def test_parallel_claims_of_one_path_get_distinct_directories(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        claimed = list(pool.map(lambda _: fresh_dir(str(tmp_path / "runs" / "same")), range(8)))
    assert len(set(claimed)) == 8
    assert sorted(Path(p).name for p in claimed) == sorted(["same"] + [f"same_{n}" for n in range(2, 9)])
