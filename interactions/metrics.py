"""Metrics over dividends ``I[sample, mask]`` (docs/method.md#values-and-masking and #knowledge-metrics).

The empty set (mask 0) is stored with the dividends but left out of every
per-order average, salient set and Jaccard vector. Per-sample numbers are
averaged over samples; rows that are NaN (skipped samples) are ignored.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .sparse_slots import order_counts
from .transform import num_variables, subset_orders, values_from_dividends

#: a salient interaction has |I(S)| > TAU_RATIO · max_{S≠∅} |I(S)| in its sample (footnote 4)
TAU_RATIO = 0.05


def _finite_rows(*tables: Tensor) -> Tensor:
    ok = torch.ones(tables[0].shape[0], dtype=torch.bool, device=tables[0].device)
    for t in tables:
        ok &= torch.isfinite(t).all(dim=1)
    return ok


def salient_mask(dividends: Tensor, tau_ratio: float = TAU_RATIO) -> Tensor:
    """``salient[sample, mask]``: ``|I(S)| > tau``, ``tau = tau_ratio * max_{S≠∅} |I(S)|`` (footnote 4).
    The empty set is never salient."""
    mag = dividends.abs()
    mag[:, 0] = 0
    tau = tau_ratio * mag.max(dim=1, keepdim=True).values
    return mag > tau


def salient_count(dividends: Tensor, tau_ratio: float = TAU_RATIO) -> Tensor:
    """Number of salient interactions per sample, ``count[sample]``."""
    return salient_mask(dividends, tau_ratio).sum(dim=1)


def matching_error(dividends: Tensor, tau_ratio: float = TAU_RATIO) -> Tensor:
    """Universal-matching error with salient interactions only, ``error[sample]``.

    ``v̂(x_T) = I(∅) + Σ_{S⊆T, S salient} I(S)`` against the exact
    ``v(x_T) = Σ_{S⊆T} I(S)`` (eq. 4), as ``mean_T |v - v̂| / mean_T |v - v(x_∅)|``:
    the share of the output change the dropped interactions fail to explain."""
    keep = salient_mask(dividends, tau_ratio)
    keep[:, 0] = True
    exact = values_from_dividends(dividends)
    approx = values_from_dividends(torch.where(keep, dividends, torch.zeros_like(dividends)))
    scale = (exact - exact[:, :1]).abs().mean(dim=1).clamp_min(1e-300)
    return (exact - approx).abs().mean(dim=1) / scale


def order_means(per_subset: Tensor, orders: Tensor | None = None, n: int | None = None) -> Tensor:
    """``out[sample, order]`` = ``E_{|S|=order} per_subset[sample, S]`` for orders 0..n (order 0 is the empty set).

    ``per_subset[sample, mask]`` over all ``2**n`` masks (``orders`` then defaults to each mask's order); or, for
    sparse estimates, ``per_subset[sample, slot]`` with ``orders[sample, slot]`` and ``n`` (:mod:`.sparse_slots`).
    Each order's sum is divided by ``C(n, k)``, so subsets not in a slot count 0."""
    if orders is None:
        n = num_variables(per_subset.shape[-1])
        orders = subset_orders(n, per_subset.device)
    elif n is None:
        raise ValueError("order_means: give n with orders")
    sums = torch.zeros(per_subset.shape[0], n + 1, dtype=per_subset.dtype, device=per_subset.device)
    sums.scatter_add_(1, orders.expand_as(per_subset), per_subset)
    return sums / order_counts(n, per_subset.dtype).to(per_subset.device)


def mean_by_order(per_subset: Tensor, orders: Tensor | None = None, n: int | None = None) -> Tensor:
    """``out[order]`` = ``E_x E_{|S|=order} per_subset[x, S]`` for orders 0..n: :func:`order_means` averaged over
    the samples whose row is finite (order 0 is the empty set; callers leave it out of averages)."""
    ok = _finite_rows(per_subset)
    if orders is not None:
        if n is None:
            raise ValueError("mean_by_order: give n with orders")
        orders = orders.expand_as(per_subset)[ok]
    return order_means(per_subset[ok], orders, n).mean(dim=0)


def strength_by_order(dividends: Tensor, orders: Tensor | None = None, n: int | None = None) -> Tensor:
    """Mean ``|I(S)|`` per order ``[0..n]``, averaged over samples (``orders``, ``n``: see :func:`mean_by_order`)."""
    return mean_by_order(dividends.abs(), orders, n)


def salient_strength_by_order(dividends: Tensor, salient: Tensor | None = None,
                              tau_ratio: float = TAU_RATIO, orders: Tensor | None = None,
                              n: int | None = None) -> dict[str, Tensor]:
    """Strength of the salient interactions by order, positive and negative apart
    (docs/method.md#beyond-the-paper, two-phase view), from ``dividends[sample, mask]``.

    ``{"positive": A⁺[order], "negative": A⁻[order]}`` for orders ``0..n`` (order 0 is always 0):
    ``A±(k) = E_x Σ_{S salient, |S|=k} max(±I(S|x), 0)``, both ``>= 0``. ``salient[sample, mask]``
    defaults to :func:`salient_mask` of ``dividends``; rows with a NaN (skipped samples) are ignored. Sparse
    estimates: ``dividends[sample, slot]`` with ``orders[sample, slot]`` and ``n`` (:mod:`.sparse_slots`)."""
    slots = orders is not None
    if not slots:
        n = num_variables(dividends.shape[-1])
        orders = subset_orders(n, dividends.device)
    elif n is None:
        raise ValueError("salient_strength_by_order: give n with orders")
    if salient is None:
        salient = salient_mask(dividends, tau_ratio)
    ok = _finite_rows(dividends)
    rows, keep = dividends[ok], salient[ok]
    out = {}
    for name, sign in (("positive", 1.0), ("negative", -1.0)):
        part = torch.where(keep, (sign * rows).clamp_min(0), torch.zeros_like(rows))
        sums = torch.zeros(rows.shape[0], n + 1, dtype=rows.dtype, device=rows.device)
        if slots:
            sums.scatter_add_(1, orders.expand_as(dividends)[ok], part)
        else:
            sums.index_add_(1, orders, part)
        out[name] = sums.mean(dim=0) if rows.shape[0] else torch.full((n + 1,), float("nan"), dtype=rows.dtype)
    return out


def knowledge_split(pretrain: Tensor, finetune: Tensor) -> dict[str, Tensor]:
    """Per subset ``[sample, mask]``: ``preserve = 1(a·b>0)·min(|a|,|b|)`` (eq. 6),
    ``discard = |a| - preserve``, ``new = |b| - preserve`` (eq. 7)."""
    a, b = pretrain, finetune
    preserve = torch.where(a * b > 0, torch.minimum(a.abs(), b.abs()), torch.zeros_like(a))
    return {"preserve": preserve, "discard": a.abs() - preserve, "new": b.abs() - preserve}


def knowledge_by_order(pretrain: Tensor, finetune: Tensor, orders: Tensor | None = None,
                       n: int | None = None) -> dict[str, Tensor]:
    """``K^(i)`` for preserve/discard/new/pretrain/finetune, ``out[name][order]`` for orders ``0..n`` (use ``[1:]``),
    from two models' ``dividends[sample, mask]`` (or ``[sample, slot]`` with ``orders`` and ``n``:
    :func:`mean_by_order`)."""
    split = knowledge_split(pretrain, finetune)
    out = {k: mean_by_order(v, orders, n) for k, v in split.items()}
    out["pretrain"] = mean_by_order(pretrain.abs(), orders, n)
    out["finetune"] = mean_by_order(finetune.abs(), orders, n)
    return out


def knowledge_totals(by_order: dict[str, Tensor]) -> dict[str, float]:
    """Sum over orders 1..n of each ``K^(i)`` curve (``by_order[name][order]``, as :func:`knowledge_by_order` gives)."""
    return {k: float(v[1:].sum()) for k, v in by_order.items()}


def preserved_ratio(pretrain: Tensor, finetune: Tensor, scratch: Tensor) -> dict[str, float]:
    """Share of preserved knowledge that the scratch model also learns (eq. 8); the three arguments are the
    ``dividends[sample, mask]`` of the three models on one sample set.

    ``ratio(S) = 1(a·c>0)·min(|c|, K_preserve(S)) / K_preserve(S)`` where ``K_preserve(S) > 0``.
    ``ratio``: the paper's ``E_x E_S ratio(S)`` over those ``S``; ``ratio_weighted``:
    per sample ``Σ_S min(|c|, K_preserve)·1(a·c>0) / Σ_S K_preserve``, then averaged."""
    ok = _finite_rows(pretrain, finetune, scratch)
    a, b, c = pretrain[ok][:, 1:], finetune[ok][:, 1:], scratch[ok][:, 1:]
    kp = knowledge_split(a, b)["preserve"]
    shared = torch.where(a * c > 0, torch.minimum(c.abs(), kp), torch.zeros_like(kp))
    defined = kp > 0
    per_s = torch.where(defined, shared / kp.clamp_min(1e-300), torch.zeros_like(kp))
    count = defined.sum(dim=1)
    has = count > 0
    if not bool(has.any()):
        return {"ratio": float("nan"), "ratio_weighted": float("nan")}
    ratio = (per_s.sum(dim=1)[has] / count[has]).mean()
    weighted = (shared.sum(dim=1)[has] / kp.sum(dim=1)[has]).mean()
    return {"ratio": float(ratio), "ratio_weighted": float(weighted)}


def jaccard_similarity(first: Tensor, second: Tensor) -> Tensor:
    """Generalised Jaccard (eq. 9) per sample, ``J[sample]``: each interaction vector
    (non-empty subsets) becomes ``[max(I,0), -min(I,0)]`` and ``J = ‖min(u,w)‖₁ / ‖max(u,w)‖₁``.
    Two all-zero vectors count as identical (J = 1)."""
    def split(t: Tensor) -> Tensor:
        t = t[:, 1:]
        return torch.cat([t.clamp_min(0), (-t).clamp_min(0)], dim=1)

    u, w = split(first), split(second)
    num = torch.minimum(u, w).sum(dim=1)
    den = torch.maximum(u, w).sum(dim=1)
    return torch.where(den > 0, num / den.clamp_min(1e-300), torch.ones_like(den))


def mean_jaccard(first: Tensor, second: Tensor) -> float:
    """Jaccard of two ``dividends[sample, mask]`` averaged over the samples whose rows are finite in both."""
    ok = _finite_rows(first, second)
    return float(jaccard_similarity(first[ok], second[ok]).mean())


def sparse_jaccard(masks_a: Tensor, dividends_a: Tensor, masks_b: Tensor, dividends_b: Tensor) -> float:
    """Jaccard similarity (eq. 9) of one sample's two sparse dividend vectors (int64 bit-masks and their dividends)
    over the non-empty subsets, a subset absent from one counting as 0 there; two all-zero vectors count as
    identical (1)."""
    union = torch.unique(torch.cat([masks_a, masks_b]))
    union = union[union != 0]

    def split(masks: Tensor, dividends: Tensor) -> Tensor:
        dense = torch.zeros(len(union), dtype=torch.float64)
        keep = masks != 0
        dense[torch.searchsorted(union, masks[keep])] = dividends[keep].to(torch.float64)
        return torch.cat([dense.clamp_min(0), (-dense).clamp_min(0)])

    u, w = split(masks_a, dividends_a), split(masks_b, dividends_b)
    den = float(torch.maximum(u, w).sum())
    return 1.0 if den == 0 else float(torch.minimum(u, w).sum()) / den


__all__ = [
    "TAU_RATIO",
    "jaccard_similarity",
    "knowledge_by_order",
    "knowledge_split",
    "knowledge_totals",
    "matching_error",
    "mean_by_order",
    "mean_jaccard",
    "order_means",
    "preserved_ratio",
    "salient_count",
    "salient_mask",
    "salient_strength_by_order",
    "sparse_jaccard",
    "strength_by_order",
]
