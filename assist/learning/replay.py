"""A ring buffer of fixed-length step sequences (numpy, allocated on first use)."""

from __future__ import annotations

import numpy as np


def to_sequences(block: np.ndarray, length: int) -> np.ndarray:
    """[T, B, ...] -> [B * T / length, length, ...]: each game's steps cut into sequences."""
    T, B = block.shape[:2]
    if T % length:
        raise ValueError(f"rollout length {T} is not a multiple of the sequence length {length}")
    cut = block.reshape((T // length, length, B) + block.shape[2:])
    return np.moveaxis(cut, 2, 1).reshape((B * (T // length), length) + block.shape[2:])


class SequenceReplay:
    """Holds up to ``capacity`` sequences; the oldest are overwritten first.

    Every field added is an array [S, ...] with one row per sequence (e.g. [S, L, ...]
    for per-step data, [S, M] for the memory at the sequence's start).
    """

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"replay capacity={capacity} must be >= 1 sequence")
        self.capacity = capacity
        self.storage: dict[str, np.ndarray] = {}
        self.size = 0
        self.cursor = 0

    def add(self, fields: dict[str, np.ndarray]) -> None:
        count = len(next(iter(fields.values())))
        if any(len(value) != count for value in fields.values()):
            raise ValueError("every field added to the replay needs the same number of sequences")
        if count > self.capacity:
            fields = {key: value[-self.capacity :] for key, value in fields.items()}
            count = self.capacity
        if not self.storage:
            self.storage = {key: np.zeros((self.capacity,) + value.shape[1:], value.dtype) for key, value in fields.items()}
        rows = (self.cursor + np.arange(count)) % self.capacity
        for key, value in fields.items():
            self.storage[key][rows] = value
        self.cursor = int((self.cursor + count) % self.capacity)
        self.size = min(self.capacity, self.size + count)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The buffer's arrays (``storage.<field>``, [capacity, ...]) and its ``size`` and ``cursor`` (0-d)."""
        arrays = {f"storage.{key}": value for key, value in self.storage.items()}
        return {**arrays, "size": np.asarray(self.size, np.int64), "cursor": np.asarray(self.cursor, np.int64)}

    def load_state_dict(self, arrays: dict[str, np.ndarray]) -> None:
        """Continue from :meth:`state_dict`'s arrays; a ValueError if they hold another capacity."""
        storage = {key.split(".", 1)[1]: value for key, value in arrays.items() if key.startswith("storage.")}
        held = {len(value) for value in storage.values()}
        if held - {self.capacity}:
            raise ValueError(f"the replay buffer holds {sorted(held)} sequences, this run's algo.replay={self.capacity}")
        self.storage, self.size, self.cursor = storage, int(arrays["size"].item()), int(arrays["cursor"].item())

    def sample(self, count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``count`` sequences drawn uniformly (with replacement)."""
        if self.size == 0:
            raise ValueError("the replay buffer is empty")
        rows = rng.integers(self.size, size=count)
        return {key: value[rows] for key, value in self.storage.items()}
