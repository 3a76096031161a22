"""The play page end to end in headless Chromium (Debian's ``chromium``, driven by Playwright):
load it, watch the assistant act alone, play with keys, mouse and the text box, save the
recording and replay it; the 3-D view draws what the server sends (a screenshot of it is
docs/view3d.png, made as docs/README.md says); a study participant joins from the start page."""

from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

import envs.building as build
import envs.kitchen
from assist import recording
from assist.registry import make_player
from assist.ui import study_log
from assist.ui.server import PlayServer
from assist.ui.session import Session
from assist.ui.study import Study
from assist.ui.study_server import StudyServer
from envs.building.core import MOVE_NAMES
from envs.core import ASSISTANT, HUMAN
from tests.support import picture_path

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed: run `bash scripts/setup_browser.sh` as root", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency: pip install -e '.[dev]'")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-unsafe-swiftshader",  # WebGL (the 3-D view) on Chromium's software renderer: there is no GPU
]
MOVE_KEYS = {"+x": "d", "-x": "a", "+z": "w", "-z": "s", "+y": "e", "-y": "q"}
"""The page's movement keys (static/app.js)."""
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.close()
    assert not errors, f"the page raised: {errors}"


def seed_with_a_big_goal(core, blocks):
    """The first session seed whose first episode's goal has at least ``blocks`` blocks
    (so the assistant cannot finish before the test has played)."""
    for seed in range(100):
        episode_seed = int(np.random.default_rng(seed).integers(0, 2**62))
        if (core.reset(1, np.random.default_rng(episode_seed)).goal[0] > 1).sum() >= blocks:
            return seed
    raise AssertionError("no goal that big in 100 seeds")


def wait_for_message(page, start):
    page.wait_for_function(f"document.getElementById('message').textContent.startsWith({start!r})")


def test_a_person_builds_beside_a_live_assistant_and_saves_a_replayable_recording(page, tmp_path):
    core = build.make_core("small", goal_split="test")
    seats = {HUMAN: None, ASSISTANT: make_player("oracle", core, ASSISTANT)}
    session = Session(core, seats, seed=seed_with_a_big_goal(core, 20))
    server = PlayServer(session, HUMAN, tmp_path / "recording.jsonl", port=0, tick_ms=150).start()
    try:
        page.goto(server.url)
        page.wait_for_function("window.lastState && window.lastState.clock === 'waiting'")
        assert page.evaluate("window.lastState.t") == 0  # the clock waits for the person
        page.click("#start")
        # the assistant acts while the person does nothing: blocks appear above the floor
        page.wait_for_function("window.lastState && window.lastState.world.some((b, v) => b > 1)")
        state = page.evaluate("window.lastState")
        assert state["goal"] is not None and state["last"][HUMAN]["action"] == "noop"

        names = core.action_names(HUMAN)
        move = next(a for a in state["legal"] if 1 <= a <= 6)
        page.keyboard.press(MOVE_KEYS[MOVE_NAMES[move - 1]])
        wait_for_message(page, "queued: move")

        state = page.evaluate("window.lastState")
        block = page.evaluate("info.build.placeable[0]")
        goal, world = np.array(state["goal"]), np.array(state["world"])
        places = [a for a in state["legal"] if names[a].startswith(f"place {block} ")]
        # a voxel where the goal wants air, so the oracle never places there first
        target = next(a for a in places if goal[(a - 7) % core.V] == 0 and world[(a - 7) % core.V] == 0)
        x, y, z = map(int, names[target].split()[-3:])
        point = page.evaluate(f"cellCenter({x}, {y}, {z})")
        page.mouse.click(point["x"], point["y"])
        assert page.evaluate("[cursor.x, cursor.y, cursor.z]") == [x, y, z]
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        wait_for_message(page, f"queued: place {block} {x} {y} {z}")

        page.fill("#text-action", "dance")
        page.press("#text-action", "Enter")
        wait_for_message(page, "'dance' is not an action")
        page.fill("#text-action", "noop")
        page.press("#text-action", "Enter")
        wait_for_message(page, "queued: noop")

        page.wait_for_function("window.lastState.queued.length === 0")
        page.click("#save")
        page.wait_for_function("document.getElementById('saved').textContent.startsWith('saved 1 episode')")
        assert str(tmp_path / "recording.jsonl") in page.inner_text("#saved")
    finally:
        server.stop()

    saved = recording.read(tmp_path / "recording.jsonl")
    (episode,) = saved.episodes
    human = episode["actions"][:, 0].tolist()
    assert move in human and target in human and human.index(move) < human.index(target)
    assert (episode["actions"][:, 1] != 0).any()
    assert recording.replay(core, episode) == pytest.approx(episode["metrics"])
    replayed = recording.replay_state(core, episode)
    assert replayed.t[0] == len(human) and (replayed.world[0] > 1).sum() > 0


DRAWN_AS_SENT = """() => {
  const s = window.lastState, count = (f) => s.world.filter((b, v) => f(b, v)).length;
  return view3d.key === `${s.episode}:${s.t}` && view3d.blocks === count((b) => b > 1)
    && view3d.blueprint === (s.goal ? count((b, v) => b === 0 && s.goal[v] > 1) : 0);
}"""
"""Whether the 3-D view shows the last state the page fetched: its step, a cube per block, a
blueprint cube per goal voxel still to build (none without a goal)."""


def test_the_3d_view_redraws_each_step_of_a_game_played_through_the_server(page, tmp_path):
    core = build.make_core("small", goal_split="test")
    seats = {HUMAN: None, ASSISTANT: make_player("oracle", core, ASSISTANT)}
    server = PlayServer(Session(core, seats, seed=seed_with_a_big_goal(core, 20)), HUMAN, tmp_path / "recording.jsonl", port=0, tick_ms=150).start()
    try:
        page.goto(server.url)
        page.wait_for_function("window.view3d && view3d.key === '0:0'")
        assert page.evaluate(DRAWN_AS_SENT) and page.evaluate("view3d.blocks") == 0 and page.evaluate("view3d.blueprint") >= 20
        legend = page.inner_text("#legend3d")
        assert all(name in legend.split("\n") for name in page.evaluate("info.build.placeable"))  # a colour per block
        assert "human (you)" in legend and "goal (blueprint)" in legend
        page.click("#start")
        for _ in range(3):  # move, as a person would, while the assistant builds
            move = next(a for a in page.evaluate("lastState.legal") if 1 <= a <= 6)
            page.keyboard.press(MOVE_KEYS[MOVE_NAMES[move - 1]])
            wait_for_message(page, "queued: move")
        page.wait_for_function("window.lastState.queued.length === 0 && lastState.t >= 8 && view3d.blocks > 0")
        page.wait_for_function(DRAWN_AS_SENT)
        path = picture_path(tmp_path, "view3d.png")
        page.locator("#world3d").screenshot(path=path)
    finally:
        server.stop()
    picture = matplotlib.image.imread(path)[..., :3]  # [H, W, 3] floats in [0, 1]: the 520 x 380 canvas and its border
    assert picture.shape[0] >= 380 and picture.shape[1] >= 520
    colours = {tuple(c) for c in (picture.reshape(-1, 3) * 8).astype(int)}
    assert picture.std() > 0.05 and len(colours) > 20  # drawn: shaded cubes, players, floor; not a blank canvas


def test_the_assistants_3d_view_has_no_blueprint(page, tmp_path):
    core = build.make_core("small", goal_split="test")
    seats = {HUMAN: make_player("greedy", core, HUMAN), ASSISTANT: None}
    server = PlayServer(Session(core, seats, seed=0), ASSISTANT, tmp_path / "recording.jsonl", port=0).start()
    try:
        page.goto(server.url)
        page.wait_for_function("window.view3d && view3d.key === '0:0'")
        assert page.evaluate(DRAWN_AS_SENT) and page.evaluate("view3d.blueprint") == 0
        assert "assistant (you)" in page.inner_text("#legend3d") and "goal" not in page.inner_text("#legend3d")
    finally:
        server.stop()


def test_a_kitchen_game_is_played_with_the_legal_action_buttons_and_the_text_box(page, tmp_path):
    core = envs.kitchen.make_core("cake_or_pie", horizon=40)  # long enough not to end while the test plays
    seats = {HUMAN: make_player("model", core, HUMAN), ASSISTANT: None}
    server = PlayServer(Session(core, seats, seed=0), ASSISTANT, tmp_path / "recording.jsonl", port=0, tick_ms=200).start()
    try:
        page.goto(server.url)
        page.click("#start")
        page.wait_for_function("window.lastState && document.querySelectorAll('#buttons button').length > 0")
        assert page.evaluate("window.lastState.goal === undefined && window.lastState.metrics === null")
        assert "goal=" not in page.inner_text("#text")
        assert not page.is_visible("#board") and not page.is_visible("#view3d")  # no empty world panel
        hint = page.get_attribute("#text-action", "placeholder")
        assert hint.split(", ")[0] == core.action_names(ASSISTANT)[0] and "place" not in hint  # the kitchen's own actions
        button = page.locator("#buttons button").last
        word = button.inner_text()
        button.click()
        wait_for_message(page, f"queued: {word}")
        wait = core.action_names(ASSISTANT)[0]  # the kitchen's no-op, typed
        page.fill("#text-action", wait.upper())
        page.press("#text-action", "Enter")
        wait_for_message(page, f"queued: {wait}")
        page.wait_for_function("window.lastState.queued.length === 0")
    finally:
        server.stop()
    (episode,) = server.session.episodes()
    assert core.action_names(ASSISTANT).index(word) in np.array(episode["actions"])[:, 1].tolist()


def test_a_participant_joins_a_study_from_the_start_page_and_plays_to_the_end(browser, page, tmp_path):
    core = build.make_core("tiny", goal_split="test", horizon=10)

    def condition(assistant):
        return lambda seed: (Session(core, {HUMAN: None, ASSISTANT: make_player(assistant, core, ASSISTANT)}, seed=seed), HUMAN)

    study = Study({"oracle": condition("oracle"), "noop": condition("noop")}, tmp_path / "study", max_sessions=1, tick_ms=100)
    server = StudyServer(study, port=0).start()
    other = browser.new_page()
    try:
        page.goto(server.url)
        page.wait_for_selector("input[name=condition][value=noop]")
        assert page.inner_text("#slots") == "1 of 1 sessions free"
        page.fill("#participant", "P07")
        page.check("input[name=condition][value=noop]")
        page.set_viewport_size({"width": 640, "height": 320})
        page.screenshot(path=picture_path(tmp_path, "study-start.png"))  # docs/study-mode.md shows it
        page.click("#join")
        page.wait_for_function("window.lastState && window.lastState.clock === 'waiting'")
        assert "participant P07" in page.inner_text("#seat") and page.is_hidden("#save") and page.is_hidden("#new-episode")
        other.goto(server.url)  # a second participant while the one slot is taken
        assert "Every session of this study is taken" in other.inner_text("h2")
        page.click("#start")
        page.wait_for_function("document.getElementById('status').textContent.startsWith('the session is over')")
    finally:
        other.close()
        server.stop()
    (line,) = study_log.read(tmp_path / "study" / "sessions.jsonl")
    assert (line["participant"], line["condition"], line["ended"], line["length"]) == ("P07", "noop", "finished", 10)
