"""Data-parallel training with ``torch.distributed``: the few collective operations the
trainers need, and a single-process group where each of them is free.

Launched by ``torchrun`` (which sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the
rendezvous variables), every rank runs its own self-play and learner; after each backward
pass the ranks average their gradients, so their weights stay identical. Rank 0 owns the
run directory: it logs, evaluates and writes the shared parts of checkpoints. Backend:
NCCL when the ranks train on CUDA, gloo on the CPU.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable

import torch
import torch.distributed as dist


@dataclasses.dataclass(frozen=True)
class Group:
    """This process's place among the data-parallel ranks (``world_size`` 1: no collectives)."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that logs, evaluates and owns the run directory."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def all_true(self, flag: bool) -> bool:
        """Whether ``flag`` holds on every rank (a collective: every rank must call it)."""
        if not self.distributed:
            return bool(flag)
        value = torch.tensor([1 if flag else 0], dtype=torch.int32, device=_device())
        dist.all_reduce(value, op=dist.ReduceOp.MIN)
        return bool(value.item())

    def any_true(self, flag: bool) -> bool:
        """Whether ``flag`` holds on some rank (a collective)."""
        return not self.all_true(not flag)

    def average_gradients(self, parameters: Iterable[torch.nn.Parameter]) -> None:
        """Replace each parameter's gradient by its mean over the ranks (missing gradients count as zeros)."""
        if not self.distributed:
            return
        for parameter in parameters:
            if parameter.grad is None:
                parameter.grad = torch.zeros_like(parameter)
            dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM)
            parameter.grad /= self.world_size

    def broadcast(self, tensors: Iterable[torch.Tensor]) -> None:
        """Overwrite ``tensors`` in place with rank 0's values (batch-norm statistics, initial weights)."""
        if not self.distributed:
            return
        for tensor in tensors:
            dist.broadcast(tensor.data, src=0)

    def broadcast_object(self, obj):
        """Rank 0's ``obj`` (picklable; sent from rank 0, which runs its own trusted code) on every rank."""
        if not self.distributed:
            return obj
        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]


SINGLE = Group()
"""A run in one process."""


def init(device: str) -> tuple[Group, str]:
    """Join the process group ``torchrun`` set up (if any); the group and this rank's device.

    ``device`` is the run's device setting: ``"auto"`` or ``"cuda"`` becomes
    ``cuda:<LOCAL_RANK>`` when CUDA is available, so each rank of a node drives its own GPU.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Group(), device
    use_cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    elif device == "auto":
        device = "cpu"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return Group(dist.get_rank(), dist.get_world_size()), device


def finish(group: Group, wait: bool = True) -> None:
    """Leave the process group (after the last collective). With ``wait`` every rank first
    waits for the others (rank 0 still evaluates and writes results after the last update;
    a rank that tore its connections down before then made gloo abort the other); a rank
    that failed leaves at once, so it cannot hang on peers that will never arrive."""
    if group.distributed and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def _device() -> torch.device:
    """Where collectives' small tensors live: NCCL needs them on this rank's GPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
