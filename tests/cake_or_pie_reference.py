"""An independent reading of the peer's ``CakeOrPieGridworld`` (HumanCompatibleAI/assistance-games,
``envs/cake_or_pie.py``) for ``tests/test_kitchen_classics.py``: its simultaneous step as the
peer writes it (both seats choose on the step's state, the robot's action is applied first,
then the human's), its whole reward (+2 / -1, the cost of time ``-time_cost * t``, the
potential shaping with ``phi = 0`` after the last step) and the exact Bayes value by a
recursion over ``(t, state, goals still possible)``: the scripted human is deterministic, so
the posterior is the prior restricted to the goals whose action would have led to what the
robot sees. Nothing here uses the table of :mod:`envs.kitchen.cake_or_pie_grid`."""

from __future__ import annotations

import functools

GRID = ["XXPXX", "C   B", "D X X", "X X X", "X X X", "XXXAX"][::-1]
MOVES = [(0, 1), (0, -1), (1, 0), (-1, 0), (0, 0)]
RECIPE = {0: ("A", "B", "C", "D"), 1: ("B", "D")}  # cake, pie (sorted letters)
START = (((1, 3), (0, 1), ""), ((3, 1), (0, 1), ""), ())


def _where(letter):
    return next((x, y) for y, row in enumerate(GRID) for x, c in enumerate(row) if c == letter)


def _apply(player, action, plate, robot):
    pos, facing, hand = player
    if action == 5:
        wall = GRID[pos[1] + facing[1]][pos[0] + facing[0]]
        made = plate if robot and hand == "" and wall == "P" and plate in RECIPE.values() else None
        new_plate = tuple(sorted(plate + (hand,))) if hand != "" and wall == "P" and len(plate) < 4 else plate
        new_hand = wall if wall in "ABCD" and hand == "" else ("" if wall in (hand, "P") else hand)
        return (pos, facing, new_hand), new_plate, made
    d = MOVES[action]
    if d == (0, 0):
        return player, plate, None
    ahead = (pos[0] + d[0], pos[1] + d[1])
    return ((ahead if GRID[ahead[1]][ahead[0]] == " " else pos), d, hand), plate, None


def _scripted(state, goal, pedagogic):
    (pos, facing, hand), robot, plate = state

    def go(wall):
        if GRID[pos[1] + facing[1]][pos[0] + facing[0]] == wall:
            return 5
        wx, wy = _where(wall)
        sx, sy = (wx > pos[0]) - (wx < pos[0]), (wy > pos[1]) - (wy < pos[1])
        options = [(sx, 0)] if sy == 0 else [(0, sy)] if sx == 0 else [(sx, 0), (0, sy)]
        for o in options:
            if GRID[pos[1] + o[1]][pos[0] + o[0]] in (" ", wall):
                return MOVES.index(o)
        return 4

    if hand != "":
        return go("P")
    for c in ("CDBA" if pedagogic else "DBCA") if goal == 0 else "DB":
        if c != robot[2] and c not in plate:
            return go(c)
    return 4


def _phi(state, goal):
    (_, _, h), (_, _, r), plate = state
    want = set(RECIPE[goal])
    if len(set(plate)) != len(plate) or not set(plate) <= want:
        return 0.0
    bad = lambda x: x != "" and (x in plate or x not in want)  # noqa: E731
    if bad(h) or bad(r) or (r != "" and h == r):
        return 0.0
    return (len(plate) + 0.5 * (h != "") + 0.5 * (r != "")) / (len(want) + 1)


def bayes_value(pedagogic=True, discount=0.99, horizon=20, prior_cake=0.5, time_cost=0.0, shaping=False, goals=(0, 1)):
    """The optimal expected return from the start; ``goals=(k,)``: the oracle's for goal k."""
    prior = (prior_cake, 1.0 - prior_cake)

    @functools.cache
    def value(t, state, possible):
        if t == horizon:
            return 0.0
        total = sum(prior[g] for g in possible)
        best = -float("inf")
        for a_r in range(6):
            q, seen = 0.0, {}
            for g in possible:
                robot, plate, made = _apply(state[1], a_r, state[2], True)
                human, plate, _ = _apply(state[0], _scripted(state, g, pedagogic), plate, False)
                after = (human, robot, plate)
                r = ((2.0 if made == RECIPE[g] else -1.0) if made else 0.0) - time_cost * t
                if shaping:
                    r += (0.0 if made or t + 1 == horizon else discount * _phi(after, g)) - _phi(state, g)
                q += prior[g] / total * r
                if made is None:
                    seen.setdefault(after, []).append(g)
            for after, gs in seen.items():
                q += sum(prior[g] for g in gs) / total * discount * value(t + 1, after, tuple(gs))
            best = max(best, q)
        return best

    return value(0, START, tuple(goals))
