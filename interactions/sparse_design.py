"""The masks a sparse estimate is fitted on and checked on, and the checks of its options.

Layouts: masks are int64 tensors, bit ``j`` set when variable ``j`` is kept, so ``n`` is capped at
:data:`MAX_SPARSE_VARIABLES` (62). The fit masks are the empty mask, the full mask and ``budget - 2``
distinct uniformly random masks; the held-out masks are distinct uniformly random masks that are not
fit masks (docs/method.md#sparse-estimation).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .errors import ConfigError

#: the largest number of variables: masks are int64 bit-masks
MAX_SPARSE_VARIABLES = 62
#: held-out masks per sample when the game has that many to spare
DEFAULT_HELDOUT = 1000
#: orders past this one cost no more budget in :func:`minimum_budget` (they reuse the same masks)
_ORDERS_PRICED = 4


def resolved_order(n: int, max_order: int | None) -> int:
    """The order cap in effect: ``max_order``, or ``n`` when it is ``None``."""
    return n if max_order is None else min(max_order, n)


def minimum_budget(n: int, max_order: int | None) -> int:
    """The smallest budget accepted: 4 masks per first-level candidate (the constant and the ``n`` singletons)
    for each order grown, orders above 4 priced as 4 (docs/method.md#sparse-estimation)."""
    return 4 * (n + 1) * min(resolved_order(n, max_order), _ORDERS_PRICED)


def check_sparse_options(n: int, budget: int, max_order: int | None = None, heldout: int = DEFAULT_HELDOUT) -> int:
    """Validate the options of a sparse estimate before any forward pass; return the order cap in effect.

    Raises:
        ConfigError: naming the argument and the fix (``n`` above 62, ``budget`` not an int, too small for the
            order, or not below ``2**n``; ``max_order`` or ``heldout`` not a positive int).
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ConfigError(f"n={n!r} must be a positive integer number of input variables")
    if n > MAX_SPARSE_VARIABLES:
        raise ConfigError(
            f"n={n} input variables is above the sparse estimator's cap of {MAX_SPARSE_VARIABLES} (masks are int64 "
            f"bit-masks); use at most {MAX_SPARSE_VARIABLES} variables (fewer words, patches or feature groups)"
        )
    if max_order is not None and (not isinstance(max_order, int) or isinstance(max_order, bool) or max_order < 1):
        raise ConfigError(f"max_order={max_order!r} must be a positive integer (the largest subset size) or None")
    if not isinstance(budget, int) or isinstance(budget, bool):
        raise ConfigError(
            f"budget={budget!r} must be an int: the number of masked forward passes per sample (e.g. budget=4096)"
        )
    need = minimum_budget(n, max_order)
    if budget < need:
        raise ConfigError(
            f"budget={budget} is too small for n={n} variables and max_order={max_order}: it needs at least {need} "
            f"masked forward passes per sample; raise budget to >= {need} or lower max_order"
        )
    if budget >= 1 << n:
        raise ConfigError(
            f"budget={budget} is not below 2**n = {1 << n}: every mask fits in the budget, so compute the exact "
            "dividends with harsanyi_interactions instead, or lower budget"
        )
    if not isinstance(heldout, int) or isinstance(heldout, bool) or heldout < 1:
        raise ConfigError(f"heldout={heldout!r} must be a positive integer number of held-out masks (default 1000)")
    return resolved_order(n, max_order)


def draw_distinct_masks(n: int, count: int, generator: torch.Generator, exclude: Tensor) -> Tensor:
    """``count`` distinct uniformly random int64 masks over ``n`` bits, none in ``exclude`` (sorted)."""
    if n <= 20:
        pool = torch.randperm(1 << n, generator=generator)
        pool = pool[~torch.isin(pool, exclude)]
        return pool[:count].sort().values
    chosen = exclude.new_empty(0)
    while len(chosen) < count:
        draw = torch.randint(0, 1 << n, (2 * (count - len(chosen)),), generator=generator, dtype=torch.long)
        draw = torch.unique(draw)
        draw = draw[~torch.isin(draw, exclude) & ~torch.isin(draw, chosen)]
        keep = draw[torch.randperm(len(draw), generator=generator)[: count - len(chosen)]]
        chosen = torch.cat([chosen, keep])
    return chosen.sort().values


def sparse_design(n: int, budget: int, heldout: int = DEFAULT_HELDOUT, seed: int = 0) -> tuple[Tensor, Tensor]:
    """``(fit_masks[budget], heldout_masks[h])`` for ``seed``: the empty and full masks plus ``budget - 2`` random
    ones to fit on, and ``h = min(heldout, 2**n - budget)`` other random masks to check on."""
    generator = torch.Generator().manual_seed(seed)
    ends = torch.tensor([0, (1 << n) - 1], dtype=torch.long)
    fit = torch.cat([ends, draw_distinct_masks(n, budget - 2, generator, ends)])
    held = draw_distinct_masks(n, min(heldout, (1 << n) - budget), generator, fit)
    return fit, held


__all__ = [
    "DEFAULT_HELDOUT",
    "MAX_SPARSE_VARIABLES",
    "check_sparse_options",
    "draw_distinct_masks",
    "minimum_budget",
    "resolved_order",
    "sparse_design",
]
