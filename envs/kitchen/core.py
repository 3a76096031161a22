"""``KitchenCore``: the :class:`~envs.core.GameCore` of any :class:`TabularGame` and human model.

Every operation is a vectorized table lookup over the batch. The goal is one factor with
K values (``goal_shape = (1, K)``). Observations (one row per game):

- human: ``state`` (Discrete S), ``t`` (Discrete T + 1), ``goal`` (Discrete K).
- assistant: ``state``, ``t``, and the last ``history`` human actions with the states they
  were taken in (``recent_human_actions`` / ``recent_states``, int64 [history], oldest
  first, -1 before the episode's first step). Never the goal. With ``history`` = T (the
  default) they are a sufficient statistic for the Bayes belief.

Rewards follow the game's tables (see :mod:`envs.kitchen.tabular`); the assistant's mask is
:attr:`TabularGame.assistant_choosable`, and its action is applied as the no-op (flagged
illegal) when illegal after the human's move. The step takes both seats' actions at once,
so an assistant-first game (the human answers the assistant's action within the step) is
played in two turns per step, the assistant's then the human's
(:func:`~envs.kitchen.turns.in_turns`): ``t``, the horizon, ``length`` and ``history``
count turns; returns, optima and ``goal_pct`` are the game's; a human turn's reward is the
human's divided by ``sqrt(discount)``, which the per-turn discount ``sqrt(discount)`` makes
good.

Chance: each row holds a key (``chance``, drawn from the ``reset`` rng for games with chance
only, so deterministic games draw exactly what they did before); the outcome of a seat's
move at step ``t`` is drawn by inverting its outcome probabilities at a uniform that is a
fixed hash of (key, t, seat). A row's episode is so reproducible from its reset seed alone,
in any batch. ``conceal_goal`` also replaces the key by a hash of it, so a search from a
concealed copy draws outcomes of its own, not the episode's future ones: one sampled
future per episode (the search has no chance nodes; it treats the outcome it drew when it
built a child as that child's).

Metrics (per game, [B]): ``return``, discounted by the game's ``discount``
(:mod:`envs.kitchen.tabular`; the plain sum at 1); ``goal_pct``, 100 * return / the oracle's expected
return for the game's goal against the same human model (``nan`` where that is <= 0; one
episode can exceed 100); ``human_actions`` and ``assistant_actions``, the non-no-op actions
applied; ``assistant_share``, the assistant's fraction of them (0 when there are none);
``assistant_return``, the assistant's reward part (discounted the same way); ``length``, the steps played.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple

import numpy as np
from gymnasium import spaces

from envs.core import ASSISTANT, HUMAN, BatchState, StepResult, check_actions, one_hot_belief, seat_index
from envs.kitchen.humans import human_policy, model_parameters, solo_q
from envs.kitchen.render import bar_picture
from envs.kitchen.solver import solve_known_goal
from envs.kitchen.tabular import TabularGame
from envs.kitchen.turns import in_turns, policy_in_turns
from envs.kitchen.variants import make_game, variant_parameters


@dataclasses.dataclass
class KitchenState(BatchState):
    """B kitchen games. ``s``, ``t``, counts: int64 [B]; ``goal``: int64 [B, 1];
    ``done``: bool [B]; ``ret`` / ``assistant_ret``: float64 [B] (the whole return and the
    assistant's part); ``recent_states`` / ``recent_human_actions``: int64 [B, history],
    oldest first, -1 padded; ``chance``: uint64 [B] the key of the row's chance outcomes
    (module docstring)."""

    s: np.ndarray
    t: np.ndarray
    goal: np.ndarray
    done: np.ndarray
    ret: np.ndarray
    assistant_ret: np.ndarray
    human_actions: np.ndarray
    assistant_actions: np.ndarray
    recent_states: np.ndarray
    recent_human_actions: np.ndarray
    chance: np.ndarray


class KitchenTransition(NamedTuple):
    """A goal-free record of one step, int64 [B] each (``active``: bool [B], the rows that
    were still playing): the state before, the human's action applied, the intermediate
    state, the assistant's action applied, the step's index ``t``."""

    state: np.ndarray
    human_action: np.ndarray
    mid_state: np.ndarray
    assistant_action: np.ndarray
    active: np.ndarray
    t: np.ndarray


class KitchenCore:
    """The batched rules of ``game`` with the human seat modelled by ``human``.

    Args:
        game: the tables (see :mod:`envs.kitchen.variants`).
        human: a model of :mod:`envs.kitchen.humans`; it defines the oracle (and so
            ``goal_pct`` and the assistant's ``goal_action_values``) and
            :meth:`human_action_probs`.
        history: how many recent human actions the assistant observes (default: T).
        human_params: the model's keyword parameters (e.g. ``beta`` for ``boltzmann``).

    Attributes:
        written: the :class:`TabularGame` as given.
        game: the game played: ``written`` itself, or for an assistant-first one its
            human-first form in two turns per step (:func:`~envs.kitchen.turns.in_turns`).
        discount: the game's discount of the return (:attr:`TabularGame.discount`).
        human_policy: [T, S, K, A_H] the human model's action probabilities.
        human_q: [T, S, K, A_H] the human's solo Q-values (the human's ``goal_action_values``).
        oracle: the known-goal optimum against the human model
            (:class:`~envs.kitchen.solver.KnownGoalSolution`); its ``q`` [T, S, K, A_R] is
            the assistant's ``goal_action_values`` and its ``values`` [K] normalize ``goal_pct``.
        options: the options of :func:`make_core` that make this game (set by it, which
            alone knows the variant's name and parameters).
    """

    name: ClassVar[str] = "kitchen"

    def __init__(self, game: TabularGame, human: str = "rational", history: int | None = None, **human_params):
        self.written = game
        policy = human_policy(game, human, **human_params)
        if game.first == "assistant":
            game, policy = in_turns(game), policy_in_turns(game, policy)
        self.game = game
        self.horizon = game.horizon
        self.discount = game.discount
        self.goal_shape = (1, game.num_goals)
        self.history = game.horizon if history is None else history
        if not isinstance(self.history, int) or self.history < 1:
            raise ValueError(f"history={history!r} must be an int >= 1 (how many human actions the assistant sees)")
        self.human_model = human
        self.human_policy = policy
        self.human_q = solo_q(game)
        self.oracle = solve_known_goal(game, self.human_policy)
        S, T, K = game.num_states, game.horizon, game.num_goals
        common = {"state": spaces.Discrete(S), "t": spaces.Discrete(T + 1)}
        recent = {
            "recent_states": spaces.Box(-1, S - 1, (self.history,), np.int64),
            "recent_human_actions": spaces.Box(-1, game.num_human_actions - 1, (self.history,), np.int64),
        }
        self._spaces = {
            HUMAN: spaces.Dict({**common, "goal": spaces.Discrete(K)}),
            ASSISTANT: spaces.Dict({**common, **recent}),
        }
        self._feature_max = np.maximum(game.features.max(axis=0, initial=0), 1)

    def num_actions(self, agent: str) -> int:
        return (self.game.num_human_actions, self.game.num_assistant_actions)[seat_index(agent)]

    def reset(self, batch: int, rng: np.random.Generator, goals: np.ndarray | None = None) -> KitchenState:
        """Fresh games in the initial state; goals [batch, 1] drawn from the prior if None."""
        if goals is None:
            goals = rng.choice(self.game.num_goals, size=(batch, 1), p=self.game.prior)
        goals = np.asarray(goals)
        if goals.shape != (batch, 1) or not np.issubdtype(goals.dtype, np.integer):
            raise ValueError(f"goals must be an int array of shape [batch, 1] = {(batch, 1)}, got {goals.dtype} {goals.shape}")
        if np.any((goals < 0) | (goals >= self.game.num_goals)):
            raise ValueError(f"goals must be goal indices in [0, {self.game.num_goals}) ({list(self.game.goal_names)})")
        zeros = np.zeros(batch, np.int64)
        return KitchenState(
            s=np.full(batch, self.game.initial_state, np.int64),
            t=zeros.copy(),
            goal=goals.astype(np.int64),
            done=np.zeros(batch, bool),
            ret=np.zeros(batch),
            assistant_ret=np.zeros(batch),
            human_actions=zeros.copy(),
            assistant_actions=zeros.copy(),
            recent_states=np.full((batch, self.history), -1, np.int64),
            recent_human_actions=np.full((batch, self.history), -1, np.int64),
            chance=np.zeros(batch, np.uint64) if self.game.deterministic else rng.integers(0, 2**63, size=batch, dtype=np.uint64),
        )

    def step(self, state: KitchenState, actions: np.ndarray) -> StepResult:
        """Apply ``actions`` [B, 2] (human, assistant) in place; done rows stay frozen."""
        game = self.game
        actions = check_actions(actions, state.batch_size)
        in_space = np.stack(
            [(actions[:, i] >= 0) & (actions[:, i] < self.num_actions(agent)) for i, agent in enumerate((HUMAN, ASSISTANT))], axis=1
        )
        ids = np.where(in_space, actions, 0)  # ids outside the space: flagged no-ops
        active = ~state.done
        s = state.s.copy()
        human_ok = game.human_legal[s, ids[:, 0]] & in_space[:, 0]
        human_action = np.where(active & human_ok, ids[:, 0], 0)
        mid = np.where(active, self._draw(state, HUMAN, s, human_action), s)
        assistant_action = np.where(active & in_space[:, 1], game.second_applied[mid, ids[:, 1]], 0)
        nxt = np.where(active, self._draw(state, ASSISTANT, mid, assistant_action), s)
        transition = KitchenTransition(s, human_action, mid, assistant_action, active, state.t.copy())
        parts = self.expected_reward(transition, one_hot_belief(state.goal, game.num_goals))
        illegal = np.stack([active & ~human_ok, active & (assistant_action != actions[:, 1])], axis=1)

        state.recent_states[active] = np.roll(state.recent_states[active], -1, axis=1)
        state.recent_states[active, -1] = s[active]
        state.recent_human_actions[active] = np.roll(state.recent_human_actions[active], -1, axis=1)
        state.recent_human_actions[active, -1] = human_action[active]
        weight = game.discount ** state.t  # [B] the discount of this step's rewards
        state.s[:] = nxt
        state.t += active
        state.ret += weight * parts.sum(axis=1)
        state.assistant_ret += weight * parts[:, 1]
        state.human_actions += active & (human_action != 0)
        state.assistant_actions += active & (assistant_action != 0)
        terminated = active & game.terminal[nxt]
        truncated = active & ~terminated & (state.t >= self.horizon)
        state.done |= terminated | truncated
        return StepResult(
            reward=parts.sum(axis=1).astype(np.float32),
            reward_parts=parts.astype(np.float32),
            terminated=terminated,
            truncated=truncated,
            illegal=illegal,
            transition=transition,
        )

    def _draw(self, state: KitchenState, agent: str, s: np.ndarray, a: np.ndarray) -> np.ndarray:
        """[B] int64 the outcome of ``agent``'s action ``a`` [B] in states ``s`` [B] at the
        rows' step (module docstring: the row's chance key picks it)."""
        outcomes, probs = self.game.outcomes(("human", "assistant")[seat_index(agent)])
        if outcomes.shape[2] == 1:
            return outcomes[s, a, 0]
        cumulative = probs[s, a].cumsum(axis=1)  # [B, N]
        u = chance_uniform(state.chance, 2 * state.t.astype(np.uint64) + np.uint64(seat_index(agent)))  # [B]
        return outcomes[s, a, (cumulative <= u[:, None] * cumulative[:, -1:]).sum(axis=1)]

    def conceal_goal(self, state: KitchenState) -> None:
        """Set every goal to 0 (the tables stay indexable, and termination never depends on
        the goal here: terminal states are goal-free) and replace every chance key by a hash
        of it, so the episode's future outcomes are not readable (module docstring)."""
        state.goal[:] = 0
        state.chance[:] = _splitmix(state.chance ^ np.uint64(0xD1B54A32D192ED03))

    def legal_mask(self, state: KitchenState, agent: str) -> np.ndarray:
        """[B, A] bool; the assistant's is the set of its choosable actions. Done rows: the no-op."""
        table = (self.game.human_legal, self.game.assistant_choosable)[seat_index(agent)]
        mask = table[state.s].copy()
        mask[state.done, 1:] = False
        return mask

    def observe(self, state: KitchenState, agent: str) -> dict[str, np.ndarray]:
        observation = {"state": state.s.copy(), "t": state.t.copy()}
        if seat_index(agent) == 0:
            observation["goal"] = state.goal[:, 0].copy()
        else:
            observation["recent_states"] = state.recent_states.copy()
            observation["recent_human_actions"] = state.recent_human_actions.copy()
        return observation

    def observation_space(self, agent: str) -> spaces.Dict:
        return self._spaces[(HUMAN, ASSISTANT)[seat_index(agent)]]

    def observed_goal_factors(self, observation: dict[str, np.ndarray]) -> None:
        """None: the goal (which dish) is not part of the world."""
        return

    def observed_goal_owners(self, observation: dict[str, np.ndarray]) -> None:
        """None: the goal (which dish) is not part of the world."""
        return

    def expected_reward(self, transition: KitchenTransition, belief: np.ndarray) -> np.ndarray:
        """[B, 2] float64 (human part, assistant part) of ``transition`` under ``belief``
        [B, 1, K]; 0 for rows that were already done. Linear in the belief. The step's
        ``time_reward`` counts in the assistant's part."""
        b = np.asarray(belief, dtype=np.float64)[:, 0, :]
        human = np.einsum("bk,bk->b", b, self.game.human_reward[transition.state, transition.human_action])
        assistant = np.einsum("bk,bk->b", b, self.game.assistant_reward[transition.mid_state, transition.assistant_action])
        assistant = assistant + self.game.time_reward[np.minimum(transition.t, self.horizon - 1)]
        return np.stack([human, assistant], axis=1) * transition.active[:, None]

    def expected_action_rewards(self, state: KitchenState, agent: str, belief) -> np.ndarray:
        """[B, A] float32 expected reward of each action taken now (as if the other seat
        waits) under ``belief`` [B, 1, K]; ``-inf`` where illegal. The step's ``time_reward``,
        the same whatever is done, is not in them."""
        b = np.asarray(belief, dtype=np.float64)[:, 0, :]
        table = (self.game.human_reward, self.game.assistant_reward)[seat_index(agent)]
        values = np.einsum("bk,bak->ba", b, table[state.s]).astype(np.float32)
        values[~self.legal_mask(state, agent)] = -np.inf
        return values

    def goal_action_values(self, state: KitchenState, agent: str, goal: np.ndarray, fix_others: bool = True) -> np.ndarray:
        """[B, A] float64 exact Q-values for ``goal`` [B, 1] at each row's (t, state).

        Human: its solo Q (the assistant no-ops), the basis of every human model.
        Assistant: the known-goal oracle's Q against this core's human model
        (:attr:`oracle`). Illegal / unchoosable actions are ``-inf``; done rows value only
        the no-op (at 0). ``fix_others`` has no effect: these values are already exact.
        """
        table = (self.human_q, self.oracle.q)[seat_index(agent)]
        t = np.minimum(state.t, self.horizon - 1)
        values = table[t, state.s, np.asarray(goal)[:, 0]].copy()
        values[state.done] = -np.inf
        values[state.done, 0] = 0.0
        return values

    def human_action_probs(self, state: KitchenState) -> np.ndarray:
        """[B, A_H] float64: the human model's action probabilities (done rows: the no-op)."""
        t = np.minimum(state.t, self.horizon - 1)
        probs = self.human_policy[t, state.s, state.goal[:, 0]].copy()
        probs[state.done] = np.eye(self.game.num_human_actions)[0]
        return probs

    def metrics(self, state: KitchenState) -> dict[str, np.ndarray]:
        oracle = self.oracle.values[state.goal[:, 0]]
        acted = state.human_actions + state.assistant_actions
        return {
            "return": state.ret.copy(),
            "goal_pct": np.divide(100.0 * state.ret, oracle, out=np.full(len(oracle), np.nan), where=oracle > 0),
            "human_actions": state.human_actions.copy(),
            "assistant_actions": state.assistant_actions.copy(),
            "assistant_share": np.divide(state.assistant_actions, acted, out=np.zeros(len(acted)), where=acted > 0),
            "assistant_return": state.assistant_ret.copy(),
            "length": state.t.copy(),
        }

    def action_names(self, agent: str) -> list[str]:
        return list((self.game.human_action_names, self.game.assistant_action_names)[seat_index(agent)])

    def describe_observation(self, observation: dict[str, np.ndarray], agent: str) -> str:
        game = self.game
        lines = [
            f"Kitchen ({game.name}), step {int(observation['t'])} of {game.horizon}.",
            f"State: {game.state_names[int(observation['state'])]}.",
        ]
        if seat_index(agent) == 0:
            lines.append(f"You are the human. Your goal: {game.goal_names[int(observation['goal'])]}.")
        else:
            lines.append(f"You are the assistant. The human's goal is hidden: one of {', '.join(game.goal_names)}.")
            seen = [
                f"{game.human_action_names[a]} (in: {game.state_names[s]})"
                for s, a in zip(observation["recent_states"], observation["recent_human_actions"])
                if a >= 0
            ]
            lines.append("The human did: " + ("; ".join(seen) if seen else "nothing yet") + ".")
        lines.append("Actions: " + ", ".join(self.action_names(agent)) + ".")
        return "\n".join(lines)

    def render_ansi(self, state: KitchenState, row: int = 0, goal: bool = True) -> str:
        game = self.game
        status = " (done)" if state.done[row] else ""
        shown = f"  goal={game.goal_names[state.goal[row, 0]]}  return={state.ret[row]:+.2f}" if goal else ""
        lines = [
            f"{game.name}  t={state.t[row]}/{game.horizon}{shown}{status}",
            game.state_names[state.s[row]],
        ]
        if state.recent_human_actions[row, -1] >= 0:
            lines.append(f"human's last action: {game.human_action_names[state.recent_human_actions[row, -1]]}")
        width = max((len(name) for name in game.feature_names), default=0)
        for name, value, maximum in zip(game.feature_names, game.features[state.s[row]], self._feature_max):
            lines.append(f"{name:<{width}} {'#' * value}{'.' * (maximum - value)} {value}")
        return "\n".join(lines)

    def render_rgb(self, state: KitchenState, row: int = 0) -> np.ndarray:
        """Bars of the state's features, the goal's colour on top, progress t/T below."""
        features = self.game.features[state.s[row]]
        return bar_picture(features, self._feature_max, state.t[row] / self.horizon, int(state.goal[row, 0]))


def chance_uniform(key: np.ndarray, counter: np.ndarray) -> np.ndarray:
    """[B] float64 uniforms in [0, 1): the top 53 bits of the splitmix64 hash of
    ``key + (counter + 1) * golden`` (uint64 [B] each). A pure function, so a row's draws
    depend on its key alone."""
    with np.errstate(over="ignore"):
        z = _splitmix(key + (counter + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _splitmix(z: np.ndarray) -> np.ndarray:
    """uint64 [B] -> uint64 [B]: splitmix64's finalizer (a bijection that mixes every bit)."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def make_core(variant: str = "cake_or_pie", human: str = "rational", history: int | None = None, **params) -> KitchenCore:
    """A :class:`KitchenCore` of ``variant`` and the human model ``human``.

    ``params`` go to the variant (e.g. ``horizon``) or to the human model (e.g. ``beta``)
    by name; a name that is neither's raises, listing both.
    """
    variant_keys = set(variant_parameters(variant))
    human_keys = set(model_parameters(human))
    unknown = sorted(set(params) - variant_keys - human_keys)
    if unknown:
        raise ValueError(
            f"unknown kitchen parameters {unknown}: variant {variant!r} takes {sorted(variant_keys)}, "
            f"human model {human!r} takes {sorted(human_keys)}"
        )
    game = make_game(variant, **{k: v for k, v in params.items() if k in variant_keys})
    core = KitchenCore(game, human, history=history, **{k: v for k, v in params.items() if k in human_keys})
    core.options = {"variant": variant, "human": human, **({} if history is None else {"history": history}), **params}
    return core
