"""A study's registry of sessions: bounded, expiring, isolated, safe to join and end from
many threads; its sessions log and the summary per condition (over HTTP: test_study_server.py)."""

import threading

import pytest

import envs.building as build
from assist import recording
from assist.registry import make_player
from assist.ui import study_log
from assist.ui.session import Session
from assist.ui.study import Study, StudyError, StudyFull
from envs.core import ASSISTANT, HUMAN


class Clock:
    """A study clock the test moves by hand (seconds)."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def core():
    return build.make_core("tiny", goal_split="test", horizon=6)


def condition(core, assistant):
    return lambda seed: (Session(core, {HUMAN: None, ASSISTANT: make_player(assistant, core, ASSISTANT)}, seed=seed), HUMAN)


@pytest.fixture
def make_study(core, tmp_path):
    studies = []

    def make(**options):
        options = {"max_sessions": 2, "idle_s": 60.0, "tick_ms": 60_000, "clock": Clock(), **options}  # no tick on its own: tests tick
        study = Study({"oracle": condition(core, "oracle"), "noop": condition(core, "noop")}, tmp_path / "study", **options)
        studies.append(study)
        return study

    yield make
    for study in studies:
        study.close()


def play_to_the_end(entry):
    while entry.app.session.tick() is not None:
        pass


def test_no_more_than_max_sessions_run_and_one_that_ends_frees_its_slot(make_study):
    study = make_study(max_sessions=2)
    first, _ = study.join("P01", "oracle"), study.join("P02", "noop")
    with pytest.raises(StudyFull, match="all 2 sessions of this study are taken"):
        study.join("P03", "oracle")
    play_to_the_end(first)
    assert study.sweep() == [first] and first.ended == "finished" and study.free() == 1
    assert study.join("P03", "oracle").participant == "P03"


def test_a_session_whose_page_is_gone_for_idle_s_expires_and_is_forgotten_later(make_study):
    study = make_study(idle_s=60.0)
    entry = study.join("P01", "oracle")
    study.clock.now = 59.0
    study.seen(entry)  # the page asked for the state
    study.clock.now = 110.0
    assert study.sweep() == [] and entry.ended is None
    study.clock.now = 120.0
    assert study.sweep() == [entry] and entry.ended == "expired" and study.free() == 2
    assert study.find(entry.token) is entry  # its page can still show the end
    study.clock.now = 181.0
    study.sweep()
    with pytest.raises(KeyError):
        study.find(entry.token)


def test_sessions_have_their_own_game_clock_and_recording(make_study):
    study = make_study()
    one, two = study.join("P01", "noop"), study.join("P02", "noop")
    assert one.app.session is not two.app.session and one.app.ticker is not two.app.ticker and one.token != two.token
    move = int(one.app.session.legal(HUMAN)[1:7].nonzero()[0][0] + 1)
    one.app.act({"action": move})
    study.begin(one)
    assert one.app.ticker.clock() == "running" and two.app.ticker.clock() == "waiting"
    one.app.session.tick()
    assert one.app.session.snapshot().last.actions[0] == move and two.app.session.snapshot().last is None
    study.sweep()  # saves the recordings that grew
    assert [e["actions"] for e in recording.read(one.recording).episodes][0].tolist() == [[move, 0]]
    assert recording.read(two.recording).episodes == []  # the header only: no step yet
    assert {one.recording.name, two.recording.name} == {"P01__noop.jsonl", "P02__noop.jsonl"}


def test_an_unknown_condition_or_a_bad_participant_id_is_refused_with_the_valid_choices(make_study):
    study = make_study()
    with pytest.raises(StudyError, match=r"no condition 'pizza'; the conditions are \['oracle', 'noop'\]"):
        study.join("P01", "pizza")
    for bad in ("../P01", "P 01", "x" * 41):
        with pytest.raises(StudyError, match="letters, digits"):
            study.join(bad, "oracle")
    assert study.free() == 2  # nothing was reserved


def test_participants_without_an_id_are_numbered(make_study):
    study = make_study()
    assert [study.join(None, "oracle").participant, study.join("", "noop").participant] == ["p001", "p002"]


def test_a_participant_plays_each_condition_once_also_in_a_study_continued_in_the_same_folder(make_study):
    study = make_study()
    study.join("P01", "oracle")
    with pytest.raises(StudyError, match="has played condition 'oracle' already"):
        study.join("P01", "oracle")
    study.close()
    again = make_study()
    with pytest.raises(StudyError, match="has played condition 'oracle' already"):
        again.join("P01", "oracle")
    assert again.join("P01", "noop").condition == "noop"


def test_balanced_assignment_gives_the_least_played_condition_the_participant_has_not_played(make_study):
    study = make_study(assign="balanced", max_sessions=8)
    assert [study.join(f"P0{i}").condition for i in range(3)] == ["oracle", "noop", "oracle"]
    assert study.join("P00").condition == "noop"  # P00 played oracle
    with pytest.raises(StudyError, match="has played every condition"):
        study.join("P00")
    with pytest.raises(StudyError, match="assigns the conditions"):
        study.join("P09", "oracle")


def test_the_kth_session_of_each_condition_plays_the_same_seed(make_study):
    study = make_study(max_sessions=3)
    entries = [study.join("P01", "oracle"), study.join("P02", "noop"), study.join("P03", "oracle")]
    for entry in entries:
        entry.app.session.tick()
    study.sweep()
    seeds = [recording.read(entry.recording).episodes[0]["seed"] for entry in entries]
    assert seeds[0] == seeds[1] != seeds[2]


def test_joins_from_many_threads_never_exceed_the_bound_and_get_distinct_ids(make_study):
    study = make_study(max_sessions=3)
    joined, refused, barrier = [], [], threading.Barrier(8)

    def join():
        barrier.wait()
        try:
            joined.append(study.join(None, "noop"))
        except StudyFull:
            refused.append(True)

    threads = [threading.Thread(target=join) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(joined) == 3 and len(refused) == 5
    assert len({entry.participant for entry in joined}) == 3 and len({entry.recording for entry in joined}) == 3


def test_sessions_ended_from_many_threads_are_logged_once_each(make_study):
    study = make_study(max_sessions=4)
    entries = [study.join(f"P0{i}", "noop") for i in range(4)]
    for entry in entries[:3]:
        play_to_the_end(entry)
    barrier = threading.Barrier(4)
    threads = [threading.Thread(target=lambda: (barrier.wait(), study.sweep())) for _ in range(3)]
    threads.append(threading.Thread(target=lambda: (barrier.wait(), study.close())))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = study_log.read(study.log_path)
    assert sorted(line["participant"] for line in lines) == ["P00", "P01", "P02", "P03"]
    assert {line["participant"]: line["ended"] for line in lines} == {entry.participant: entry.ended for entry in entries}  # whichever ended it


def test_the_log_line_of_a_finished_session_and_the_summary_per_condition(make_study):
    study = make_study()
    entry = study.join("P01", "oracle")
    study.clock.now = 5.0
    study.begin(entry)
    play_to_the_end(entry)
    study.clock.now = 12.5
    study.sweep()
    (line,) = study_log.read(study.log_path)
    rec = recording.read(entry.recording)
    assert line["participant"] == "P01" and line["condition"] == "oracle" and line["ended"] == "finished"
    assert line["duration_s"] == 7.5 and line["recording"] == "recordings/P01__oracle.jsonl"
    assert line["goal_pct"] == rec.episodes[0]["metrics"]["goal_pct"] and line["length"] == 6
    table = study_log.summary_table([line, {**line, "participant": "P02", "goal_pct": 50.0}, {**line, "condition": "noop", "ended": "expired"}])
    assert f"| oracle | 2 | {(line['goal_pct'] + 50) / 2:.2f} (n=2: too few for an interval) |" in table
    assert table.splitlines()[-1].startswith("| noop | 0 |") and table.endswith("| 1 |")  # none finished, one expired
    with pytest.raises(ValueError, match=r"metric\(s\) \['speed'\] are in no session line"):
        study_log.summary_table([line], ["speed"])
