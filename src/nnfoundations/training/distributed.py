"""Data-parallel training over ``torch.distributed``: one process per device or CPU share,
each on a strided shard of the epoch's permutation, gradients summed across processes.

``fit`` uses the process group when one is initialised (``torchrun`` and
:func:`init_from_env` make one). Every rank draws the same permutation, and from each
global batch of ``batch_size × world`` rows rank ``r`` takes rows ``r, r + world, ...``. After
the backward pass one all-reduce sums, across ranks, each rank's gradients weighted by its
rows, its loss likewise, and the rows, so every rank steps with the gradient of the whole
global batch: ``world`` ranks at ``batch_size`` give the weights one process gives at
``batch_size × world``, the last, partial batch included. Validation runs whole on every
rank, so early stopping decides the same everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import torch
import torch.distributed as dist

if dist.is_available():
    # Before any group exists: imported later, as torch's optimizers and compiler do, its
    # functions' default arguments hold on to the world group, so leaving cannot free it and
    # gloo's threads, still running at exit, abort the process (SIGABRT, "terminate called
    # without an active exception").
    import torch.distributed.nn  # noqa: F401


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes (0 and 1 without a group)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env() -> tuple[int, int]:
    """Join the process group that ``torchrun`` describes in the environment, if any: NCCL
    with one GPU per process where there are GPUs, gloo on CPUs. Returns the rank and
    world size."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return rank_and_world()


def leave(wait: bool = True) -> None:
    """Leave the process group cleanly (a process that exits with gloo's threads still up
    can abort): after every rank is done when ``wait``, at once after a failure, which the
    other ranks may never reach."""
    if dist.is_available() and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def device_for_rank() -> torch.device | None:
    """The GPU of this process under torchrun, or None (the model's device stands)."""
    if dist.is_initialized() and torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return None


def broadcast_parameters(parameters: Iterable[torch.Tensor]) -> None:
    """Give every rank rank 0's weights, so that all start alike."""
    for p in parameters:
        dist.broadcast(p.data, src=0)


class GradientSync:
    """The one all-reduce of a step: gradients, loss and rows, weighted by each rank's rows.

    Args:
        parameters: the parameters whose ``.grad`` are summed.
    """

    def __init__(self, parameters: Iterable[torch.Tensor]) -> None:
        self.parameters = list(parameters)
        self.rows = 0  # the global batch's rows, after the last call

    def __call__(self, loss: torch.Tensor, rows: int) -> torch.Tensor:
        """Replace each ``.grad`` by the global batch's gradient; return its mean loss."""
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.parameters]
        flat = torch.cat([g.reshape(-1) for g in grads] + [loss.detach().reshape(1).to(
            grads[0].dtype), torch.ones(1, dtype=grads[0].dtype, device=grads[0].device)])
        flat.mul_(rows)
        dist.all_reduce(flat)
        total = flat[-1].item()
        flat.div_(total)
        self.rows = round(total)
        offset = 0
        for p, g in zip(self.parameters, grads, strict=True):
            p.grad = g.copy_(flat[offset: offset + g.numel()].view_as(g))
            offset += g.numel()
        return flat[-2].clone()
