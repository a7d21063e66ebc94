"""Exact attributions from Harsanyi dividends (SPEC section 7, Grabisch's formulas).

Every function takes ``dividends[sample, mask]`` (``2**n`` columns, bit ``i`` of
``mask`` = variable ``i``) and is one matrix product with a fixed ``[2**n, ...]``
weight table, so it costs no forward pass and no Python loop over masks.
Results are float64; a row with a NaN (a skipped sample) comes back all NaN.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .errors import DataError
from .transform import num_variables, subset_orders


def _sample_table(table: Tensor, name: str) -> tuple[Tensor, int]:
    """``table`` as a float64 ``[sample, mask]`` tensor and its ``n``; ``DataError`` otherwise."""
    if not isinstance(table, Tensor):
        raise DataError(f"{name} must be a torch.Tensor {name}[sample, mask]; got {type(table).__name__}")
    if table.dim() != 2:
        raise DataError(
            f"{name} has shape {tuple(table.shape)}; expected {name}[sample, mask] with 2**n masks "
            f"(use {name}[None] for one sample)"
        )
    if table.is_complex() or table.dtype == torch.bool:
        raise DataError(f"{name} has dtype {table.dtype}; pass real numbers (float64)")
    try:
        n = num_variables(table.shape[1])
    except ValueError as exc:
        raise DataError(f"{name}: {exc}") from None
    return table.to(torch.float64), n


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
    """Shapley values ``phi[sample, i] = sum_{S∋i} m(S) / |S|`` (SPEC section 7).

    Efficiency holds: ``phi.sum(1) = v(x_N) - v(x_∅)``."""
    d, n = _sample_table(dividends, "dividends")
    orders = subset_orders(n, d.device).to(torch.float64)
    weights = _membership(n, d.device) / orders.clamp_min(1)[:, None]
    return _keep_nan_rows(d, d @ weights)


def banzhaf_values(dividends: Tensor) -> Tensor:
    """Banzhaf values ``beta[sample, i] = sum_{S∋i} m(S) / 2**(|S|-1)`` (SPEC section 7)."""
    d, n = _sample_table(dividends, "dividends")
    orders = subset_orders(n, d.device).to(torch.float64)
    weights = _membership(n, d.device) * torch.exp2(1 - orders)[:, None]
    return _keep_nan_rows(d, d @ weights)


def shapley_interaction_index(dividends: Tensor) -> Tensor:
    """Pairwise Shapley interaction index ``sii[sample, i, j] = sum_{S⊇{i,j}} m(S) / (|S|-1)``
    for ``i != j`` (SPEC section 7); symmetric, with a zero diagonal."""
    d, n = _sample_table(dividends, "dividends")
    orders = subset_orders(n, d.device).to(torch.float64)
    bits = _membership(n, d.device)
    scale = torch.where(orders >= 2, 1 / (orders - 1).clamp_min(1), torch.zeros_like(orders))
    pairs = bits[:, :, None] * bits[:, None, :] * scale[:, None, None]
    pairs.diagonal(dim1=1, dim2=2).zero_()
    return _keep_nan_rows(d, d @ pairs.reshape(1 << n, n * n)).reshape(d.shape[0], n, n)


__all__ = ["banzhaf_values", "shapley_interaction_index", "shapley_values"]
