"""Fast Möbius transform between set-function values and Harsanyi dividends.

Layout everywhere: the last dimension of ``values[..., mask]`` has ``2**n``
entries, one per subset, indexed by an integer mask with bit ``i`` set when
variable ``i`` is in the subset (docs/method.md#values-and-masking).
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor

from .errors import DataError


def num_variables(num_masks: int) -> int:
    """``n`` such that ``2**n == num_masks``; raises ``ValueError`` otherwise."""
    n = int(num_masks).bit_length() - 1
    if num_masks < 1 or (1 << n) != num_masks:
        raise ValueError(
            f"the last dimension ({num_masks}) must be 2**n, one entry per subset mask; "
            "pass values[sample, mask] for all 2**n masks"
        )
    return n


def as_sample_table(table: Tensor, name: str) -> tuple[Tensor, int]:
    """``table`` as a float64 ``table[sample, mask]`` tensor (``2**n`` masks) and its ``n``; :class:`DataError`
    naming ``name`` when it is not a real 2-d tensor with a power-of-two number of columns."""
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


def _butterfly(table: Tensor, sign: int) -> Tensor:
    n = num_variables(table.shape[-1])
    lead = table.shape[:-1]
    for i in range(n):
        # view [..., high bits, bit i, low bits]; rows with bit i set get the row without it
        view = table.view(*lead, -1, 2, 1 << i)
        if sign < 0:
            view[..., 1, :] -= view[..., 0, :]
        else:
            view[..., 1, :] += view[..., 0, :]
    return table


def harsanyi_dividends(values: Tensor, *, inplace: bool = False) -> Tensor:
    """Harsanyi dividends ``I(S|x) = sum_{T⊆S} (-1)^{|S|-|T|} v(x_T)`` (paper eq. 2).

    ``values[..., mask]`` -> ``dividends[..., mask]`` by the fast Möbius
    transform: ``n * 2**(n-1)`` subtractions, batched over leading dimensions,
    on the values' device and dtype (use float64, docs/method.md#precision-and-budget).
    """
    table = values if inplace else values.clone()
    return _butterfly(table.contiguous() if not inplace else table, -1)


def values_from_dividends(dividends: Tensor, *, inplace: bool = False) -> Tensor:
    """Inverse transform: ``v(x_T) = sum_{S⊆T} I(S|x)`` (universal matching, paper eq. 4)."""
    table = dividends if inplace else dividends.clone()
    return _butterfly(table.contiguous() if not inplace else table, +1)


def subset_orders(n: int, device: torch.device | str | None = None) -> Tensor:
    """``orders[mask]`` = ``|S|`` (popcount of the mask) for all ``2**n`` masks, as int64."""
    masks = torch.arange(1 << n, device=device)
    orders = torch.zeros_like(masks)
    for i in range(n):
        orders += (masks >> i) & 1
    return orders


def mask_to_variables(mask: int) -> tuple[int, ...]:
    """The variables (bit positions) in an integer mask, ascending."""
    return tuple(i for i in range(int(mask).bit_length()) if (mask >> i) & 1)


def variables_to_mask(variables: Iterable[int]) -> int:
    """Integer mask with bit ``i`` set for each variable ``i``."""
    mask = 0
    for i in variables:
        mask |= 1 << int(i)
    return mask


__all__ = [
    "as_sample_table",
    "harsanyi_dividends",
    "mask_to_variables",
    "num_variables",
    "subset_orders",
    "values_from_dividends",
    "variables_to_mask",
]
