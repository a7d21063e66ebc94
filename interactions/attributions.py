"""Attributions from Harsanyi dividends (docs/method.md#beyond-the-paper; Grabisch's formulas).

The first three functions take ``dividends[sample, mask]`` (``2**n`` columns, bit ``i`` of ``mask`` = variable
``i``) and are one matrix product each with a fixed ``[2**n, ...]`` weight table, so they cost no forward pass and
no Python loop over masks; a row with a NaN (a skipped sample) comes back all NaN. :func:`attributions_of_parts`
applies the same formulas to sparse estimates (per sample the subsets held and their dividends, every other
subset 0). Results are float64.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from .transform import as_sample_table, subset_orders


def _keep_nan_rows(table: Tensor, out: Tensor) -> Tensor:
    """Rows of ``table`` with a NaN (skipped samples) are NaN in ``out`` too, whatever the BLAS does."""
    skipped = torch.isnan(table).any(dim=1)
    if bool(skipped.any()):
        out[skipped] = float("nan")
    return out


def _membership(n: int, device: torch.device) -> Tensor:
    """``bits[mask, i]`` = 1.0 when variable ``i`` is in ``mask`` (float64, ``[2**n, n]``)."""
    masks = torch.arange(1 << n, device=device)
    return ((masks[:, None] >> torch.arange(n, device=device)) & 1).to(torch.float64)


def shapley_values(dividends: Tensor) -> Tensor:
    """Shapley values ``phi[sample, i] = sum_{S∋i} m(S) / |S|`` (docs/method.md#beyond-the-paper).

    Efficiency holds: ``phi.sum(1) = v(x_N) - v(x_∅)``."""
    d, n = as_sample_table(dividends, "dividends")
    orders = subset_orders(n, d.device).to(torch.float64)
    weights = _membership(n, d.device) / orders.clamp_min(1)[:, None]
    return _keep_nan_rows(d, d @ weights)


def banzhaf_values(dividends: Tensor) -> Tensor:
    """Banzhaf values ``beta[sample, i] = sum_{S∋i} m(S) / 2**(|S|-1)`` (docs/method.md#beyond-the-paper)."""
    d, n = as_sample_table(dividends, "dividends")
    orders = subset_orders(n, d.device).to(torch.float64)
    weights = _membership(n, d.device) * torch.exp2(1 - orders)[:, None]
    return _keep_nan_rows(d, d @ weights)


def shapley_interaction_index(dividends: Tensor) -> Tensor:
    """Pairwise Shapley interaction index ``sii[sample, i, j] = sum_{S⊇{i,j}} m(S) / (|S|-1)``
    for ``i != j`` (docs/method.md#beyond-the-paper); symmetric, with a zero diagonal."""
    d, n = as_sample_table(dividends, "dividends")
    orders = subset_orders(n, d.device).to(torch.float64)
    bits = _membership(n, d.device)
    scale = torch.where(orders >= 2, 1 / (orders - 1).clamp_min(1), torch.zeros_like(orders))
    pairs = bits[:, :, None] * bits[:, None, :] * scale[:, None, None]
    pairs.diagonal(dim1=1, dim2=2).zero_()
    return _keep_nan_rows(d, d @ pairs.reshape(1 << n, n * n)).reshape(d.shape[0], n, n)


def attributions_of_parts(masks: Sequence[Tensor], dividends: Sequence[Tensor], n: int) -> dict[str, Tensor]:
    """``{"shapley": [sample, i], "banzhaf": [sample, i], "sii": [sample, i, j]}`` of sparse estimates, per sample
    the int64 bit-masks ``masks[k]`` of the subsets held and their ``dividends[k]``: the formulas of
    :func:`shapley_values`, :func:`banzhaf_values` and :func:`shapley_interaction_index` over those subsets."""
    shapley, banzhaf, sii = [], [], []
    for subsets, values in zip(masks, dividends):
        bits = ((subsets.view(-1, 1).to(torch.long) >> torch.arange(n, dtype=torch.long)) & 1).to(torch.float64)
        values = values.to(torch.float64)
        order = bits.sum(dim=1)
        shapley.append((values / order.clamp_min(1)) @ bits)
        banzhaf.append((values * torch.exp2(1 - order)) @ bits)
        scale = torch.where(order >= 2, values / (order - 1).clamp_min(1), torch.zeros_like(values))
        pairs = torch.einsum("s,si,sj->ij", scale, bits, bits)
        pairs.diagonal().zero_()
        sii.append(pairs)
    if not shapley:
        return {"shapley": torch.zeros(0, n, dtype=torch.float64), "banzhaf": torch.zeros(0, n, dtype=torch.float64),
                "sii": torch.zeros(0, n, n, dtype=torch.float64)}
    return {"shapley": torch.stack(shapley), "banzhaf": torch.stack(banzhaf), "sii": torch.stack(sii)}


__all__ = ["attributions_of_parts", "banzhaf_values", "shapley_interaction_index", "shapley_values"]
