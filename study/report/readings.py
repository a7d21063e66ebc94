"""The two readings of the knowledge metrics, and the per-sample quantities the report's numbers are means of
(docs/method.md#knowledge-metrics and #uncertainty-and-verdicts).

**Dense** reading: the dividends ``a, b, c`` of probe, finetune and scratch as computed (eq. 6-8 over all
subsets). **Salient** reading: each model's dividends with ``|I(S|x)| <= tau`` set to 0 first, ``tau = 0.05
max_{S != empty} |I(S|x)|`` of that model and sample (footnote 4), so the knowledge is the salient
interactions; averages still run over all subsets of an order (the zeros count).

:func:`knowledge_features` gives, per sample, every quantity whose mean over samples makes a headline
number: the order averages ``K^(i)`` of each part (``order.<part>[sample, i-1]``), the sums over subsets
(``subsets.<part>[sample]``) and the sample's Ratio in both forms (``ratio.mean`` / ``ratio.weighted``,
NaN where the sample has no subset with ``K_preserve > 0``). :func:`knowledge_statistics` turns their
means (over samples, or over a bootstrap resample: a leading resample axis) into the report's numbers.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
from torch import Tensor

from harsanyi_lightning.interactions import (
    jaccard_similarity,
    knowledge_split,
    order_means,
    salient_mask,
    subset_orders,
)

__all__ = [
    "DENSE", "PARTS", "READINGS", "SALIENT", "average_ranks", "jaccard_features", "knowledge_features",
    "knowledge_statistics", "reading_dividends", "spearman_rows", "spearman_with_order",
]

DENSE, SALIENT = "dense", "salient"
#: the readings every interaction finding is judged in, and what each means
READINGS = {
    DENSE: "all subsets: the dividends as computed",
    SALIENT: "salient only: each model's dividends with |I(S)| <= 0.05 max|I| of that sample set to 0 first",
}
#: the parts of the knowledge split (eq. 6-7) and the two models' own strength
PARTS = ("pretrain", "preserve", "discard", "new", "finetune")


def reading_dividends(dividends: Tensor, reading: str) -> Tensor:
    """``dividends[sample, mask]`` as the reading sees them: unchanged (dense), or with the non-salient ones
    set to 0 (salient; the empty set's dividend, never salient, is kept: no metric reads it)."""
    if reading == DENSE:
        return dividends
    if reading != SALIENT:
        raise ValueError(f"reading={reading!r}; use one of {list(READINGS)}")
    keep = salient_mask(dividends)
    keep[:, 0] = True
    return torch.where(keep, dividends, torch.zeros_like(dividends))


def knowledge_features(a: Tensor, b: Tensor, c: Tensor, orders: Tensor | None = None,
                       n: int | None = None) -> dict[str, Tensor]:
    """Per-sample quantities of the knowledge split (eq. 6-7) and the Ratio (eq. 8) from the
    ``dividends[sample, mask]`` of probe (``a``), finetune (``b``) and scratch (``c``) in one reading; for sparse
    estimates their ``dividends[sample, slot]`` on one slot layout with its ``orders[sample, slot]`` and ``n``
    (:mod:`~harsanyi_lightning.interactions.sparse_slots`: absent subsets count 0).
    A sample whose row is not finite in the models a quantity needs gets NaN there (left out of means)."""
    if orders is None:
        n = a.shape[1].bit_length() - 1
        orders = subset_orders(n)
    elif n is None:
        raise ValueError("knowledge_features: give n with orders")
    split = knowledge_split(a, b)
    parts = {"pretrain": a.abs(), "finetune": b.abs(), **split}
    out: dict[str, Tensor] = {}
    for name in PARTS:
        per_subset = parts[name]
        ok = torch.isfinite(per_subset).all(dim=1)
        clean = torch.where(ok[:, None], per_subset, torch.zeros_like(per_subset))
        nan = torch.full((a.shape[0],), math.nan, dtype=a.dtype)
        out[f"order.{name}"] = torch.where(ok[:, None], order_means(clean, orders, n)[:, 1:], nan[:, None])
        out[f"subsets.{name}"] = torch.where(ok, clean[:, 1:].sum(dim=1), nan)
    ok = (torch.isfinite(a) & torch.isfinite(b) & torch.isfinite(c)).all(dim=1)
    aa, cc, kp = a[:, 1:], c[:, 1:], split["preserve"][:, 1:]
    shared = torch.where(aa * cc > 0, torch.minimum(cc.abs(), kp), torch.zeros_like(kp))
    defined = kp > 0
    per_s = torch.where(defined, shared / kp.clamp_min(1e-300), torch.zeros_like(kp))
    count = defined.sum(dim=1)
    has = ok & (count > 0)
    nan = torch.full((a.shape[0],), math.nan, dtype=a.dtype)
    out["ratio.mean"] = torch.where(has, per_s.sum(dim=1) / count.clamp_min(1), nan)
    out["ratio.weighted"] = torch.where(has, shared.sum(dim=1) / kp.sum(dim=1).clamp_min(1e-300), nan)
    return out


def average_ranks(values: Tensor) -> Tensor:
    """``ranks[row, i]`` of each row's values (0-based; ties get their average rank), vectorised over rows."""
    less = (values[:, None, :] < values[:, :, None]).sum(dim=-1).to(torch.float64)
    equal = (values[:, None, :] == values[:, :, None]).sum(dim=-1).to(torch.float64)
    return less + (equal - 1) / 2


def spearman_rows(x: Sequence[float], rows: Tensor) -> Tensor:
    """Spearman rho of ``x`` against each row of ``rows[row, k]`` (average ranks for ties), as
    :func:`~harsanyi_lightning.study.report.statistics.spearman`; NaN for a constant side or a row with a NaN."""
    k = rows.shape[-1]
    rx = average_ranks(torch.tensor([list(x)], dtype=torch.float64))[0]
    rx = rx - rx.mean()
    ry = average_ranks(rows)
    ry = ry - ry.mean(dim=-1, keepdim=True)
    den = (rx.square().sum() * ry.square().sum(dim=-1)).sqrt()
    rho = (ry * rx).sum(dim=-1) / den.clamp_min(1e-300)
    bad = (den == 0) | torch.isnan(rows).any(dim=-1) | (k < 2)
    return torch.where(bad, torch.full_like(rho, math.nan), rho)


def spearman_with_order(values: Tensor) -> Tensor:
    """Spearman rho of the order ``1..k`` against each row of ``values[row, k]``: :func:`spearman_rows`."""
    return spearman_rows(range(values.shape[-1]), values)


def _ratio(x: Tensor, y: Tensor) -> Tensor:
    return torch.where(y != 0, x / torch.where(y != 0, y, torch.ones_like(y)), torch.full_like(x, math.nan))


def knowledge_statistics(means: Mapping[str, Tensor], n: int) -> dict[str, Tensor]:
    """The report's knowledge numbers from the means of :func:`knowledge_features` (each ``[resample, ...]``):
    ``discard_over_preserve`` (totals as the sum of the order averages, Fig. 2), its ``_subsets`` form (totals
    as the sum over subsets), ``discard_over_preserve_by_order[resample, i-1]``, ``new_over_preserve`` (both
    aggregations), ``discard_share_spearman`` (Spearman rho of order against ``K_discard^(i) / K_pretrain^(i)``),
    ``new_high_order_share`` (share of ``K_new`` at orders above n/2), ``ratio`` and ``ratio_weighted``."""
    order = {p: means[f"order.{p}"] for p in PARTS}
    total = {p: v.sum(dim=-1) for p, v in order.items()}
    subsets = {p: means[f"subsets.{p}"] for p in PARTS}
    share = _ratio(order["discard"], order["pretrain"])
    high = torch.arange(1, n + 1) > n / 2
    rho = spearman_with_order(share)
    return {
        "discard_over_preserve": _ratio(total["discard"], total["preserve"]),
        "discard_over_preserve_subsets": _ratio(subsets["discard"], subsets["preserve"]),
        "discard_over_preserve_by_order": _ratio(order["discard"], order["preserve"]),
        "new_over_preserve": _ratio(total["new"], total["preserve"]),
        "new_over_preserve_subsets": _ratio(subsets["new"], subsets["preserve"]),
        "discard_share_spearman": rho,
        "new_high_order_share": _ratio(order["new"][:, high].sum(dim=-1), total["new"]),
        "ratio": means["ratio.mean"],
        "ratio_weighted": means["ratio.weighted"],
    }


def jaccard_features(curve: Mapping[int, Tensor], final: Tensor) -> Tensor:
    """``J[sample, evaluation]`` (eq. 9) of each evaluation's ``dividends[sample, mask]`` (``curve`` keyed by
    global step, ascending) with the final one's; NaN for a sample whose row is not finite in both."""
    cols = []
    for step in sorted(curve):
        d = curve[step]
        ok = torch.isfinite(d).all(dim=1) & torch.isfinite(final).all(dim=1)
        j = jaccard_similarity(torch.where(ok[:, None], d, torch.zeros_like(d)),
                               torch.where(ok[:, None], final, torch.zeros_like(final)))
        cols.append(torch.where(ok, j, torch.full_like(j, math.nan)))
    return torch.stack(cols, dim=1) if cols else torch.zeros(final.shape[0], 0, dtype=torch.float64)
