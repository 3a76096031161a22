"""``classic_cake_or_pie``: the peer's ``CakeOrPieGridworld`` (Shah et al. 2020, Section 4.3)
as a table, its gridworld rules written here as functions of a state tuple.

The layout (``y`` grows upwards, as in the peer's code)::

    y=5  X X P X X      P: the plate
    y=4  C . . . B      C: chocolate, B: cherry
    y=3  D . X . X      D: dough
    y=2  X . X . X
    y=1  X . X . X      the human starts at (1, 3), the robot at (3, 1), both facing north
    y=0  X X X A X      A: sugar

A state is ``(human, robot, plate, pending)``: each player a ``(position, facing, hand)``
triple (``hand`` "" or one ingredient letter), the plate a sorted tuple of at most four
letters (repeats allowed), ``pending`` (see below). Terminal: ``made cake`` and ``made pie``.
"""

from __future__ import annotations

import functools

import numpy as np

from envs.kitchen.tabular import TabularGame

LAYOUT = ("XXXAX", "X X X", "X X X", "D X X", "C   B", "XXPXX")
"""The rows from ``y = 0`` (bottom) up; ``" "`` is a free cell, letters are counters."""
DIRECTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0), (0, 0))
"""The peer's action order: north, south, east, west, stay; action 5 interacts."""
ACTION_NAMES = ("north", "south", "east", "west", "stay", "interact")
STAY, INTERACT = 4, 5
FACINGS = dict(zip(DIRECTIONS, ACTION_NAMES[:4]))
INGREDIENTS = {"A": "sugar", "B": "cherry", "C": "chocolate", "D": "dough"}
RECIPES = {"cake": ("A", "B", "C", "D"), "pie": ("B", "D")}
"""Goal -> the plate (sorted letters) that makes it."""
ORDER = {True: {"cake": "CDBA", "pie": "DB"}, False: {"cake": "DBCA", "pie": "DB"}}
"""pedagogic -> goal -> the order in which the human fetches ingredients."""
PLATE_SIZE = 4


def _cell(pos: tuple[int, int]) -> str:
    x, y = pos
    return LAYOUT[y][x]


@functools.cache
def _counter(letter: str) -> tuple[int, int]:
    return next((x, y) for y, row in enumerate(LAYOUT) for x, c in enumerate(row) if c == letter)


def _move(player: tuple, action: int) -> tuple:
    """A player after a move: it turns to the direction and steps if the cell is free
    (players do not block each other)."""
    (x, y), facing, hand = player
    dx, dy = DIRECTIONS[action]
    if action == STAY:
        return player
    ahead = (x + dx, y + dy)
    return (ahead if _cell(ahead) == " " else (x, y)), (dx, dy), hand


def _faced(player: tuple) -> str:
    (x, y), (dx, dy), _ = player
    return _cell((x + dx, y + dy))


def _hand_after_interact(player: tuple) -> str:
    """An empty hand takes from an ingredient's counter; a hand facing the plate, or the
    counter of what it holds, empties (onto the plate, if there is room, or back)."""
    faced, hand = _faced(player), player[2]
    if faced in INGREDIENTS and hand == "":
        return faced
    return "" if faced in (hand, "P") else hand


def _adds_to_plate(player: tuple, plate: tuple) -> bool:
    return player[2] != "" and _faced(player) == "P" and len(plate) < PLATE_SIZE


def human_action(state: tuple, goal: str, pedagogic: bool) -> int:
    """The peer's scripted human: carry what it holds to the plate, else go for the first
    ingredient of its order that neither the plate nor the robot's hand holds, else stay.
    It walks myopically: interact when facing the counter, else the first of the (x, y)
    component directions whose next cell is free or that counter."""
    human, robot, plate, _ = state
    if human[2] != "":
        target = "P"
    else:
        target = next((c for c in ORDER[pedagogic][goal] if c != robot[2] and c not in plate), None)
        if target is None:
            return STAY
    if _faced(human) == target:
        return INTERACT
    (x, y), (tx, ty) = human[0], _counter(target)
    steps = [(int(np.sign(tx - x)), 0)] if tx != x else []
    steps += [(0, int(np.sign(ty - y)))] if ty != y else []
    for dx, dy in steps:
        if _cell((x + dx, y + dy)) in (" ", target):
            return DIRECTIONS.index((dx, dy))
    return STAY


def human_move(state: tuple, action: int) -> tuple:
    """The human's action applied first. What it puts on the plate is marked ``pending``: the
    robot's action of the same step is applied before it (the peer's order), see
    :func:`robot_move`."""
    human, robot, plate, _ = state
    if action != INTERACT:
        return _move(human, action), robot, plate, ""
    adds = _adds_to_plate(human, plate)
    plate, pending = (tuple(sorted(plate + (human[2],))), human[2]) if adds else (plate, "")
    return (human[0], human[1], _hand_after_interact(human)), robot, plate, pending


def robot_move(state: tuple, action: int) -> tuple | str:
    """The robot's action on the plate as it was before the human's ``pending`` ingredient,
    which is then added if there is still room. Interacting empty-handed at a plate that
    holds a recipe makes it: returns ``"made <goal>"``."""
    human, robot, plate, pending = state
    before = list(plate)
    if pending:
        before.remove(pending)
    before = tuple(before)
    if action != INTERACT:
        robot, after = _move(robot, action), before
    else:
        if robot[2] == "" and _faced(robot) == "P":
            made = next((goal for goal, recipe in RECIPES.items() if recipe == before), None)
            if made is not None:
                return f"made {made}"
        after = tuple(sorted(before + (robot[2],))) if _adds_to_plate(robot, before) else before
        robot = (robot[0], robot[1], _hand_after_interact(robot))
    if pending and len(after) < PLATE_SIZE:
        after = tuple(sorted(after + (pending,)))
    return human, robot, after, ""


START = (((1, 3), (0, 1), ""), ((3, 1), (0, 1), ""), (), "")


@functools.cache
def classic_cake_or_pie(
    pedagogic: bool = True, discount: float = 0.99, horizon: int = 20, prior_cake: float = 0.5, time_cost: float = 0.01
) -> TabularGame:
    """classic_cake_or_pie: the peer's ``CakeOrPieGridworld``: does the human want cake or pie?

    Cake is dough + cherry + sugar + chocolate, pie dough + cherry (``prior_cake`` 1/2). The
    human and the robot walk a kitchen (layout in :mod:`envs.kitchen.cake_or_pie_grid`),
    carry one ingredient at a time from its counter to the plate (at most four on it); only
    the robot, interacting empty-handed with a plate that holds exactly a recipe, makes it:
    +2 if it is the wanted dish, -1 otherwise, and the game ends. Both seats' actions are
    the peer's: ``north``, ``south``, ``east``, ``west``, ``stay`` (the wait),
    ``interact``. The human is the peer's script (human model ``scripted``): with
    ``pedagogic`` (the default) it fetches chocolate first when it wants cake, which shows
    the robot its goal at once; without, dough first either way. ``discount`` 0.99,
    ``horizon`` 20.

    Timing as in the peer's simultaneous step: both choose from the state at its start, the
    robot's action is applied first, then the human's. Here the human is first and what it
    adds to the plate stays ``pending`` until the robot's action is applied to the plate
    before it, which is the same step. The human's legal actions are its script's action for
    either goal and ``stay``; the table holds the states reachable within the horizon.

    Every step costs its time, ``-time_cost * t`` at step ``t`` (``time_cost`` 0.01: the
    peer's; the game's ``time_reward``). Left out: the peer's potential shaping, whose
    discounted sum over any episode is ``-phi(start) = 0``: it changes no value, only when
    rewards arrive.

    Values (scripted human; the solver's, checked in ``tests/test_kitchen_classics.py``
    against an independent recursion over the peer's step, ``tests/cake_or_pie_reference.py``):

    - Defaults (pedagogic): **Bayes = oracle = 1.144748** (cake 0.784144, pie 1.505352): the human's first move (north
      towards the chocolate, or west to the dough) shows its goal, and the robot's first
      moves (towards the cherry, which both recipes need) do not depend on it. Not
      pedagogic: **Bayes = 0.744307**, oracle 1.214336: the goal shows only once dough and
      cherry are on the plate.
    - Without the cost of time (``time_cost=0``): Bayes = oracle = 1.791491 (cake 1.737492,
      pie 1.845489) pedagogic; Bayes 1.748913, oracle 1.800266 (cake 1.755042: dough first
      is quicker) not pedagogic.
    - The peer trains DQN on this game and reports no value of it.
    """
    if not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"classic_cake_or_pie: horizon={horizon!r} must be an int >= 1")
    if not 0.0 <= prior_cake <= 1.0:
        raise ValueError(f"classic_cake_or_pie: prior_cake={prior_cake!r} must be a probability in [0, 1]")
    goals = tuple(RECIPES)
    index: dict = {}

    def add(state) -> int:
        return index.setdefault(state, len(index))

    for end in ("made cake", "made pie"):
        add(end)
    human_rows, robot_rows, scripts = {}, {}, {}
    frontier = [START]
    add(START)
    for _ in range(horizon):
        reached = []
        for state in frontier:
            scripts[state] = [human_action(state, goal, pedagogic) for goal in goals]
            human_rows[state] = {a: human_move(state, a) for a in sorted({STAY, *scripts[state]})}
            for middle in human_rows[state].values():
                if middle not in robot_rows:
                    add(middle)
                    robot_rows[middle] = [robot_move(middle, a) for a in range(len(ACTION_NAMES))]
                    for after in robot_rows[middle]:
                        add(after)
                        reached.append(after)
        frontier = [s for s in dict.fromkeys(reached) if not isinstance(s, str) and s not in human_rows]
    states = list(index)
    S, A, K = len(states), len(ACTION_NAMES), len(goals)
    here = np.arange(S)
    human_next, robot_next = np.repeat(here[:, None], A, 1), np.repeat(here[:, None], A, 1)
    human_legal, robot_legal = np.zeros((S, A), bool), np.zeros((S, A), bool)
    human_legal[:, STAY] = robot_legal[:, STAY] = True
    robot_reward = np.zeros((S, A, K))
    scripted = np.zeros((horizon, S, K, A))
    scripted[..., STAY] = 1.0
    for state, row in human_rows.items():
        i = index[state]
        for a, middle in row.items():
            human_next[i, a], human_legal[i, a] = index[middle], True
        scripted[:, i] = np.eye(A)[scripts[state]]
    for middle, row in robot_rows.items():
        i = index[middle]
        robot_next[i], robot_legal[i] = [index[after] for after in row], True
        for a, after in enumerate(row):
            if isinstance(after, str):
                robot_reward[i, a] = [2.0 if after == f"made {goal}" else -1.0 for goal in goals]
    return TabularGame(
        name="classic_cake_or_pie",
        state_names=tuple(_describe(state) for state in states),
        goal_names=goals,
        prior=np.array([prior_cake, 1.0 - prior_cake]),
        human_action_names=ACTION_NAMES,
        assistant_action_names=ACTION_NAMES,
        human_wait=STAY,
        assistant_wait=STAY,
        horizon=horizon,
        discount=discount,
        initial_state=index[START],
        human_next=human_next,
        human_reward=np.zeros((S, A, K)),
        human_legal=human_legal,
        assistant_next=robot_next,
        assistant_reward=robot_reward,
        assistant_legal=robot_legal,
        terminal=np.array([isinstance(state, str) for state in states]),
        scripted_human=scripted,
        feature_names=tuple(INGREDIENTS.values()),
        time_reward=-time_cost * np.arange(horizon),
        features=np.array(
            [[0] * len(INGREDIENTS) if isinstance(s, str) else [s[2].count(c) for c in INGREDIENTS] for s in states], np.int64
        ),
        state_inputs=np.array([state_inputs(state) for state in states]),
    )


CELLS = tuple((x, y) for y, row in enumerate(LAYOUT) for x, cell in enumerate(row) if cell == " ")
"""The free cells, where players stand."""
HANDS = ("", *INGREDIENTS)
"""What a hand holds (and what a step may leave pending): nothing or one ingredient letter."""


def state_inputs(state) -> np.ndarray:
    """[63] float64 one-hot parts of a state, what a trained network reads of it: for the
    human and then the robot, its cell (9), facing (4) and hand (5); the plate's count of
    each ingredient (4 x 5: 0 to 4); the pending ingredient (5); and the two ends (2)."""
    if isinstance(state, str):
        players, plate, pending = (None, None), None, None
    else:
        human, robot, plate, pending = state
        players = (human, robot)
    parts = []
    for player in players:
        parts += [_one_hot(CELLS, player and player[0]), _one_hot(tuple(FACINGS), player and player[1]), _one_hot(HANDS, player and player[2])]
    for letter in INGREDIENTS:
        parts.append(_one_hot(range(PLATE_SIZE + 1), None if plate is None else plate.count(letter)))
    parts += [_one_hot(HANDS, pending), _one_hot(("made cake", "made pie"), state)]
    return np.concatenate(parts)


def _one_hot(values, value) -> np.ndarray:
    """[len(values)] float64: 1 at ``value``'s place among ``values``, all 0 when it is not among them."""
    return np.array([float(v == value) for v in values])


def _describe(state) -> str:
    if isinstance(state, str):
        return state
    human, robot, plate, pending = state

    def player(name, p):
        hand = INGREDIENTS.get(p[2], "nothing")
        return f"{name} at {p[0]} facing {FACINGS[p[1]]} holding {hand}"

    dish = ", ".join(INGREDIENTS[c] for c in plate) or "nothing"
    text = f"{player('human', human)}; {player('robot', robot)}; plate: {dish}"
    return text + (f" (the human's {INGREDIENTS[pending]} just added)" if pending else "")
