"""What a training run writes for TensorBoard, read back with TensorBoard's own reader."""

import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from assist.cli import CONFIG_DIR
from assist.cli.train import run
from assist.logger import SCALAR_PREFIXES, LoggerConfig, RunLogger

KITCHEN = ["env=kitchen", "human=model", "model=tiny", "algo.iterations=2", "algo.envs=4", "algo.rollout=4", "algo.eval_every=1", "algo.eval_episodes=4"]
"""Horizon 4: self-play episodes end within an iteration, so charts/ has points."""
ALGOS = {
    "assistancezero": ["algo=assistancezero", "algo.sequence=2", "algo.batch=4", "algo.updates=2", "algo.eval_simulations=2", "search.num_simulations=3", "search.max_children=4"],
    "ppo": ["algo=ppo", "algo.epochs=1", "algo.minibatches=2"],
}
STEPS = {4 * 4, 2 * 4 * 4}
"""The env steps after each of the two iterations (4 games x 4 steps each)."""
EVERY_KEY = {
    ("build", "assistancezero"): ["experiment=smoke", "env.horizon=8", "algo.goal_envs=2", "algo.grad_terms_every=1"],
    ("build", "ppo"): ["experiment=smoke", "env.horizon=8", "algo=ppo", "algo.epochs=1", "algo.minibatches=2", "algo.grad_terms_every=1"],
    ("kitchen", "assistancezero"): KITCHEN + ALGOS["assistancezero"] + ["algo.goal_envs=2", "algo.grad_terms_every=1"],
    ("kitchen", "ppo"): KITCHEN + ALGOS["ppo"] + ["algo.grad_terms_every=1"],
}
"""Tiny runs that log every key docs/training.md names for their game and algorithm (episodes
end in each iteration; goal games on; trunk gradients every iteration)."""
KEYS_PAGE = Path(__file__).parents[1] / "docs" / "training.md"
"""The page whose TensorBoard table names every scalar key (the README links to it)."""
CLAUSE_LABELS = {
    "both games": "all",
    "both algorithms": "all",
    "`kitchen` also": "kitchen",
    "`build` also": "build",
    "AssistanceZero": "assistancezero",
    "PPO": "ppo",
}
"""How a clause of a keys cell of the table starts (``label: keys``), and what it is for."""


def train(tmp_path, overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    run(cfg, tmp_path, progress=False)
    events = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    return events


@pytest.mark.parametrize("algo", ALGOS)
def test_one_event_file_holds_scalars_by_prefix_a_transcript_a_picture_and_hparams(tmp_path, algo):
    events = train(tmp_path, KITCHEN + ALGOS[algo])
    assert [p.name for p in tmp_path.rglob("events.out.tfevents.*")] == [next(tmp_path.glob("events.out.tfevents.*")).name]
    tags = events.Tags()
    prefixes = {tag.split("/")[0] for tag in tags["scalars"]}
    assert prefixes <= set(SCALAR_PREFIXES), prefixes - set(SCALAR_PREFIXES)
    assert prefixes == set(SCALAR_PREFIXES) - ({"search"} if algo == "ppo" else set())
    for tag in tags["scalars"]:
        if not tag.startswith("hparams/"):
            assert {e.step for e in events.Scalars(tag)} <= STEPS, tag  # against env steps
    assert {e.step for e in events.Scalars("eval/goal_pct")} == STEPS

    transcript = events.Tensors("eval/transcript/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert "human_0:" in transcript and "assistant_0:" in transcript
    picture = events.Images("eval/final_state")[-1]
    assert picture.step == max(STEPS) and picture.width > 0 and picture.height > 0

    hparams = {tag: HParamsPluginData.FromString(content) for tag, content in events.PluginTagToContent("hparams").items()}
    session = hparams["_hparams_/session_start_info"].session_start_info
    assert session.hparams["algo.name"].string_value == algo and session.hparams["seed"].number_value == 0
    metrics = {info.name.tag for info in hparams["_hparams_/experiment"].experiment.metric_infos}
    assert {"hparams/goal_pct", "hparams/return"} <= metrics <= set(tags["scalars"])


def documented_keys(game: str, algo: str) -> set[str]:
    """The scalar keys the TensorBoard table of docs/training.md names for ``game`` and ``algo``, as
    regular expressions (``trunk_grad_<term>``: any term)."""
    rows = {m[1]: (m[2], m[3]) for m in re.finditer(r"^\| `(\w+)/` \| ([^|]*) \| ([^|]*) \|$", KEYS_PAGE.read_text(), re.M)}
    assert set(rows) == set(SCALAR_PREFIXES), "the table of docs/training.md has a row per prefix of SCALAR_PREFIXES"

    def keys(prefix: str) -> set[str]:
        what, cell = rows[prefix]
        if "AssistanceZero only" in what and algo != "assistancezero":
            return set()
        names = set()
        for clause in cell.split("; "):
            label = next((label for label in CLAUSE_LABELS if clause.startswith(label + ": ")), None)
            if CLAUSE_LABELS.get(label, "all") not in ("all", game, algo):
                continue
            for word in re.findall(r"`([^`]+)`", clause[len(label) + 2 :] if label else clause):
                if re.fullmatch(r"\w+/", word):  # "the `charts/` keys"
                    names |= {name.split("/", 1)[1] for name in keys(word[:-1])}
                elif re.fullmatch(r"[\w<>]+", word):  # not a setting such as `algo.goal_envs`
                    names.add(word)
        return {f"{prefix}/{name}" for name in names}

    return {re.sub("<term>", r"\\w+", key) for prefix in rows for key in keys(prefix)}


@pytest.mark.parametrize("game, algo", EVERY_KEY)
def test_the_documented_table_names_exactly_the_scalars_a_run_logs(tmp_path, game, algo):
    logged = set(train(tmp_path, EVERY_KEY[game, algo]).Tags()["scalars"])
    named = documented_keys(game, algo)
    assert not {key for key in named if not any(re.fullmatch(key, tag) for tag in logged)}, "named in docs/training.md, never logged"
    assert not {tag for tag in logged if not any(re.fullmatch(key, tag) for key in named)}, "logged, not in the table of docs/training.md"


def test_with_tensorboard_off_nothing_is_written(tmp_path):
    logger = RunLogger(tmp_path, LoggerConfig(tensorboard=False))
    logger.scalars("losses", {"total": 1.0}, 1)
    logger.text("eval/transcript", "text", 1)
    logger.hparams({"seed": 0}, {"hparams/goal_pct": 1.0})
    logger.close()
    assert list(tmp_path.iterdir()) == []


def test_flush_secs_must_be_positive():
    with pytest.raises(ValueError, match="flush_secs"):
        LoggerConfig(flush_secs=0)
