"""Exact attributions from Harsanyi dividends (docs/method.md#beyond-the-paper; Grabisch's formulas).

Every function takes ``dividends[sample, mask]`` (``2**n`` columns, bit ``i`` of
``mask`` = variable ``i``) and is one matrix product with a fixed ``[2**n, ...]``
weight table, so it costs no forward pass and no Python loop over masks.
Results are float64; a row with a NaN (a skipped sample) comes back all NaN.
"""
from __future__ import annotations

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


__all__ = ["banzhaf_values", "shapley_interaction_index", "shapley_values"]
