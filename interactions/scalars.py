"""The scalars one evaluation logs, as plain ``{tag: float}`` dictionaries (docs/engine.md#scalars).

Every function takes dividends ``I[sample, mask]`` (float64, bit ``i`` of ``mask`` = variable ``i``; mask 0 is the
empty set, left out of every average) or, for sparse estimates, ``I[sample, slot]`` with ``orders[sample, slot]``
and ``n`` (:mod:`.sparse_slots`). Tags:

- ``interactions/strength/order_k``: mean ``|I(S)|`` over the subsets of order ``k``, then over samples;
- ``interactions/salient_count``: salient interactions per sample (footnote 4);
- ``interactions/matching_error``: universal matching with the salient interactions only (eq. 4; exact only);
- ``knowledge/{preserve,discard,new}/order_k`` and ``/total``: eqs. 6-7 against the pretrain reference;
- ``knowledge/ratio`` and ``knowledge/ratio_weighted``: eq. 8 against both references;
- ``interactions/and_or/*``: the AND-OR interactions (docs/method.md#beyond-the-paper).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import torch
from torch import Tensor

from .and_or import and_or_salient_mask, and_or_strength_by_order
from .metrics import (
    knowledge_by_order,
    knowledge_totals,
    matching_error,
    preserved_ratio,
    salient_count,
    strength_by_order,
)

if TYPE_CHECKING:
    from .and_or import AndOrInteractions

#: the parts of the knowledge split (eqs. 6-7), in the order the tags and figures show them
KNOWLEDGE_PARTS = ("preserve", "discard", "new")


def _finite(dividends: Tensor) -> Tensor:
    return dividends[torch.isfinite(dividends).all(dim=1)]


def strength_scalars(dividends: Tensor, orders: Optional[Tensor] = None, n: Optional[int] = None) -> dict[str, float]:
    """``interactions/strength/order_k`` for ``k = 1..n``."""
    strength = strength_by_order(dividends, orders, n)
    return {f"interactions/strength/order_{k}": float(strength[k]) for k in range(1, strength.numel())}


def interaction_scalars(dividends: Tensor) -> dict[str, float]:
    """``interactions/strength/order_k``, ``interactions/salient_count`` and ``interactions/matching_error`` of a
    dense ``dividends[sample, mask]`` table (NaN rows, skipped samples, left out)."""
    out = strength_scalars(dividends)
    rows = _finite(dividends)
    empty = rows.shape[0] == 0
    out["interactions/salient_count"] = float("nan") if empty else float(salient_count(rows).double().mean())
    out["interactions/matching_error"] = float("nan") if empty else float(matching_error(rows).mean())
    return out


def knowledge_scalars(pretrain: Tensor, current: Tensor, orders: Optional[Tensor] = None,
                      n: Optional[int] = None) -> tuple[dict[str, float], dict[str, Tensor]]:
    """Preserved / discarded / new knowledge of ``current`` against the ``pretrain`` reference (eqs. 6-7), per order
    and in total: ``({"knowledge/preserve/order_k": ..., "knowledge/preserve/total": ..., ...}, by_order)`` with
    ``by_order[part][order]`` for orders ``0..n`` (the figure's numbers)."""
    by_order = knowledge_by_order(pretrain, current, orders, n)
    totals = knowledge_totals(by_order)
    out: dict[str, float] = {}
    for part in KNOWLEDGE_PARTS:
        curve = by_order[part]
        out.update({f"knowledge/{part}/order_{k}": float(curve[k]) for k in range(1, curve.numel())})
        out[f"knowledge/{part}/total"] = totals[part]
    return out, by_order


def ratio_scalars(pretrain: Tensor, finetune: Tensor, scratch: Tensor) -> dict[str, float]:
    """``knowledge/ratio`` (eq. 8, mean over subsets) and ``knowledge/ratio_weighted`` (strength-weighted) of the
    current model as ``scratch``."""
    ratio = preserved_ratio(pretrain, finetune, scratch)
    return {"knowledge/ratio": ratio["ratio"], "knowledge/ratio_weighted": ratio["ratio_weighted"]}


def and_or_scalars(result: AndOrInteractions) -> dict[str, float]:
    """``interactions/and_or/salient_count`` (salient AND plus OR interactions per sample, ``|I| > 0.05 max`` over
    both kinds), ``interactions/and_or/{and,or}_strength/order_k`` (mean over samples of ``Σ |I(S)|`` over the
    salient S of order k: the two-phase quantity) and, for the gradient solver, ``interactions/and_or/gap`` (its
    largest certified relative gap to the optimum)."""
    ok = torch.isfinite(result.and_dividends).all(dim=1)
    out: dict[str, float] = {"interactions/and_or/salient_count": float("nan")}
    if bool(ok.any()):
        and_salient, or_salient = and_or_salient_mask(result)
        counts = and_salient[ok].sum(1) + or_salient[ok].sum(1)
        out["interactions/and_or/salient_count"] = float(counts.double().mean())
    for kind, parts in and_or_strength_by_order(result).items():
        strength = parts["positive"] + parts["negative"]
        out.update({f"interactions/and_or/{kind}_strength/order_{k}": float(strength[k])
                    for k in range(1, strength.numel())})
    if result.solver == "gradient":
        gap = result.gap[ok]
        out["interactions/and_or/gap"] = float(gap.max()) if gap.numel() else float("nan")
    return out


__all__ = [
    "KNOWLEDGE_PARTS",
    "and_or_scalars",
    "interaction_scalars",
    "knowledge_scalars",
    "ratio_scalars",
    "strength_scalars",
]
