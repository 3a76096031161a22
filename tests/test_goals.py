"""Tests of envs/building/goals/: generator validity, determinism, variety, split, files."""

import io
import json
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.building.blocks import AIR, BEDROCK, BLOCK_NAMES
from envs.building.goals import (
    FAMILIES,
    FULL_RANGES,
    MIN_SHAPE,
    SPLITS,
    GoalGenerator,
    UnsupportedGoalError,
    load_goals,
    novel_goals,
    save_goals,
    split_overlap,
    validate_goal,
)
from envs.building.goals import files as goal_files

TINY, MBAG = (5, 4, 5), (11, 10, 10)
SHAPES = [TINY, (6, 5, 6), (7, 6, 7), (9, 8, 9), MBAG, (5, 10, 11), (12, 4, 5)]


def supported(goal: np.ndarray) -> bool:
    """Whether every non-air block reaches the floor through face-adjacent non-air blocks."""
    solid = goal != AIR
    reached = np.zeros_like(solid)
    reached[:, 0, :] = solid[:, 0, :]
    while True:
        grown = reached.copy()
        for axis in range(3):
            grown |= np.roll(reached, 1, axis) | np.roll(reached, -1, axis)
        grown &= solid
        if (grown == reached).all():
            return bool((reached == solid).all())
        reached = grown


def house_goal(shape=(7, 6, 7), num_block_types=10) -> np.ndarray:
    return FAMILIES["house"](np.random.default_rng(0), shape, num_block_types)


# ----------------------------------------------------------------------------- generators


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_makes_valid_supported_goals_on_every_shape(family):
    for shape in SHAPES:
        for num_block_types in (3, 4, 5, 10):
            for seed in range(8):
                goal = FAMILIES[family](np.random.default_rng(seed), shape, num_block_types)
                assert goal.shape == shape and goal.dtype == np.uint8
                validate_goal(goal, num_block_types)
                assert supported(goal)


@settings(max_examples=80, deadline=None)
@given(
    w=st.integers(MIN_SHAPE[0], 13),
    h=st.integers(MIN_SHAPE[1], 12),
    d=st.integers(MIN_SHAPE[2], 13),
    num_block_types=st.integers(3, len(BLOCK_NAMES)),
    split=st.sampled_from(list(SPLITS)),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_sample_is_a_valid_goal(w, h, d, num_block_types, split, seed):
    goals = GoalGenerator((w, h, d), num_block_types, split).sample(np.random.default_rng(seed), 6)
    assert goals.shape == (6, w, h, d) and goals.dtype == np.uint8
    for goal in goals:
        validate_goal(goal, num_block_types)


def test_sample_is_deterministic_given_the_seed():
    generator = GoalGenerator(MBAG, 10, "all")
    first = generator.sample(np.random.default_rng(7), 12)
    second = generator.sample(np.random.default_rng(7), 12)
    assert np.array_equal(first, second)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_different_seeds_give_different_goals(family):
    goals = {FAMILIES[family](np.random.default_rng(seed), (9, 8, 9), 10).tobytes() for seed in range(20)}
    assert len(goals) >= 15


def test_sample_mixes_families_and_materials():
    goals = GoalGenerator(MBAG, 10, "all").sample(np.random.default_rng(0), 40)
    assert len({g.tobytes() for g in goals}) == 40
    assert len(np.unique(goals)) >= 7


def test_sample_of_zero_goals_is_empty():
    assert GoalGenerator(TINY, 4).sample(np.random.default_rng(0), 0).shape == (0, *TINY)


def test_glass_is_used_only_for_windows_when_the_palette_has_it():
    glass = BLOCK_NAMES.index("glass")
    houses = GoalGenerator(MBAG, 10, "all", families="house").sample(np.random.default_rng(0), 10)
    walls = GoalGenerator(MBAG, 10, "all", families=["wall", "pyramid"]).sample(np.random.default_rng(0), 30)
    assert (houses == glass).any(axis=(1, 2, 3)).all()
    assert not (walls == glass).any()


def test_too_small_world_is_rejected_with_the_minimum():
    with pytest.raises(ValueError, match=r"MIN_SHAPE = \(5, 4, 5\)"):
        GoalGenerator((4, 4, 4), 4)


def test_bad_params_range_is_rejected_with_the_expected_keys():
    with pytest.raises(ValueError, match=r"\['height'\]"):
        FAMILIES["tower"](np.random.default_rng(0), MBAG, 10, {"size": (0.0, 1.0)})


# ----------------------------------------------------------------------------- split


def test_held_out_families_are_never_in_train():
    held_out = set(SPLITS["test"]) - set(SPLITS["train"])
    assert held_out == {"bridge", "furniture"}
    for split in ("train", "train_wide", "test"):
        assert set(SPLITS[split]) <= set(FAMILIES)
    assert not held_out & set(SPLITS["train_wide"])
    assert SPLITS["train_wide"] == {**SPLITS["train"], "random": {"size": (0.0, 0.5)}}
    assert SPLITS["all"] == FULL_RANGES


@pytest.mark.parametrize("shape", SHAPES)
def test_random_structures_keep_to_their_size_range(shape):
    interior = (shape[0] - 2) * (shape[1] - 2) * (shape[2] - 2)
    rng = np.random.default_rng(0)
    for lo, hi in ((0.0, 0.5), (0.5, 1.0), (0.9, 1.0)):
        for _ in range(10):
            goal = FAMILIES["random"](rng, shape, 4, {"size": (lo, hi)})
            blocks = int((goal[:, 1:, :] != AIR).sum())
            assert blocks == 2 or lo * interior < blocks <= hi * interior  # at least 2 blocks
            assert supported(goal)


def test_random_structures_use_every_colouring_and_overhangs():
    goals = GoalGenerator(MBAG, 10, "train_wide", families="random").sample(np.random.default_rng(0), 200)
    solid = goals[:, :, 1:, :] != AIR
    materials = [len(np.unique(g[g > BEDROCK])) for g in goals]
    assert set(materials) == {1, 2}  # one material, or two by caps, seeds or layers
    overhang = solid[:, :, 1:, :] & ~solid[:, :, :-1, :]  # a block over air
    assert overhang.any(axis=(1, 2, 3)).mean() > 0.2


def test_families_in_both_splits_have_disjoint_parameter_ranges():
    for family in set(SPLITS["train"]) & set(SPLITS["test"]):
        train, test = SPLITS["train"][family], SPLITS["test"][family]
        assert any(train[k][1] <= test[k][0] or test[k][1] <= train[k][0] for k in train)


@pytest.mark.parametrize("shape", SHAPES)
def test_test_towers_are_taller_than_any_train_tower(shape):
    rng = np.random.default_rng(0)
    train = GoalGenerator(shape, 10, "train", families="tower").sample(rng, 30)
    test = GoalGenerator(shape, 10, "test", families="tower").sample(rng, 30)
    top = lambda goals: (goals[:, :, 1:, :] != AIR).any(axis=(1, 3)).sum(axis=1)  # noqa: E731 - tower height
    limit = (shape[1] - 2) // 2
    assert top(train).max() <= limit < top(test).min()


def test_train_and_test_samples_share_no_goal():
    train = GoalGenerator(MBAG, 10, "train").sample(np.random.default_rng(0), 200)
    test = GoalGenerator(MBAG, 10, "test").sample(np.random.default_rng(0), 200)
    assert not {g.tobytes() for g in train} & {g.tobytes() for g in test}


def test_split_overlap_counts_held_out_goals_that_training_also_draws():
    tiny = split_overlap(TINY, 4, samples=3000)
    assert set(tiny) == {"bridge", "furniture", "tower", "all"}
    assert tiny["bridge"] == 0.0 and tiny["tower"] > 0.5  # on tiny a 2-tall tower can be a short wall
    assert split_overlap(TINY, 4, held_out="train", samples=3000)["all"] > 0.9  # a split overlaps itself
    assert split_overlap(MBAG, 10, samples=300)["all"] == 0.0


def test_novel_goals_are_held_out_goals_training_did_not_draw():
    novel = novel_goals(TINY, 4, samples=20000)  # enough draws to meet every train goal on tiny
    train = {g.tobytes() for g in GoalGenerator(TINY, 4, "train").sample(np.random.default_rng(1), 20000)}
    assert 0.4 * 20000 < len(novel) < 0.9 * 20000
    assert not any(g.tobytes() in train for g in novel)
    for goal in novel[:50]:
        validate_goal(goal, 4)


def test_unknown_split_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"\['train', 'test', 'train_wide', 'all'\]"):
        GoalGenerator(TINY, 4, split="validation")


def test_unknown_family_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"castle.*'house', 'tower', 'wall', 'pyramid', 'bridge', 'furniture', 'random'"):
        GoalGenerator(TINY, 4, families=["house", "castle"])


def test_family_outside_the_split_names_the_split_families():
    with pytest.raises(ValueError, match=r"\['bridge'\] are not in split 'train'.*split='all'"):
        GoalGenerator(TINY, 4, split="train", families=["bridge"])


def test_families_restrict_what_is_sampled():
    goals = GoalGenerator(MBAG, 10, "all", families=["bridge"]).sample(np.random.default_rng(0), 10)
    columns = (goals[:, :, 1:, :] != AIR).sum(axis=2)
    assert (columns > 0).sum(axis=(1, 2)).min() >= 3  # a bridge covers at least its 3-long deck


# ----------------------------------------------------------------------------- validate_goal


def test_validate_goal_accepts_a_generated_goal_and_rejects_a_bare_floor():
    validate_goal(house_goal(), 10)
    floor = np.zeros((7, 6, 7), np.uint8)
    floor[:, 0, :] = BEDROCK
    with pytest.raises(ValueError, match="no blocks above the floor"):
        validate_goal(floor, 10)


def test_validate_goal_rejects_bedrock_above_the_floor():
    goal = house_goal()
    goal[3, 4, 3] = BEDROCK
    with pytest.raises(ValueError, match=r"bedrock \(id 1\) at \(x, y, z\) = \(3, 4, 3\) is above the floor"):
        validate_goal(goal, 10)


def test_validate_goal_rejects_the_top_layer():
    goal = house_goal()
    goal[3, 5, 3] = 2
    with pytest.raises(ValueError, match=r"outside the border.*1 <= y <= 4"):
        validate_goal(goal, 10)


def hanging_step() -> np.ndarray:
    """A tiny goal: a block on the floor and a stair step above-beside it, touching it only along an edge."""
    goal = np.zeros(TINY, np.uint8)
    goal[:, 0, :] = BEDROCK
    goal[2, 1, 2] = goal[3, 2, 2] = 2
    return goal


def test_a_block_hanging_in_the_air_is_refused_as_unsupported():
    with pytest.raises(UnsupportedGoalError, match=r"dirt \(id 2\) at \(x, y, z\) = \(3, 2, 2\) is not supported: no chain"):
        validate_goal(hanging_step(), 4)
    goal = hanging_step()
    goal[3, 1, 2] = 2  # a block under the step joins it to the floor
    validate_goal(goal, 4)


def test_an_unsupported_goal_file_is_refused_or_kept_with_a_warning(tmp_path):
    np.save(tmp_path / "g.npy", hanging_step())
    with pytest.raises(UnsupportedGoalError, match=r"g\.npy: goal 0 is not a valid goal: .*\(3, 2, 2\) is not supported"):
        load_goals(tmp_path / "g.npy")
    with pytest.warns(UserWarning, match=r"g\.npy: goal 0 can be built only on a scaffold: .*\(3, 2, 2\)"):
        assert np.array_equal(load_goals(tmp_path / "g.npy", unsupported="warn")[0], hanging_step())
    with pytest.raises(ValueError, match=r"cannot save .*g\.json: goal 0 .*\(3, 2, 2\) is not supported"):
        save_goals(tmp_path / "g.json", hanging_step())


@settings(max_examples=150, deadline=None)
@given(
    w=st.integers(MIN_SHAPE[0], 9),
    h=st.integers(MIN_SHAPE[1], 8),
    d=st.integers(MIN_SHAPE[2], 9),
    density=st.floats(0.05, 0.7),
    seed=st.integers(0, 2**32 - 1),
)
def test_validate_goal_refuses_exactly_the_goals_with_an_unsupported_block(w, h, d, density, seed):
    goal = np.zeros((w, h, d), np.uint8)
    goal[:, 0, :] = BEDROCK
    goal[1:-1, 1:-1, 1:-1] = np.where(np.random.default_rng(seed).random((w - 2, h - 2, d - 2)) < density, 2, AIR)
    goal[1, -2, 1] = 2  # at least one block, high up: often hanging
    if supported(goal):
        validate_goal(goal, 3)
    else:
        with pytest.raises(UnsupportedGoalError):
            validate_goal(goal, 3)


# ----------------------------------------------------------------------------- files


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".json"])
def test_batch_round_trips_through_every_format(tmp_path, suffix):
    goals = GoalGenerator((7, 6, 7), 10, "all").sample(np.random.default_rng(0), 5)
    path = tmp_path / f"goals{suffix}"
    save_goals(path, goals)
    loaded = load_goals(path, shape=(7, 6, 7), num_block_types=10)
    assert loaded.dtype == np.uint8 and np.array_equal(loaded, goals)


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".json"])
def test_single_goal_loads_as_a_batch_of_one(tmp_path, suffix):
    goal = house_goal()
    save_goals(tmp_path / f"g{suffix}", goal)
    assert np.array_equal(load_goals(tmp_path / f"g{suffix}"), goal[None])


def test_json_file_written_by_hand_loads(tmp_path):
    path = tmp_path / "hut.json"
    path.write_text(json.dumps({
        "format": "assist-goal/v1",
        "size": [5, 4, 5],
        "palette": ["air", "bedrock", "cobblestone"],
        "name": "a two-block column",
        "blocks": [[2, 1, 2, "cobblestone"], [2, 2, 2, "cobblestone"]],
    }))
    goal = load_goals(path, shape=(5, 4, 5), num_block_types=4)[0]
    assert goal[2, 1, 2] == goal[2, 2, 2] == BLOCK_NAMES.index("cobblestone")
    assert (goal[:, 0, :] == BEDROCK).all() and (goal != AIR).sum() == 25 + 2


def test_json_file_is_human_readable_with_one_block_per_line(tmp_path):
    save_goals(tmp_path / "g.json", house_goal())
    text = (tmp_path / "g.json").read_text()
    assert '"format": "assist-goal/v1"' in text
    assert text.count("\n") > (house_goal()[:, 1:, :] != AIR).sum()


def test_palette_names_remap_ids_when_saving(tmp_path):
    goal = FAMILIES["wall"](np.random.default_rng(0), TINY, 3)  # only id 2 placed
    save_goals(tmp_path / "g.json", goal, palette_names=["air", "bedrock", "stone"])
    loaded = load_goals(tmp_path / "g.json")[0]
    assert np.array_equal(loaded == BLOCK_NAMES.index("stone"), goal == 2)


def test_saving_an_invalid_goal_is_refused(tmp_path):
    goal = house_goal()
    goal[0, 1, 0] = 2
    with pytest.raises(ValueError, match=r"cannot save .*g\.npy: goal 0 .*outside the border"):
        save_goals(tmp_path / "g.npy", goal)


def _goal_json(**changes) -> dict:
    goal = {
        "format": "assist-goal/v1",
        "size": [5, 4, 5],
        "palette": ["air", "bedrock", "dirt"],
        "blocks": [[2, 1, 2, "dirt"]],
    }
    goal.update(changes)
    return goal


BAD_JSON = {
    "not_json": ("{not json", "not valid UTF-8 JSON"),
    "top_level_list": ([1, 2], "expected a goal object"),
    "missing_keys": ({"format": "assist-goal/v1", "size": [5, 4, 5]}, r"missing keys \['palette', 'blocks'\]"),
    "wrong_format_tag": (_goal_json(format="mbag/v0"), r"format is 'mbag/v0'; expected 'assist-goal/v1'"),
    "bad_size": (_goal_json(size=[5, 4]), r"expected \[W, H, D\], 3 ints"),
    "unknown_block_name": (_goal_json(palette=["air", "diamond"]), r"unknown block names \['diamond'\].*'planks'"),
    "name_not_in_palette": (_goal_json(blocks=[[2, 1, 2, "stone"]]), r"'stone', which is not in palette"),
    "bad_entry": (_goal_json(blocks=[[2, 1, "dirt"]]), r"blocks\[0\] .* expected \[x, y, z, name\]"),
    "coordinates_out_of_range": (_goal_json(blocks=[[7, 1, 2, "dirt"]]), r"out of range; .* 0 <= x < 5"),
    "block_on_the_floor": (_goal_json(blocks=[[2, 0, 2, "dirt"]]), "on the floor y=0, which is implied bedrock"),
    "block_outside_the_border": (_goal_json(blocks=[[0, 1, 2, "dirt"]]), r"outside the border: .* 1 <= x <= 3"),
    "duplicate_voxel": (_goal_json(blocks=[[2, 1, 2, "dirt"]] * 2), r"voxel \[2, 1, 2\] is listed more than once"),
    "empty_goal": (_goal_json(blocks=[]), "no blocks above the floor"),
    "empty_goal_list": ({"goals": []}, '"goals" must be a non-empty list'),
    "mixed_sizes": ({"goals": [_goal_json(), _goal_json(size=[6, 4, 5])]}, "must share one size"),
}


@pytest.mark.parametrize("case", list(BAD_JSON))
def test_malformed_json_is_rejected_with_a_helpful_message(tmp_path, case):
    content, message = BAD_JSON[case]
    path = tmp_path / f"{case}.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(ValueError, match=message) as error:
        load_goals(path)
    assert f"{case}.json" in str(error.value)


def test_wrong_suffix_lists_the_supported_ones(tmp_path):
    path = tmp_path / "goals.txt"
    path.write_text("")
    with pytest.raises(ValueError, match=r"goals\.txt.*\['\.npy', '\.npz', '\.json'\]"):
        load_goals(path)


def test_npy_with_wrong_ndim_is_rejected(tmp_path):
    np.save(tmp_path / "flat.npy", np.zeros((5, 4), np.uint8))
    with pytest.raises(ValueError, match=r"flat\.npy.*shape \(5, 4\); expected \[W, H, D\]"):
        load_goals(tmp_path / "flat.npy")


def test_npy_with_float_ids_is_rejected(tmp_path):
    np.save(tmp_path / "f.npy", house_goal().astype(np.float32))
    with pytest.raises(ValueError, match=r"f\.npy.*dtype float32; expected integer block ids"):
        load_goals(tmp_path / "f.npy")


def test_npy_holding_pickled_objects_is_refused(tmp_path):
    np.save(tmp_path / "p.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"p\.npy.*pickled objects are refused"):
        load_goals(tmp_path / "p.npy")


def test_npz_without_goals_key_lists_its_keys(tmp_path):
    np.savez(tmp_path / "k.npz", worlds=house_goal())
    with pytest.raises(ValueError, match=r"k\.npz: no key 'goals' in the archive \(keys: \['worlds'\]\)"):
        load_goals(tmp_path / "k.npz")


def test_size_mismatch_with_the_world_is_rejected(tmp_path):
    save_goals(tmp_path / "g.npz", house_goal((7, 6, 7)))
    with pytest.raises(ValueError, match=r"g\.npz.*\(7, 6, 7\) but this world is \(11, 10, 10\)"):
        load_goals(tmp_path / "g.npz", shape=MBAG)


def test_id_outside_the_palette_is_rejected(tmp_path):
    goal = house_goal(num_block_types=10)
    save_goals(tmp_path / "g.npy", goal)
    with pytest.raises(ValueError, match=r"g\.npy: goal 0 .*outside the palette of 4 block types"):
        load_goals(tmp_path / "g.npy", num_block_types=4)


@pytest.mark.parametrize(
    "voxel, says",
    [((2, 0, 2), r"\(2, 0, 2\) is on the floor layer y=0, which must be all bedrock"), ((6, 1, 3), r"\(6, 1, 3\) is outside the border")],
)
def test_a_block_on_the_floor_layer_or_outside_the_border_in_npy_is_rejected(tmp_path, voxel, says):
    goal = house_goal()
    goal[voxel] = 2
    np.save(tmp_path / "g.npy", goal)
    with pytest.raises(ValueError, match=r"g\.npy.*" + says):
        load_goals(tmp_path / "g.npy")


# ----------------------------------------------------------------------------- sizes before allocation


def refused_before_allocating(path, message, **kwargs) -> None:
    """load_goals(path, **kwargs) raises a ValueError matching ``message`` and naming the
    file, with under 16 MiB allocated at its peak."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=message) as error:
            load_goals(path, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    assert peak < 2**24


def npy_bytes(shape, data: bytes = b"") -> bytes:
    """A .npy file of uint8 ids whose header claims ``shape``, followed by ``data``."""
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return stream.getvalue() + data


def test_a_json_size_far_beyond_the_world_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(_goal_json(size=[200000, 3, 200000])))
    refused_before_allocating(path, r"world size \(W, H, D\) = \(200000, 3, 200000\) but this world is \(5, 4, 5\)", shape=TINY)
    refused_before_allocating(path, r"120,000,000,000 voxels; a goal file may declare at most MAX_VOXELS = 4,096")


def test_an_npy_header_claiming_a_huge_shape_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.npy"
    path.write_bytes(npy_bytes((100000, 100, 100, 100), bytes(100)))
    refused_before_allocating(path, r"world size \(W, H, D\) = \(100, 100, 100\) but this world is \(11, 10, 10\)", shape=MBAG)
    refused_before_allocating(path, r"a world of \(100, 100, 100\), 1,000,000 voxels")
    path.write_bytes(npy_bytes((10**6, 11, 10, 10)))
    refused_before_allocating(path, r"1,000,000 goals of \(11, 10, 10\) are 1,100,000,000 voxels, more than one goal file may hold", shape=MBAG)


def test_an_npz_is_checked_before_its_goals_are_decompressed(tmp_path, monkeypatch):
    path = tmp_path / "g.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("goals.npy", npy_bytes((100000, 100, 100, 100), bytes(100)))
    refused_before_allocating(path, r"g\.npz: goals declare a world of \(100, 100, 100\)")
    monkeypatch.setattr(goal_files, "MAX_FILE_VOXELS", 1000)  # a bomb of 1 MB stands for one of gigabytes
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("goals.npy", npy_bytes(TINY, bytes(2**20)))
    assert path.stat().st_size < 2**14
    refused_before_allocating(path, r"'goals' decompresses to 1,048,\d+ bytes, more than a goal file may hold \(73,536")


def test_deeply_nested_json_is_refused_in_one_line(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    refused_before_allocating(path, r"deep\.json: JSON nested too deeply to parse")


def test_a_json_file_too_large_to_be_goals_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(goal_files, "MAX_JSON_BYTES", 100)
    path = tmp_path / "big.json"
    path.write_text(json.dumps(_goal_json(blocks=[[2, 1, 2, "dirt"]] * 10)))
    refused_before_allocating(path, r"big\.json: \d+ bytes, more than a \.json goal file may hold")
