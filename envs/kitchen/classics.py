"""The classic assistance games of Shah et al. (2020), "Benefits of Assistance over Reward
Learning" (code: github.com/HumanCompatibleAI/assistance-games), as kitchen variants.

Written only with the public API (:class:`~envs.kitchen.tabular.TabularGame`), as a user
would write a game of their own; the rules, priors, discounts and horizons are the peer
code's defaults. Its formulation is simultaneous: at step ``t`` the robot acts having seen
the state and the human's action of step ``t - 1``; the human's policy takes the robot's
action of step ``t``. ``classic_red_blue``'s human ignores the robot's action, so it is a
human-first game here (``first="human"``) and plays in the env. ``classic_meal_choice`` and
``classic_wormy_apples`` have a human who answers a query in the step it is asked, so they
are assistant-first (``first="assistant"``): the assistant's ``query`` leads to an
``asked`` state in which the game's own human (``scripted_human``; the human model
``scripted``) answers; the solver (:mod:`envs.kitchen.solver`) solves them exactly and the
env plays them in two turns per step (:mod:`envs.kitchen.turns`). The peer's
``CakeOrPieGridworld``, a gridworld, is ``classic_cake_or_pie`` (:mod:`envs.kitchen.cake_or_pie_grid`).

Each card's values are the solver's, checked in ``tests/test_kitchen_classics.py`` against
the hand derivation given. The peer's evaluations (``tests/tests.py``, ``run.py``) report
the *undiscounted* return of a policy its solvers found for the discounted problem; our
values are the discounted optimum (the return the solver maximizes), so they differ.
"""

from __future__ import annotations

import itertools

import numpy as np

from envs.kitchen.cake_or_pie_grid import classic_cake_or_pie
from envs.kitchen.tabular import TabularGame


def classic_red_blue(discount: float = 0.9, horizon: int = 4, prior_red: float = 0.5) -> TabularGame:
    """classic_red_blue: the peer's ``RedBlue``: the robot waits to see the human's colour.

    The human wants red or blue (``prior_red``, default 1/2). It spends step 0 walking to
    its two items; at step 1 it makes one (red or blue), then does nothing more. The robot
    can make one item, red or blue, at any step, then nothing more. An item of the wanted
    colour is worth +1, of the other 0, whoever makes it. ``discount`` 0.9, ``horizon`` 4.
    The human's actions are ``wait``, ``make red``, ``make blue`` (the peer's human has no
    wait: ours is legal everywhere, as the API wants, and at step 1 gives up the item); the
    robot's are the peer's ``make red``, ``make blue``, ``wait`` (``assistant_wait=2``).

    Values (rational human, g = ``discount``, p = ``prior_red``, T >= 3):

    - The human makes its colour at step 1: g. The robot sees it at step 2 and copies it:
      g^2; guessing at step 0 is worth max(p, 1 - p), at step 1 g max(p, 1 - p).
      **Bayes = g + max(max(p, 1 - p), g^2)** = 0.9 + 0.81 = **1.71** at the defaults.
    - Oracle: makes the colour at step 0: **1 + g** = 1.9. Wait-only: **g** = 0.9.

    The peer's test (``test_redblue_assistance_problem_reward``) expects 2.0: the
    undiscounted return of the same policy (1 + 1).
    """
    _check_horizon("classic_red_blue", horizon)
    human_states = ("walking", "choosing", "made nothing", "made red", "made blue")
    robot_states = ("free", "made red", "made blue")
    states = list(itertools.product(human_states, robot_states))
    index = {state: i for i, state in enumerate(states)}
    S = len(states)
    human_next, human_legal = np.zeros((S, 3), np.int64), np.zeros((S, 3), bool)
    robot_next, robot_legal = np.zeros((S, 3), np.int64), np.zeros((S, 3), bool)
    worth = np.zeros((3, 2))  # [action, goal]; action 1 makes red, 2 blue (the human's table order)
    worth[1, 0] = worth[2, 1] = 1.0
    human_reward = np.zeros((S, 3, 2))
    robot_reward = np.zeros((S, 3, 2))
    for i, (h, r) in enumerate(states):
        after_wait = {"walking": "choosing", "choosing": "made nothing"}.get(h, h)
        human_next[i] = [index[after_wait, r], index["made red", r], index["made blue", r]]
        human_legal[i] = [True, h == "choosing", h == "choosing"]
        human_reward[i] = worth * (h == "choosing")
        free = r == "free"
        robot_next[i] = [index[h, "made red"] if free else i, index[h, "made blue"] if free else i, i]  # make red, make blue, wait
        robot_legal[i] = [free, free, True]
        robot_reward[i] = worth[[1, 2, 0]] * free
    return TabularGame(
        name="classic_red_blue",
        state_names=tuple(f"human {h}; robot {r}" for h, r in states),
        goal_names=("red", "blue"),
        prior=np.array([prior_red, 1.0 - prior_red]),
        human_action_names=("wait", "make red", "make blue"),
        assistant_action_names=("make red", "make blue", "wait"),
        assistant_wait=2,
        horizon=horizon,
        discount=discount,
        initial_state=index["walking", "free"],
        human_next=human_next,
        human_reward=human_reward,
        human_legal=human_legal,
        assistant_next=robot_next,
        assistant_reward=robot_reward,
        assistant_legal=robot_legal,
        feature_names=("human red", "human blue", "robot red", "robot blue"),
        features=np.array([[h == "made red", h == "made blue", r == "made red", r == "made blue"] for h, r in states], np.int64),
    )


MEAL_WORLDS = ("flour", "dough", "apple pie", "blueberry pie", "served")


def classic_meal_choice(feedback_time: int = 3, discount: float = 0.99, horizon: int = 6, prior_apple: float = 0.875) -> TabularGame:
    """classic_meal_choice: the peer's ``MealChoice``: ask the human once it is home.

    The robot bakes a pie for a human who is at work until step ``feedback_time`` (3); the
    human wants apple (``prior_apple`` 0.875) or blueberry pie. Robot actions: ``wait``,
    ``create1``, ``create2``, ``query``. Either create turns flour into dough; at the dough,
    ``create1`` starts an apple pie and ``create2`` a blueberry one; either create then
    serves the pie: +2 if it is the wanted one, -1 otherwise (the game then ends). ``query``
    costs 0.1 and leaves the kitchen as it is, in the ``asked`` state, where the human
    answers at once (assistant-first) with its pie if the step is >= ``feedback_time``,
    else says nothing (``wait``). ``discount`` 0.99, ``horizon`` 6.

    Values (scripted human, g = ``discount``, defaults):

    - Without an answer the robot serves the likelier pie as soon as it can (dough, apple,
      served at step 2): 1.625 g^2 = 1.5927. Asking at step 3 (the first step answered),
      with the dough made before, it sees the answer at step 4 and serves the wanted pie at
      step 5: 2 g^5 - 0.1 g^3 = 1.8050. **Bayes = max(1.625 g^2, 2 g^5 - 0.1 g^3)
      = 1.804950** (ask).
    - Oracle: serves the wanted pie at step 2: **2 g^2** = 1.9602. Wait-only: **0**.

    The peer's code reports no number for it (``run.py`` prints a PBVI policy's returns);
    the undiscounted return of the optimal policy is 2 - 0.1 = 1.9.
    """
    _check_horizon("classic_meal_choice", horizon)
    if not isinstance(feedback_time, int) or feedback_time < 0:
        raise ValueError(f"classic_meal_choice: feedback_time={feedback_time!r} must be an int >= 0")
    pies = ("apple", "blueberry")
    sure = ((1.0, 0.0),) * 2
    moves = {"flour": [(("dough",) * 2, p) for p in sure], "dough": [(("apple pie",) * 2, sure[0]), (("blueberry pie",) * 2, sure[0])]}
    moves.update({f"{pie} pie": [(("served",) * 2, p) for p in sure] for pie in pies})
    serve = {f"{pie} pie": np.where(np.array(pies) == pie, 2.0, -1.0) for pie in pies}  # [K] per pie served
    return _asking_game(
        "classic_meal_choice", MEAL_WORLDS, pies, np.array([prior_apple, 1.0 - prior_apple]), ("create1", "create2"),
        moves=moves, rewards={(world, a): worth for world, worth in serve.items() for a in (1, 2)},
        answered=lambda t, world: t >= feedback_time, horizon=horizon, discount=discount,
    )


APPLE_STATES = ("start", "clean apples", "wormy apples", "worms in compost", "worms in trash", "pie")


def classic_wormy_apples(two_phase: bool = False, discount: float = 0.99, horizon: int = 4, p_wormy: float = 0.2) -> TabularGame:
    """classic_wormy_apples: the peer's ``WormyApples``: chance, then ask how to dispose.

    The robot makes an apple pie; the human wants worms composted or trashed (uniform). Robot
    actions: ``wait``, ``get apples`` (at the start: wormy with probability ``p_wormy`` 0.2,
    else clean: chance), ``toss in compost`` / ``toss in trash`` (wormy apples: -2 if the
    human wanted the other bin), ``make pie`` (clean or disposed-of apples: +2, the game
    ends), ``query`` (-0.1, the ``asked`` state, in which the human names its bin at once,
    assistant-first; with ``two_phase`` only at the start). ``discount`` 0.99, ``horizon`` 4.

    Values (scripted human, g = ``discount``):

    - Apples first. Clean (0.8): pie at step 1, 2g. Wormy (0.2): ask at step 1, toss right
      at 2, pie at 3: 2g^3 - 0.1g (a guessed toss is worth 2g^2 - g, less). Asking at step 0
      instead: 1.6 g^2 + 0.4 g^3 - 0.1. **Bayes = 1.6 g + 0.2 (2 g^3 - 0.1 g) = 1.952320**;
      at g = 0.9, 1.7136.
    - ``two_phase``: only the step-0 question is answered: **Bayes = max(1.6 g^2 + 0.4 g^3
      - 0.1, 1.6 g + 0.2 (2 g^2 - g)) = 1.856280** (ask first); at g = 0.9, 1.584 (do not ask).
    - Oracle: clean 2g, wormy: toss right at step 1, pie at 2: **1.6 g + 0.4 g^2** = 1.97604.
      Wait-only: **0**.

    The peer's README runs PBVI on these four settings; its code records no value.
    """
    _check_horizon("classic_wormy_apples", horizon)
    if not 0.0 <= p_wormy <= 1.0:
        raise ValueError(f"classic_wormy_apples: p_wormy={p_wormy!r} must be a probability in [0, 1]")
    bins = ("compost", "trash")
    sure, stay = (1.0, 0.0), None
    moves = {"start": [(("clean apples", "wormy apples"), (1.0 - p_wormy, p_wormy)), stay, stay, stay]}
    moves["wormy apples"] = [stay, (("worms in compost",) * 2, sure), (("worms in trash",) * 2, sure), stay]
    for apples in ("clean apples", "worms in compost", "worms in trash"):
        moves[apples] = [stay, stay, stay, (("pie",) * 2, sure)]
    rewards = {("wormy apples", 2 + b): np.where(np.arange(2) == b, 0.0, -2.0) for b in range(2)}  # [K] per bin tossed in
    rewards.update({(apples, 4): np.full(2, 2.0) for apples in ("clean apples", "worms in compost", "worms in trash")})
    return _asking_game(
        "classic_wormy_apples", APPLE_STATES, bins, np.full(2, 0.5), ("get apples", "toss in compost", "toss in trash", "make pie"),
        moves=moves, rewards=rewards, answered=lambda t, apples: apples == "start" or not two_phase, horizon=horizon, discount=discount,
    )


def _asking_game(name, worlds, goals, prior, robot_actions, moves, rewards, answered, horizon, discount) -> TabularGame:
    """An assistant-first game in which the robot may ``query`` (cost 0.1) and the human
    answers at once, ``say <goal>``, where ``answered(t, world)``.

    worlds: the world states, the first the initial one, the last terminal; every world but
    the last also exists ``asked``, the state a query leads to, which the human's move ends.
    robot_actions: the robot's action names after its ``wait`` (``query`` comes last).
    moves: world -> per robot action (``None``: stays) the (outcomes, probabilities) pair.
    rewards: (world, robot action id) -> [K] rewards per goal.
    """
    states = [(world, asked) for world in worlds for asked in (False, True) if not (asked and world == worlds[-1])]
    index = {state: i for i, state in enumerate(states)}
    S, K, A_R, A_H = len(states), len(goals), len(robot_actions) + 2, len(goals) + 1
    robot_next = np.repeat(np.arange(S)[:, None, None], A_R, axis=1).repeat(2, axis=2)
    robot_prob = np.zeros((S, A_R, 2))
    robot_prob[..., 0] = 1.0
    robot_reward = np.zeros((S, A_R, K))
    terminal = np.array([world == worlds[-1] for world, _ in states])
    for i, (world, _) in enumerate(states):
        for a, move in enumerate(moves.get(world, ()), start=1):
            if move is not None:
                robot_next[i, a], robot_prob[i, a] = [index[o, False] for o in move[0]], move[1]
        for a in range(1, A_R - 1):
            robot_reward[i, a] = rewards.get((world, a), 0.0)
        if not terminal[i]:
            robot_next[i, -1], robot_reward[i, -1] = index[world, True], -0.1
    robot_legal = np.ones((S, A_R), bool)
    robot_legal[terminal, 1:] = False
    asked = np.array([a for _, a in states])
    answers = np.zeros((horizon, S, K, A_H))
    answers[..., 0] = 1.0
    for t, (i, (world, _)) in itertools.product(range(horizon), enumerate(states)):
        if asked[i] and answered(t, world):
            answers[t, i] = np.eye(A_H)[1:]
    return TabularGame(
        name=name,
        state_names=tuple(f"{world}{'; the robot asked' if asked else ''}" for world, asked in states),
        goal_names=goals,
        prior=prior,
        human_action_names=("wait",) + tuple(f"say {goal}" for goal in goals),
        assistant_action_names=("wait",) + tuple(robot_actions) + ("query",),
        horizon=horizon,
        discount=discount,
        first="assistant",
        initial_state=0,
        human_next=np.repeat(np.array([index[world, False] for world, _ in states])[:, None], A_H, axis=1),
        human_reward=np.zeros((S, A_H, K)),
        human_legal=np.concatenate([np.ones((S, 1), bool), np.repeat(asked[:, None], K, axis=1)], axis=1),
        assistant_next=robot_next,
        assistant_next_prob=robot_prob,
        assistant_reward=robot_reward,
        assistant_legal=robot_legal,
        terminal=terminal,
        scripted_human=answers,
    )


def _check_horizon(name: str, horizon: int) -> None:
    if not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"{name}: horizon={horizon!r} must be an int >= 1")


CLASSICS = {
    "classic_red_blue": classic_red_blue, "classic_meal_choice": classic_meal_choice, "classic_wormy_apples": classic_wormy_apples,
    "classic_cake_or_pie": classic_cake_or_pie,
}
"""Variant name -> function of the classic games (found by :func:`envs.kitchen.variants.make_game`)."""
