"""Splitting the samples of an annotated sample set across DDP ranks and gathering them back.

Rank ``r`` of ``W`` gets the contiguous block ``[r*p, (r+1)*p)`` with
``p = ceil(S / W)``, indices past the end replaced by the last sample (padding),
so every rank evaluates the same number of samples and ``all_gather`` sees equal
shapes. Gathering ``values[rank, p, mask]`` and keeping the first ``S`` rows of the
rank-major flattening restores the original order without the padding duplicates.
"""
from __future__ import annotations

import math
from typing import Callable

from torch import Tensor


def shard_indices(num_samples: int, world_size: int, rank: int) -> list[int]:
    """Sample indices of ``rank`` (length ``ceil(num_samples / world_size)``, padded with the last index)."""
    per = math.ceil(num_samples / world_size)
    return [min(rank * per + j, num_samples - 1) for j in range(per)]


def gather_values(local: Tensor, num_samples: int, world_size: int, all_gather: Callable[[Tensor], Tensor]) -> Tensor:
    """``values[sample, mask]`` for all samples from each rank's ``local[p, mask]`` (see module docstring)."""
    if world_size == 1:
        return local[:num_samples]
    gathered = all_gather(local.contiguous())  # [world, p, mask]
    if gathered.dim() != local.dim() + 1 or gathered.shape[0] != world_size:
        raise RuntimeError(f"all_gather returned shape {tuple(gathered.shape)} for {world_size} ranks")
    return gathered.reshape(-1, *local.shape[1:])[:num_samples].clone()


__all__ = ["shard_indices", "gather_values"]
