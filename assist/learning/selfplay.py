"""Vectorized self-play: B games with a human model in the human seat and the searching
assistant in the other; finished games are reset in place, so every rollout is a dense
[T, B] block of steps."""

from __future__ import annotations

import dataclasses
import time
from typing import NamedTuple

import numpy as np

from assist.learning.checkpoints import restore
from assist.models.base import softmax
from assist.players.base import MemoryPlayer, Player
from assist.players.search import SearchPlayer
from assist.rollout import turn_for
from envs.core import ASSISTANT, HUMAN, GameCore


class Rollout(NamedTuple):
    """T steps of B games (each field has leading dims [T, B]).

    observation: the assistant's observations (dict of arrays).
    legal, human_legal: [T, B, A] / [T, B, A_H] bool masks.
    memory: [T, B, M] the model memory before each step's observation.
    start: [T, B] bool the step begins an episode (memory was reset).
    slot_actions, target: [T, B, K] the search's slots and policy target.
    action: [T, B] the assistant's action (drawn from the target).
    human_action: [T, B] the human's action.
    goal: [T, B, F] the true goal (a label for the goal head only).
    belief: [T, B, F, G] float16 the root belief when acting (for the goal KL term).
    reward: [T, B] float32 the true shared reward; ends: [T, B] bool the episode ended.
    bootstrap: [B] float32 the model's value of the states after the last step.
    """

    observation: dict[str, np.ndarray]
    legal: np.ndarray
    human_legal: np.ndarray
    memory: np.ndarray
    start: np.ndarray
    slot_actions: np.ndarray
    target: np.ndarray
    action: np.ndarray
    human_action: np.ndarray
    goal: np.ndarray
    belief: np.ndarray
    reward: np.ndarray
    ends: np.ndarray
    bootstrap: np.ndarray


class RunningGames:
    """B games kept running between rollouts: finished games are reset in place (their
    metrics kept for :meth:`pop_finished`) and the assistant forgets them."""

    def __init__(self, core: GameCore, human: Player, assistant: MemoryPlayer, batch: int, rng: np.random.Generator):
        self.core, self.human, self.assistant, self.rng = core, human, assistant, rng
        self.state = core.reset(batch, rng)
        human.reset(batch, rng)
        assistant.reset(batch, rng)
        self.start = np.ones(batch, bool)
        self.finished: list[dict[str, np.ndarray]] = []

    def _restart(self, rows: np.ndarray) -> None:
        """Record the metrics of the games in ``rows`` and reset them."""
        self.finished.append(self.core.metrics(self.state.take(rows)))
        self.state.put(rows, self.core.reset(len(rows), self.rng))
        self.assistant.forget(rows)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The games' state arrays (``state.<field>``), ``start`` [B], the assistant's
        ``memory`` [B, M] and the metrics of episodes not yet popped (``finished.<key>``)."""
        core_state = {f"state.{f.name}": getattr(self.state, f.name) for f in dataclasses.fields(self.state)}
        finished = {f"finished.{key}": value for key, value in self._merged_finished().items()}
        return {**core_state, "start": self.start, "memory": self.assistant.memory, **finished}

    def load_state_dict(self, arrays: dict[str, np.ndarray]) -> None:
        """Continue the games saved by :meth:`state_dict`; a ValueError if they are not
        games of this core, batch size and model."""
        finished = {key.split(".", 1)[1]: value for key, value in arrays.items() if key.startswith("finished.")}
        running = {key: value for key, value in arrays.items() if not key.startswith("finished.")}
        ours = {key: value for key, value in self.state_dict().items() if not key.startswith("finished.")}
        running = restore(ours, running, f"running games ({self.state.batch_size} of {self.core.name}; algo.envs, env, model)")
        self.state = type(self.state)(**{key.split(".", 1)[1]: value.copy() for key, value in running.items() if key.startswith("state.")})
        self.start = running["start"].copy()
        self.assistant.memory = running["memory"].copy()
        self.finished = [finished] if finished else []

    def _merged_finished(self) -> dict[str, np.ndarray]:
        if not self.finished:
            return {}
        return {key: np.concatenate([m[key] for m in self.finished]) for key in self.finished[0]}

    def pop_finished(self) -> dict[str, np.ndarray]:
        """Metrics of the episodes finished since the last call (each [n])."""
        merged = self._merged_finished()
        self.finished = []
        return merged


class SelfPlay(RunningGames):
    """Self-play with the searching assistant (:class:`SearchPlayer`)."""

    def __init__(self, core: GameCore, human: Player, assistant: SearchPlayer, batch: int, rng: np.random.Generator):
        super().__init__(core, human, assistant, batch, rng)
        self.search_seconds = 0.0
        self.depths: list[float] = []
        self.entropies: list[float] = []

    def collect(self, steps: int) -> Rollout:
        """Play ``steps`` steps of every game (``depths``, ``entropies``: the searches' figures, one per step)."""
        core, state = self.core, self.state
        records: dict[str, list] = {key: [] for key in Rollout._fields if key != "bootstrap"}
        self.depths, self.entropies = [], []
        self.assistant.start_afresh()  # the model changed since the last rollout (and a resumed run has no trees)
        for _ in range(steps):
            observation = core.observe(state, ASSISTANT)
            records["observation"].append(observation)
            records["legal"].append(core.legal_mask(state, ASSISTANT))
            records["human_legal"].append(core.legal_mask(state, HUMAN))
            records["memory"].append(self.assistant.memory.copy())
            records["start"].append(self.start.copy())
            records["goal"].append(state.goal.reshape(len(state.goal), -1).copy())
            tic = time.perf_counter()
            assistant_action = self.assistant.act(turn_for(core, self.assistant, state, ASSISTANT))
            self.search_seconds += time.perf_counter() - tic
            search = self.assistant.last
            self.depths.append(float(search.tree.depth().mean()))
            target = search.target.astype(np.float64)
            self.entropies.append(float(-(target * np.log(np.maximum(target, 1e-12))).sum(axis=1).mean()))
            human_action = self.human.act(turn_for(core, self.human, state, HUMAN))
            records["slot_actions"].append(search.slot_actions)
            records["target"].append(search.target)
            records["action"].append(assistant_action)
            records["human_action"].append(human_action)
            records["belief"].append(softmax(search.root_output.goal_logits).astype(np.float16))
            result = core.step(state, np.stack([human_action, assistant_action], axis=1))
            ends = result.terminated | result.truncated
            records["reward"].append(result.reward.astype(np.float32))
            records["ends"].append(ends)
            self.start = ends.copy()
            if ends.any():
                self._restart(np.flatnonzero(ends))
        bootstrap = self.assistant.evaluator.evaluate(core.observe(state, ASSISTANT), self.assistant.memory, core.legal_mask(state, ASSISTANT))[0].value
        stacked = {key: np.stack(value) for key, value in records.items() if key != "observation"}
        observation = {key: np.stack([o[key] for o in records["observation"]]) for key in records["observation"][0]}
        return Rollout(observation=observation, bootstrap=np.where(self.start, 0.0, bootstrap).astype(np.float32), **stacked)


class GoalGames(RunningGames):
    """Games played only for what they teach the goal head: the human model against the
    network's own policy (a sampling :class:`~assist.players.policy.PolicyPlayer`, one
    model call per step instead of a search's dozens), so the states hold the blocks
    this assistant would place, at a fraction of self-play's cost."""

    def collect(self, steps: int, length: int) -> dict[str, np.ndarray]:
        """Play ``steps`` steps of every game, cut into S = B x steps / length sequences of
        ``length`` (L) steps, as replay fields: ``observation.<key>`` [S, L, ...] the
        assistant's observations, ``memory`` [S, M] the network's memory before each
        sequence, ``start`` [S, L] bool the step begins an episode, ``goal`` [S, L, F]
        the true goal (the label)."""
        if steps % length:
            raise ValueError(f"steps={steps} must be a multiple of the sequence length {length}")
        core, state = self.core, self.state
        sequences = []
        for _ in range(steps // length):
            memory = self.assistant.memory.copy()
            observations, starts, goals = [], [], []
            for _ in range(length):
                observation = core.observe(state, ASSISTANT)
                assistant_action = self.assistant.act(turn_for(core, self.assistant, state, ASSISTANT))
                human_action = self.human.act(turn_for(core, self.human, state, HUMAN))
                observations.append(observation)
                starts.append(self.start.copy())
                goals.append(state.goal.reshape(len(state.goal), -1).copy())
                result = core.step(state, np.stack([human_action, assistant_action], axis=1))
                self.start = result.terminated | result.truncated
                if self.start.any():
                    self._restart(np.flatnonzero(self.start))
            per_step = {f"observation.{key}": np.stack([o[key] for o in observations], axis=1) for key in observations[0]}
            sequences.append({**per_step, "memory": memory, "start": np.stack(starts, axis=1), "goal": np.stack(goals, axis=1)})
        return {key: np.concatenate([chunk[key] for chunk in sequences]) for key in sequences[0]}
