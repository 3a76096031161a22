"""The kitchen's variants: functions returning a :class:`~envs.kitchen.tabular.TabularGame`.

Each function's docstring is the variant's card, with the values derived by hand (the
tests check the solver against them). Values are expected returns: both seats' rewards,
summed over the episode, over goals drawn from the prior. "Oracle" is the assistant that
knows the goal; "wait-only" the assistant that always no-ops.
"""

from __future__ import annotations

import inspect
import itertools

import numpy as np

from envs.core import by_name_or_path
from envs.kitchen.classics import CLASSICS
from envs.kitchen.tabular import TabularGame

COLOURS = ("red", "blue")


def red_blue(horizon: int = 2, prior_red: float = 0.5) -> TabularGame:
    """red_blue: make items of the human's colour; wait, then copy.

    Our own game, after the idea of the classic RedBlue; its rules differ from that game's
    (an item every step, -1 for the wrong colour, no discount): the classic one, as its
    authors wrote it, is ``classic_red_blue`` (:mod:`envs.kitchen.classics`).

    The human wants red items or blue items (``prior_red``, default 1/2). At the first step
    only, the human can make one item; if it waits, its chance passes. Every step the
    assistant can make a red or a blue item, or wait. Every item of the wanted colour is
    worth +1 and every item of the other colour -1, whoever makes it.

    Actions (both seats): ``wait``, ``make red``, ``make blue``.
    States: what the human made (``pending`` before its move) and the assistant's counts.

    Hand-derived values (rational human, p = ``prior_red``, T = ``horizon``):

    - The rational human makes its colour at step 0 (+1). The assistant, which chooses
      before seeing it, can only guess at step 0 (expected ``|2p - 1|`` from the likelier
      colour, 0 at p = 1/2: waiting ties with guessing); from step 1 on it knows the goal
      and copies (+1 per step). **Bayes = T + |2p - 1|**: 2.0 at the defaults.
    - Oracle: 1 + T (3.0). Wait-only: 1.
    - Boltzmann human (``beta``), p = 1/2: with ``Z = 1 + 2 cosh(beta)`` it makes its colour
      w.p. ``e^beta / Z``, the other ``e^-beta / Z``, waits ``1 / Z``. After a make the
      assistant copies, right w.p. ``e^beta / (e^beta + e^-beta)``: **Bayes = T * 2 sinh(beta) / Z**
      (1.150 at beta = 1, T = 2), below the rational human's T.
    - Greedy human (``epsilon``), p = 1/2: **Bayes = T (1 - epsilon)**. Lazy human
      (``noop_prob`` = q): **Bayes = T (1 - q)**.
    """
    if not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"red_blue: horizon={horizon!r} must be an int >= 1")
    if not 0.0 <= prior_red <= 1.0:
        raise ValueError(f"red_blue: prior_red={prior_red!r} must be a probability in [0, 1]")
    made = ("pending", "none") + COLOURS  # what the human made
    counts = [(r, b) for r in range(horizon + 1) for b in range(horizon + 1 - r)]  # the assistant's red, blue
    states = list(itertools.product(made, counts))
    index = {state: i for i, state in enumerate(states)}
    S, A = len(states), 1 + len(COLOURS)
    human_next = np.zeros((S, A), np.int64)
    assistant_next = np.zeros((S, A), np.int64)
    human_legal = np.zeros((S, A), bool)
    assistant_legal = np.zeros((S, A), bool)
    for i, (h, (r, b)) in enumerate(states):
        pending = h == "pending"
        human_next[i] = [index["none" if pending else h, (r, b)]] + [index[c if pending else h, (r, b)] for c in COLOURS]
        human_legal[i] = [True] + [pending] * len(COLOURS)
        room = r + b < horizon
        assistant_next[i] = [i, index[h, (r + room, b)], index[h, (r, b + room)]]
        assistant_legal[i] = [True, room, room]
    item_reward = np.zeros((A, len(COLOURS)))
    item_reward[1:] = np.where(np.eye(len(COLOURS), dtype=bool), 1.0, -1.0)  # [make colour, wanted colour]
    reward = np.broadcast_to(item_reward, (S, A, len(COLOURS)))

    def describe(h: str, r: int, b: int) -> str:
        human = {"pending": "human yet to act", "none": "human made nothing"}.get(h, f"human made {h}")
        return f"{human}; assistant made {r} red, {b} blue"

    return TabularGame(
        name="red_blue",
        state_names=tuple(describe(h, r, b) for h, (r, b) in states),
        goal_names=COLOURS,
        prior=np.array([prior_red, 1.0 - prior_red]),
        human_action_names=("wait", "make red", "make blue"),
        assistant_action_names=("wait", "make red", "make blue"),
        horizon=horizon,
        initial_state=index["pending", (0, 0)],
        human_next=human_next,
        human_reward=reward,
        human_legal=human_legal,
        assistant_next=assistant_next,
        assistant_reward=reward,
        assistant_legal=assistant_legal,
        feature_names=("human red", "human blue", "assistant red", "assistant blue"),
        features=np.array([[h == "red", h == "blue", r, b] for h, (r, b) in states], np.int64),
    )


MEALS = ("pasta", "curry", "salad", "soup", "pizza")


def meal_choice(
    num_meals: int = 3,
    prep_steps: int = 5,
    horizon: int | None = None,
    meal_reward: float = 10.0,
    step_cost: float = 1.0,
    ask_cost: float = 0.5,
    lie_cost: float = 1.0,
) -> TabularGame:
    """meal_choice: shared prep first, one goal-dependent final step, ask or wait.

    The human wants one of ``num_meals`` meals (uniform prior; pasta, curry, salad, ...).
    Every meal needs ``prep_steps`` = P units of prep that every meal shares (``prep``:
    either seat, one unit per action; two per step when both prep), then one final step,
    ``cook <meal>`` (either seat, once all prep is done), which serves that meal and ends
    the episode: +``meal_reward`` = R if it is the wanted meal, 0 otherwise. Every step
    before serving costs ``step_cost`` = c. The horizon defaults to P + 1, the time the
    human needs alone.

    The assistant may ``ask`` which meal, while prepping (one prep unit; costs
    ``ask_cost`` = a). The question blocks the human's plain ``prep``: its next work is
    ``answer <meal>``, which names a meal and also does one prep unit (naming a meal that
    is not the wanted one costs ``lie_cost``, so a rational human answers truthfully). The
    assistant observes the answer at the step after it, as it observes every human action.
    The human's own goal-revealing action is ``cook``, which ends the episode.

    Actions: human ``wait``, ``prep``, ``cook <meal>``..., ``answer <meal>``...;
    assistant ``wait``, ``prep``, ``ask``, ``cook <meal>``...

    Hand-derived values (rational human), with P = 2m + r (r in {0, 1}):

    - Wait-only: the human preps P steps and cooks: **R - c (P + 1)**.
    - Oracle: P + 1 units of work, two per step, and the cook may follow the last prep in
      the same step (the human is processed first): **R - c ceil((P + 1) / 2)** = R - c (m + 1).
    - Bayes. The human's prep reveals nothing, so without asking the assistant knows the
      goal only when the human cooks, which ends the episode.
      r = 0: both prep m steps, the human cooks at step m: the oracle's time, so
      **Bayes = oracle = R - c (m + 1)** (asking would only cost a).
      r = 1: matching the oracle needs the assistant to cook at step m, in the step of the
      human's last prep, so to know the goal then. Asking at step j is answered at step
      j + 1 and seen at j + 2, so the ask must come by step m - 2 (possible if m >= 2);
      asking costs no prep, so it costs exactly a. Without it the human cooks at step
      m + 1 (one more step). Guessing at step m is worse while c and a are below R (1 - 1/K).
      **Bayes = R - c (m + 1) - min(a, c)** if m >= 2, else **R - c (m + 2)**.
    - Defaults (K = 3, P = 5, R = 10, c = 1, a = 0.5): wait-only 4, oracle 7, Bayes 6.5
      (ask at step 0); with ``ask_cost`` >= 1, Bayes 6; with P = 4, Bayes = oracle = 7.
    """
    if not 1 <= num_meals <= len(MEALS):
        raise ValueError(f"meal_choice: num_meals={num_meals!r} must be in [1, {len(MEALS)}]")
    if not isinstance(prep_steps, int) or prep_steps < 0:
        raise ValueError(f"meal_choice: prep_steps={prep_steps!r} must be an int >= 0")
    horizon = prep_steps + 1 if horizon is None else horizon
    meals = MEALS[:num_meals]
    K, P = num_meals, prep_steps
    questions = ("none", "asked") + tuple(f"told {m}" for m in meals)
    working = list(itertools.product(range(P + 1), questions))
    states = working + [("served", m) for m in meals]
    index = {state: i for i, state in enumerate(states)}
    served = {m: index["served", m] for m in meals}
    S = len(states)
    A_H, A_R = 2 + 2 * K, 3 + K  # human: wait prep cook*K answer*K; assistant: wait prep ask cook*K
    HCOOK, HANSWER, RCOOK = 2, 2 + K, 3
    human_next = np.repeat(np.arange(S)[:, None], A_H, axis=1)
    assistant_next = np.repeat(np.arange(S)[:, None], A_R, axis=1)
    human_legal = np.zeros((S, A_H), bool)
    assistant_legal = np.zeros((S, A_R), bool)
    human_reward = np.zeros((S, A_H, K))
    assistant_reward = np.zeros((S, A_R, K))
    human_legal[:, 0] = assistant_legal[:, 0] = True
    right_meal = np.eye(K)
    for (p, q), i in ((state, index[state]) for state in working):
        more_prep = p < P
        human_reward[i] -= step_cost
        if more_prep:
            human_next[i, 1] = assistant_next[i, 1] = index[p + 1, q]
            human_legal[i, 1] = q != "asked"
            assistant_legal[i, 1] = True
            assistant_next[i, 2] = index[p + 1, "asked"]
            assistant_legal[i, 2] = q == "none"
            assistant_reward[i, 2] -= ask_cost
            for k, m in enumerate(meals):
                human_next[i, HANSWER + k] = index[p + 1, f"told {m}"]
                human_legal[i, HANSWER + k] = q == "asked"
                human_reward[i, HANSWER + k] -= lie_cost * (1 - right_meal[k])
        else:
            for k, m in enumerate(meals):
                human_next[i, HCOOK + k] = assistant_next[i, RCOOK + k] = served[m]
                human_legal[i, HCOOK + k] = assistant_legal[i, RCOOK + k] = True
                human_reward[i, HCOOK + k] += meal_reward * right_meal[k]
                assistant_reward[i, RCOOK + k] += meal_reward * right_meal[k]

    def describe(p, q) -> str:
        if p == "served":
            return f"served {q}"
        question = {"none": "", "asked": "; the assistant asked which meal"}.get(q, f"; the human said {q[5:]}")
        return f"prep {p}/{P} done{question}"

    def features(p, q) -> list[int]:
        if p == "served":
            return [P, 0, 0, 1]
        return [p, q != "none", q.startswith("told"), 0]

    return TabularGame(
        name="meal_choice",
        state_names=tuple(describe(*state) for state in states),
        goal_names=meals,
        prior=np.full(K, 1.0 / K),
        human_action_names=("wait", "prep") + tuple(f"cook {m}" for m in meals) + tuple(f"answer {m}" for m in meals),
        assistant_action_names=("wait", "prep", "ask") + tuple(f"cook {m}" for m in meals),
        horizon=horizon,
        initial_state=index[0, "none"],
        human_next=human_next,
        human_reward=human_reward,
        human_legal=human_legal,
        assistant_next=assistant_next,
        assistant_reward=assistant_reward,
        assistant_legal=assistant_legal,
        terminal=np.array([p == "served" for p, _ in states]),
        feature_names=("prep", "asked", "answered", "served"),
        features=np.array([features(*state) for state in states], np.int64),
    )


INGREDIENTS = ("flour", "sugar", "butter", "eggs", "apples")
DISHES = {
    "cake": ("flour", "sugar", "eggs"),
    "pie": ("flour", "butter", "apples"),
    "cookies": ("flour", "sugar", "butter"),
}


def cake_or_pie(step_cost: float = 0.5, wrong_cost: float = 1.0, horizon: int = 4) -> TabularGame:
    """cake_or_pie: dishes that share ingredients; do the shared work, infer, then help.

    The human wants cake, pie or cookies (uniform prior). Ingredients go into one bowl:

    ======== ====== ====== ====== ==== ======
    dish     flour  sugar  butter eggs apples
    ======== ====== ====== ====== ==== ======
    cake     x      x             x
    pie      x             x           x
    cookies  x      x      x
    ======== ====== ====== ====== ==== ======

    Either seat adds one ingredient per step (``add <ingredient>``; each goes in once).
    An ingredient of the wanted dish is worth +1, any other -``wrong_cost`` = w; every step
    that starts with the dish incomplete costs ``step_cost`` = c. Flour is in every dish,
    sugar and butter in two, eggs and apples in one. The rational human adds its dish's
    missing ingredients in a uniformly random order, so its first move reveals the dish
    (eggs, apples), narrows it to two (sugar, butter) or says nothing (flour).

    Hand-derived values (rational human, defaults c = 1/2, w = 1; any horizon >= 3). The
    human adds every ingredient of its dish by step 2, so +3 is always collected and
    values differ only in the steps paid and the wrong ingredients added:

    - Wait-only: 3 steps: **3 - 3c** = 1.5.
    - Oracle: step 0: it adds a dish ingredient; the human picks the same one w.p. 1/3.
      Step 1: if one ingredient is left, both add it (done); if two are left, the human
      and the oracle collide w.p. 1/2 and step 2 finishes. Expected steps paid:
      2 + (1/3)(1/2) = 13/6: **oracle = 3 - 13c/6** = 1.9167.
    - Bayes: at step 0 add flour (in every dish: never wrong, and as good as the oracle's
      move). If the human added something else (w.p. 2/3) only one ingredient is left and
      the human adds it at step 1, as with the oracle. If the human also added flour
      (w.p. 1/3) the assistant has learnt nothing, two ingredients are left, and at step 1
      it can wait (the human finishes at step 2: cost c) or add sugar or butter (right
      dish w.p. 2/3, no collision w.p. 1/2: it saves the step w.p. 1/3 and is wrong w.p.
      1/3: cost 2c/3 + w/3). **Bayes = 3 - 2c - min(c, (2c + w)/3) / 3**, which is
      **3 - 7c/3** = 1.8333 when c <= w (the solver confirms that no other policy does
      better). Strictly above wait-only (the flour-first policy saves 2c/3), and strictly
      below the oracle for every assistant: the oracle's optimal first moves are exactly
      the dish's ingredients, so matching it needs flour at step 0; then after the
      human's flour (w.p. 1/3 for every dish, leaving the prior unchanged) the oracle's
      optimal moves are the dish's two missing ingredients, and no ingredient is missing
      from all three dishes (cake: sugar, eggs; pie: butter, apples; cookies: sugar,
      butter), so some dish loses at least c/2 there.
    """
    if not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"cake_or_pie: horizon={horizon!r} must be an int >= 1")
    I = len(INGREDIENTS)  # noqa: E741 (the I of the [K, I] shapes below)
    dishes = tuple(DISHES)
    needs = np.array([[i in DISHES[d] for i in INGREDIENTS] for d in dishes])  # [K, I]
    bowls = np.array(list(itertools.product((0, 1), repeat=I)), dtype=bool)[:, ::-1]  # [S, I], state = bitmask
    S, A = len(bowls), 1 + I
    add_next = np.arange(S)[:, None] | (1 << np.arange(I))[None, :]  # [S, I]
    next_table = np.concatenate([np.arange(S)[:, None], add_next], axis=1)
    legal = np.concatenate([np.ones((S, 1), bool), ~bowls], axis=1)
    add_reward = np.where(needs.T, 1.0, -wrong_cost)  # [I, K]
    item_reward = np.broadcast_to(np.concatenate([np.zeros((1, len(dishes))), add_reward])[None], (S, A, len(dishes)))
    complete = (bowls[:, None, :] | ~needs[None]).all(axis=-1)  # [S, K]
    human_reward = item_reward - step_cost * ~complete[:, None, :]

    def describe(bowl: np.ndarray) -> str:
        return "bowl: " + (", ".join(i for i, inside in zip(INGREDIENTS, bowl) if inside) or "empty")

    return TabularGame(
        name="cake_or_pie",
        state_names=tuple(describe(bowl) for bowl in bowls),
        goal_names=dishes,
        prior=np.full(len(dishes), 1.0 / len(dishes)),
        human_action_names=("wait",) + tuple(f"add {i}" for i in INGREDIENTS),
        assistant_action_names=("wait",) + tuple(f"add {i}" for i in INGREDIENTS),
        horizon=horizon,
        initial_state=0,
        human_next=next_table,
        human_reward=human_reward,
        human_legal=legal,
        assistant_next=next_table,
        assistant_reward=item_reward,
        assistant_legal=legal,
        feature_names=INGREDIENTS,
        features=bowls.astype(np.int64),
    )


VARIANTS = {"red_blue": red_blue, "meal_choice": meal_choice, "cake_or_pie": cake_or_pie}
"""Variant name -> function returning its :class:`TabularGame`."""


def variant_parameters(variant: str) -> tuple[str, ...]:
    """The keyword parameters of ``variant``."""
    return tuple(inspect.signature(_variant(variant)).parameters)


def make_game(variant: str, **params) -> TabularGame:
    """The game of ``variant`` (a name in :data:`VARIANTS` or in
    :data:`~envs.kitchen.classics.CLASSICS`, or the import path
    ``package.module:function`` of a function of the user's own that returns a
    :class:`TabularGame`) with its keyword ``params``."""
    unknown = sorted(set(params) - set(variant_parameters(variant)))
    if unknown:
        raise ValueError(f"variant {variant!r} takes parameters {list(variant_parameters(variant))}, got unknown {unknown}")
    game = _variant(variant)(**params)
    if not isinstance(game, TabularGame):
        raise ValueError(f"kitchen variant {variant!r} returned {type(game).__name__}, not a TabularGame (envs.kitchen.tabular)")
    return game


def _variant(variant: str):
    return by_name_or_path({**VARIANTS, **CLASSICS}, variant, "kitchen variant")
