"""An assistant-first :class:`~envs.kitchen.tabular.TabularGame` played as a human-first one
in turns, so that the env, its players and the search play it unchanged.

The env's step takes both seats' actions at once, so a human player could not see the
assistant's action of the same step. :func:`in_turns` writes step ``t`` of an
assistant-first game G as two turns, ``2t`` and ``2t + 1``, of a human-first game G':

- turn ``2t``, in ``(s, "assistant's turn")``: the human can only wait; the assistant's
  action is G's in ``s`` (its reward, its outcomes ``s1``), leading to ``(s1, "human's turn")``;
- turn ``2t + 1``, in ``(s1, "human's turn")``: the human's action is G's in ``s1`` (it sees
  the assistant's move), leading to ``(s2, "after the human")``, where the assistant can
  only wait, which leads to ``(s2, "assistant's turn")``.

G' has horizon 2T and discount ``sqrt(g)`` per turn, and its human rewards are G's divided
by ``sqrt(g)``: a reward of turn ``2t`` counts ``g^t``, one of turn ``2t + 1``
``sqrt(g)^(2t + 1) / sqrt(g) = g^t``, as in G (G's ``time_reward[t]`` is paid at turn ``2t``), so every return, optimum and oracle value of
G' is G's. The human's forced waits are certain under every goal, so they tell the
assistant nothing, and it sees the human's action of step ``t`` at turn ``2t + 2``, the
start of step ``t + 1``, as in G. A state terminal in G is terminal in all its turns.
"""

from __future__ import annotations

import numpy as np

from envs.kitchen.tabular import TabularGame

TURNS = ("assistant's turn", "human's turn", "after the human")
"""The three copies of every state of G, in the order of G's states (copy ``c`` of state
``s`` is ``c * S + s``)."""


def in_turns(game: TabularGame) -> TabularGame:
    """The human-first game G' that plays assistant-first ``game`` G (module docstring)."""
    if game.first != "assistant":
        raise ValueError(f"{game.name}: in_turns writes an assistant-first game (first='assistant') in turns; this one has first={game.first!r}")
    S, K = game.num_states, game.num_goals
    A_H, A_R = game.num_human_actions, game.num_assistant_actions
    mine, yours, after = (np.arange(S) + c * S for c in range(len(TURNS)))  # [S] each: G' ids of G's states per copy
    human_next, human_prob = game.outcomes("human")
    assistant_next, assistant_prob = game.outcomes("assistant")
    N = max(human_next.shape[2], assistant_next.shape[2])
    h_next, h_prob, h_reward, h_legal = _waits(3 * S, A_H, K, N)
    r_next, r_prob, r_reward, r_legal = _waits(3 * S, A_R, K, N)
    scale = 1.0 / np.sqrt(game.discount)
    h_next[yours, :, : human_next.shape[2]] = after[human_next]
    h_prob[yours, :, : human_next.shape[2]] = human_prob
    h_reward[yours], h_legal[yours] = game.human_reward * scale, game.human_legal
    r_next[mine, :, : assistant_next.shape[2]] = yours[assistant_next]
    r_prob[mine, :, : assistant_next.shape[2]] = assistant_prob
    r_reward[mine], r_legal[mine] = game.assistant_reward, game.assistant_legal
    r_next[after, 0, 0] = mine
    terminal = np.tile(game.terminal, len(TURNS))
    for table in (h_next, r_next):
        table[terminal] = np.arange(3 * S)[terminal, None, None]
    for prob, reward, legal in ((h_prob, h_reward, h_legal), (r_prob, r_reward, r_legal)):
        prob[terminal] = np.eye(N)[0]
        reward[terminal], legal[terminal, 1:] = 0.0, False
    return TabularGame(
        name=game.name,
        state_names=tuple(f"{name} ({turn})" for turn in TURNS for name in game.state_names),
        goal_names=game.goal_names,
        prior=game.prior,
        human_action_names=game.human_action_names,
        assistant_action_names=game.assistant_action_names,
        horizon=2 * game.horizon,
        discount=float(np.sqrt(game.discount)),
        initial_state=int(mine[game.initial_state]),
        human_next=h_next,
        human_next_prob=h_prob,
        human_reward=h_reward,
        human_legal=h_legal,
        assistant_next=r_next,
        assistant_next_prob=r_prob,
        assistant_reward=r_reward,
        assistant_legal=r_legal,
        terminal=terminal,
        feature_names=game.feature_names,
        features=np.tile(game.features, (len(TURNS), 1)),
        time_reward=np.stack([game.time_reward, np.zeros(game.horizon)], axis=1).reshape(-1),  # paid at the assistant's turn 2t
    )


def policy_in_turns(game: TabularGame, policy: np.ndarray) -> np.ndarray:
    """[2T, 3S, K, A_H] read-only: ``policy`` [T, S, K, A_H] of G's human (indexed by the
    state it acts in) as the policy of G''s: G's at turn ``2t + 1`` and ``2t`` alike in the
    human's-turn states, the wait elsewhere."""
    T, S, K, A_H = policy.shape
    turns = np.zeros((2 * T, len(TURNS) * S, K, A_H))
    turns[..., 0] = 1.0
    turns[:, S : 2 * S] = np.repeat(policy, 2, axis=0)
    turns[:, S : 2 * S][:, game.terminal] = np.eye(A_H)[0]
    turns.setflags(write=False)
    return turns


def _waits(S: int, A: int, K: int, N: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tables in which every action of every state stays put with probability 1, worth 0,
    and only the wait is legal: ``(next [S, A, N], prob [S, A, N], reward [S, A, K], legal [S, A])``."""
    nxt = np.repeat(np.arange(S)[:, None, None], A, axis=1).repeat(N, axis=2)
    prob = np.zeros((S, A, N))
    prob[..., 0] = 1.0
    legal = np.zeros((S, A), bool)
    legal[:, 0] = True
    return nxt, prob, np.zeros((S, A, K)), legal
