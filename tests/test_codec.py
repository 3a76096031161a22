"""The text codec: actions to strings and back, prompts, clear refusals."""

import numpy as np
import pytest

import envs.building as build
from envs.building.blocks import FIRST_PLACEABLE
from envs.building.core import FIRST_PLACE
from envs.codec import TextCodec
from envs.core import ASSISTANT, HUMAN, ActionParseError


@pytest.fixture(scope="module")
def codec():
    return TextCodec(build.make_core("tiny", chat=True))


@pytest.mark.parametrize("seat", [HUMAN, ASSISTANT])
def test_every_action_round_trips(codec, seat):
    for action in range(codec.core.num_actions(seat)):
        assert codec.parse(seat, codec.action_text(seat, action)) == action


def test_parse_ignores_case_and_spacing(codec):
    assert codec.parse(HUMAN, "  PLACE   dirt 2 1 2 ") == codec.parse(HUMAN, "place dirt 2 1 2")


@pytest.mark.parametrize("text, reason", [("", "empty"), ("jump", "not an action"), ("place dirt 9 9 9", "did you mean"), (7, "string")])
def test_parse_rejects_non_actions_with_a_reason(codec, text, reason):
    with pytest.raises(ActionParseError, match=reason):
        codec.parse(HUMAN, text)


def test_the_assistant_cannot_say_things(codec):
    with pytest.raises(ActionParseError):
        codec.parse(ASSISTANT, "say wrong")


def test_prompts_show_the_goal_only_to_the_human(codec):
    core = codec.core
    state = core.reset(1, np.random.default_rng(0))
    human = codec.prompt({k: v[0] for k, v in core.observe(state, HUMAN).items()}, HUMAN)
    assistant = codec.prompt({k: v[0] for k, v in core.observe(state, ASSISTANT).items()}, ASSISTANT)
    assert "goal:" in human and "goal:" not in assistant
    assert "human did: nothing yet" in assistant and "human said: nothing" in assistant


def three_steps_prompt(**options) -> str:
    """The assistant's prompt after three steps of a tiny game in which both seats place a block each step."""
    core = build.make_core("tiny", **options)
    state = core.reset(1, np.random.default_rng(0))
    for _ in range(3):
        places = [np.flatnonzero(core.legal_mask(state, agent)[0, FIRST_PLACE : core.first_break]) + FIRST_PLACE for agent in (HUMAN, ASSISTANT)]
        core.step(state, np.array([[legal[len(legal) // 2] for legal in places]]))
    return TextCodec(core).prompt({k: v[0] for k, v in core.observe(state, ASSISTANT).items()}, ASSISTANT)


def test_the_default_prompt_is_the_v1_format_every_earlier_run_trained_with():
    v1 = (
        "step 3/60; world 5 4 5; reach 3\nyou (assistant_0) at 3 1 4; other at 4 1 1\n"
        "blocks: cobblestone: 0 1 4, 1 1 1, 1 1 2, 1 1 3, 2 1 0, 2 1 1\n"
        "human did: place cobblestone 1 1 1, place cobblestone 2 1 0, place cobblestone 2 1 1"
    )  # what the code before the v2 format wrote
    assert three_steps_prompt() == three_steps_prompt(prompt="v1") == v1


def test_the_v2_prompt_says_who_placed_each_block_and_the_step_of_each_human_action_oldest_first():
    assert three_steps_prompt(prompt="v2").splitlines()[2:] == [
        "human blocks: cobblestone: 1 1 1, 2 1 0, 2 1 1",
        "assistant blocks: cobblestone: 0 1 4, 1 1 2, 1 1 3",
        "human did: step 0: place cobblestone 1 1 1; step 1: place cobblestone 2 1 0; step 2: place cobblestone 2 1 1",
    ]


def test_the_v2_prompt_lists_blocks_nobody_placed_apart_and_says_when_the_human_did_nothing():
    core = build.make_core("tiny", prompt="v2", chat=True)
    observation = {k: v[0] for k, v in core.observe(core.reset(1, np.random.default_rng(0)), ASSISTANT).items()}
    lines = TextCodec(core).prompt(observation, ASSISTANT).splitlines()
    assert lines[2:] == ["human blocks: none", "assistant blocks: none", "human did: nothing yet", "human said: nothing"]
    observation["world"][0, 1, 1, 1] = FIRST_PLACEABLE  # a block in a world that started with one (touched stays 0)
    assert "blocks: dirt: 1 1 1" in TextCodec(core).prompt(observation, ASSISTANT).splitlines()


def test_an_unknown_prompt_format_is_refused_with_the_formats():
    with pytest.raises(ValueError, match=r"prompt='v9' is not a prompt format; use one of \['v1', 'v2'\]"):
        build.make_core("tiny", prompt="v9")
