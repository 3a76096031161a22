"""A torch network as the search's :class:`~assist.models.base.Evaluator`: numpy in, numpy out.

    evaluator = TorchEvaluator(make_model(core))
    memory = evaluator.initial_memory(B)
    output, memory = evaluator.evaluate(core.observe(state, "assistant_0"), memory)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from assist.models.base import ModelOutput


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else the CPU; otherwise ``device`` itself, checked."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device={device!r} is an unknown device: use 'auto', 'cpu', 'cuda' or 'cuda:<index>' ({err})") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} asked for, but torch sees no CUDA device; use device='auto' or 'cpu'")
    return resolved


def to_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """``array`` as a tensor on ``device``, same dtype (copied only if not C-contiguous and writable)."""
    return torch.from_numpy(np.require(array, requirements=["C", "W"])).to(device, non_blocking=True)


class TorchEvaluator:
    """Evaluates ``net`` (a :class:`~assist.models.conv.BuildNet`, a
    :class:`~assist.models.mlp.KitchenNet`, or any module with ``memory_size`` and
    ``forward(observation, memory) -> (ModelOutput, memory)``) without gradients.

    Args:
        net: moved to ``device``; put in eval mode at each :meth:`evaluate` (batch norm
            uses its running statistics), so a learner training the same module must
            call ``net.train()`` before its own steps.
        device: ``"auto"`` (CUDA when available, else CPU), or a torch device.
        max_batch: games per forward pass; larger batches run in chunks of this size to
            bound the activation memory.

    Attributes:
        memory_size: M, the size of the recurrent memory (0 for a memoryless net).
        device: the torch device the net runs on.
    """

    def __init__(self, net: nn.Module, device: str | torch.device = "auto", max_batch: int = 1024):
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch={max_batch!r} must be a positive int (games per forward pass)")
        self.device = resolve_device(device)
        self.net = net.to(self.device)
        self.memory_size: int = net.memory_size
        self.max_batch = max_batch

    def initial_memory(self, batch: int) -> np.ndarray:
        """[batch, M] float32 zeros: the memory at the start of an episode."""
        return np.zeros((batch, self.memory_size), np.float32)

    def evaluate(
        self, observation: dict[str, np.ndarray], memory: np.ndarray, legal: np.ndarray | None = None
    ) -> tuple[ModelOutput, np.ndarray]:
        """The net's outputs for the assistant's ``observation`` (numpy arrays with leading
        B) after ``memory`` ([B, M]); a :class:`ModelOutput` of numpy float32 arrays and the
        new memory [B, M] float32. ``legal`` is not needed (the net scores every action)."""
        observation = {key: np.asarray(value) for key, value in observation.items()}
        memory = np.asarray(memory, dtype=np.float32)
        batch = len(next(iter(observation.values())))
        if memory.shape != (batch, self.memory_size):
            raise ValueError(
                f"memory must be [B, M] = [{batch}, {self.memory_size}] float32 for this observation, got {memory.shape}; "
                "start episodes with initial_memory(B) and pass back the memory evaluate returned"
            )
        self.net.eval()
        chunks = [self._evaluate(observation, memory, slice(i, i + self.max_batch)) for i in range(0, max(batch, 1), self.max_batch)]
        if len(chunks) == 1:
            return chunks[0]
        outputs, memories = zip(*chunks)
        return ModelOutput(*(np.concatenate(field) for field in zip(*outputs))), np.concatenate(memories)

    @torch.inference_mode()
    def _evaluate(self, observation: dict[str, np.ndarray], memory: np.ndarray, rows: slice) -> tuple[ModelOutput, np.ndarray]:
        """One forward pass over ``rows`` of the batch."""
        tensors = {key: to_tensor(value[rows], self.device) for key, value in observation.items()}
        output, new_memory = self.net(tensors, to_tensor(memory[rows], self.device))
        return ModelOutput(*(to_numpy(field) for field in output)), to_numpy(new_memory)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """``tensor`` as a float32 numpy array on the CPU."""
    return tensor.float().cpu().numpy()
