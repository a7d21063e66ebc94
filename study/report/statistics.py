"""The small statistics the report derives from the metrics: a guarded ratio, a rank correlation, the
first epoch a curve reaches a level, and eq. 8 per order (docs/method.md#knowledge-metrics)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import torch

from harsanyi_lightning.interactions import preserved_ratio, subset_orders

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["first_at_least", "ratio_by_order", "safe_div", "spearman"]


def safe_div(a: float, b: float) -> float:
    """``a / b``, NaN when ``b`` is zero (a share of nothing)."""
    return a / b if b else float("nan")


def first_at_least(curve: Mapping[int, float], level: float) -> int | None:
    """The first epoch of ``curve`` (``{epoch: value}``) whose value is at least ``level``; ``None`` if none."""
    return next((e for e, j in sorted(curve.items()) if j >= level), None)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (average ranks for ties); NaN when either side is constant."""
    def ranks(v: Sequence[float]) -> Tensor:
        t = torch.tensor(list(v), dtype=torch.float64)
        r = torch.empty_like(t)
        order = torch.argsort(t)
        r[order] = torch.arange(len(t), dtype=torch.float64)
        for val in t.unique():  # average ties
            sel = t == val
            r[sel] = r[sel].mean()
        return r

    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = float((rx.square().sum() * ry.square().sum()).sqrt())
    return float((rx * ry).sum()) / den if den > 0 else float("nan")


def ratio_by_order(a: Tensor, b: Tensor, c: Tensor, orders: Tensor | None = None,
                   n: int | None = None) -> dict[str, list[float]]:
    """Both forms of eq. 8 restricted to the subsets of each order ``1..n``: the
    pretrain dividends of other orders are zeroed, so ``K_preserve = 0`` there and
    :func:`preserved_ratio` leaves them out. ``a, b, c``: ``dividends[sample, mask]``, or ``[sample, slot]`` of
    sparse estimates with their ``orders[sample, slot]`` and ``n``."""
    if orders is None:
        n = a.shape[1].bit_length() - 1
        orders = subset_orders(n)
    elif n is None:
        raise ValueError("ratio_by_order: give n with orders")
    out: dict[str, list[float]] = {"ratio": [], "ratio_weighted": []}
    for i in range(1, n + 1):
        keep = (orders == i).to(a.dtype)
        r = preserved_ratio(a * keep, b, c)
        out["ratio"].append(r["ratio"])
        out["ratio_weighted"].append(r["ratio_weighted"])
    return out
