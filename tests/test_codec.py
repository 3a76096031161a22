"""The text codec: actions to strings and back, prompts, clear refusals."""

import numpy as np
import pytest

import envs.building as build
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
