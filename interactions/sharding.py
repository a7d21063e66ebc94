"""Splitting a sample set across the processes (ranks) of a run and gathering their results back
(docs/engine.md#sharding).

Rank ``r`` of ``W`` gets the contiguous block ``[r*p, (r+1)*p)`` with ``p = ceil(S / W)``, indices past the end
replaced by the last sample (padding), so every rank evaluates the same number of samples and a tensor gather
sees equal shapes. Gathering ``rows[rank, p, ...]`` and keeping the first ``S`` rows of the rank-major flattening
restores the original order without the padding duplicates.

:class:`Shards` carries the two collectives an estimator needs, as plain callables, so this module knows no
training framework: ``all_gather(tensor) -> tensor[world, ...]`` and ``any_rank(flag) -> bool`` (true on every
rank when it is true on any). A training loop's adapter builds it from its own collectives.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional, TypeVar

import torch
from torch import Tensor

from .errors import NumericsError

if TYPE_CHECKING:
    from .sample_set import AnnotatedSampleSet

T = TypeVar("T")


def shard_indices(num_samples: int, world_size: int, rank: int) -> list[int]:
    """Sample indices of ``rank`` (length ``ceil(num_samples / world_size)``, padded with the last index)."""
    per = math.ceil(num_samples / world_size)
    return [min(rank * per + j, num_samples - 1) for j in range(per)]


def gather_rows(local: Tensor, num_samples: int, world_size: int, all_gather: Callable[[Tensor], Tensor]) -> Tensor:
    """``rows[sample, ...]`` for all samples from each rank's ``local[p, ...]`` (see the module docstring)."""
    if world_size == 1:
        return local[:num_samples]
    gathered = all_gather(local.contiguous())  # [world, p, ...]
    if gathered.dim() != local.dim() + 1 or gathered.shape[0] != world_size:
        raise RuntimeError(f"all_gather returned shape {tuple(gathered.shape)} for {world_size} ranks")
    return gathered.reshape(-1, *local.shape[1:])[:num_samples].clone()


@dataclass(frozen=True)
class Shards:
    """The ranks a sample set is split over: ``world_size`` and this process's ``rank``, the collectives
    ``all_gather`` and ``any_rank`` (``None`` in one process) and the ``device`` tensors are gathered on
    (the NCCL backend gathers CUDA tensors only)."""

    world_size: int = 1
    rank: int = 0
    all_gather: Optional[Callable[[Tensor], Tensor]] = None
    any_rank: Optional[Callable[[bool], bool]] = None
    device: Optional[torch.device] = None

    def local_indices(self, num_samples: int) -> list[int]:
        """The indices of this rank's share of ``num_samples`` samples (:func:`shard_indices`)."""
        return shard_indices(num_samples, self.world_size, self.rank)

    def local(self, samples: AnnotatedSampleSet) -> AnnotatedSampleSet:
        """This rank's share of ``samples`` (all of them in one process)."""
        if self.world_size == 1:
            return samples
        return samples.subset(self.local_indices(len(samples)))

    def gather(self, local: Tensor, num_samples: int) -> Tensor:
        """``rows[sample, ...]`` of every rank's ``local[p, ...]`` (:func:`gather_rows`), on the CPU."""
        if self.world_size == 1:
            return local[:num_samples].cpu()
        device = self.device if self.device is not None else local.device
        return gather_rows(local.to(device), num_samples, self.world_size, self.all_gather).cpu()

    def gather_padded(self, rows: list[Tensor], num_samples: int, pad: float) -> Tensor:
        """``table[sample, slot]`` of every rank's ``rows`` (one 1-d tensor per local sample, of lengths that
        differ), each row padded with ``pad`` to the longest row of any rank."""
        longest = torch.tensor([[max((len(r) for r in rows), default=0)]])
        width = int(self.gather(longest, self.world_size).max()) if self.world_size > 1 else int(longest)
        table = torch.full((len(rows), width), pad, dtype=rows[0].dtype if rows else torch.float64)
        for i, row in enumerate(rows):
            table[i, :len(row)] = row
        return self.gather(table, num_samples)

    def together(self, work: Callable[[], T]) -> T:
        """``work()`` on every rank; when it fails on any rank, it fails on every rank (the failing rank raises its
        own error, the others a :class:`NumericsError` that points to it), so no rank waits in a collective for a
        rank that stopped."""
        if self.world_size == 1:
            return work()
        result, error = None, None
        try:
            result = work()
        except Exception as err:  # noqa: BLE001 - re-raised below, after every rank knows
            error = err
        if self.any_rank(error is not None):
            if error is not None:
                raise error
            raise NumericsError("the interaction evaluation failed on another rank; that rank's error says why")
        return result


#: the shards of a run in one process
ONE_PROCESS = Shards()

__all__ = ["ONE_PROCESS", "Shards", "gather_rows", "shard_indices"]
