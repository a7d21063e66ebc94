"""Sparse dividends of several models on one compact table per sample (docs/method.md#sparse-estimation).

A sparse estimate (:class:`~harsanyi_lightning.interactions.sparse.SparseInteractions`) holds, per sample, the
recovered subsets ``masks[i]`` and their ``dividends[i]``; every other subset's dividend is 0. To compare several
models (the knowledge split, eq. 6-8) or several evaluations (Jaccard, eq. 9) without ever building a table of
``2**n`` entries, each sample's subsets are the union of the recovered ones of every model, in **slots**:

- ``dividends[sample, slot]`` (float64) for each model, 0 where that model did not recover the subset;
- slot 0 is always the empty set (mask 0), as column 0 is in a dense ``dividends[sample, mask]`` table, so
  every metric that leaves the empty set out (``[:, 1:]``) reads slots the same way;
- ``orders[sample, slot]`` = ``|S|`` of each slot; samples with fewer subsets are padded with zero dividends,
  order 0 and mask -1 (no metric reads them: their dividends are 0 and order 0 is the empty set's).

Order averages then divide by ``C(n, k)`` (:func:`order_counts`), the number of subsets of order ``k``, so the
absent subsets count as 0: the numbers equal the dense path's on a table with the absent subsets set to 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

__all__ = ["SlotTables", "mask_orders", "order_counts", "slot_tables"]

#: the mask of a padding slot
PAD_MASK = -1


def order_counts(n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """``counts[k]`` = ``C(n, k)``, the number of subsets of order ``k = 0..n`` (the denominators of order averages)."""
    return torch.tensor([math.comb(n, k) for k in range(n + 1)], dtype=dtype)


def mask_orders(masks: Tensor, n: int) -> Tensor:
    """``|S|`` of each int64 bit-mask (bit ``j`` = variable ``j``); a negative (padding) mask has order 0."""
    bits = (masks.clamp_min(0).unsqueeze(-1) >> torch.arange(n, dtype=torch.long)) & 1
    return bits.sum(dim=-1)


@dataclass(frozen=True)
class SlotTables:
    """Several models' sparse dividends on one slot layout (module docstring).

    ``tables[m]``: ``dividends[sample, slot]`` of model ``m`` (float64); ``masks[sample, slot]`` (int64, -1 for
    padding); ``orders[sample, slot]`` (int64); ``n``: the number of variables."""

    tables: tuple[Tensor, ...]
    masks: Tensor
    orders: Tensor
    n: int


def _scatter(masks: Tensor, dividends: Tensor, union: Tensor, width: int) -> Tensor:
    row = torch.zeros(width, dtype=torch.float64)
    if masks.numel():
        row[torch.searchsorted(union, masks.to(torch.long))] = dividends.to(torch.float64)
    return row


def slot_tables(models: Sequence[tuple[Sequence[Tensor], Sequence[Tensor]]], n: int) -> SlotTables:
    """The slot layout of ``models`` (each ``(masks[i], dividends[i])`` per sample, the same samples in each):
    per sample the sorted union of every model's recovered masks with the empty set in slot 0."""
    if not models:
        raise ValueError("slot_tables needs at least one model")
    num = len(models[0][0])
    if any(len(m) != num or len(d) != num for m, d in models):
        raise ValueError("every model must hold the same samples")
    unions = []
    for i in range(num):
        parts = [torch.zeros(1, dtype=torch.long)] + [m[i].to(torch.long).flatten() for m, _ in models]
        unions.append(torch.unique(torch.cat(parts)))  # sorted: mask 0 first
    width = max((len(u) for u in unions), default=1)
    masks = torch.full((num, width), PAD_MASK, dtype=torch.long)
    for i, u in enumerate(unions):
        masks[i, :len(u)] = u
    tables = tuple(
        torch.stack([_scatter(m[i].flatten(), d[i].flatten(), unions[i], width) for i in range(num)])
        if num else torch.zeros(0, width, dtype=torch.float64)
        for m, d in models)
    return SlotTables(tables=tables, masks=masks, orders=mask_orders(masks, n), n=n)
