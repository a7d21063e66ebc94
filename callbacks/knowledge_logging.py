"""Metric dictionaries the interaction callback logs (docs/method.md#values-and-masking, #knowledge-metrics).

Every metric function takes dividends ``I[sample, mask]`` (float64, mask = integer,
bit i = variable i; mask 0 is the empty set, left out of every average) and
returns plain ``{tag: float}`` dictionaries ready for ``logger.log_metrics``.
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor

from harsanyi_lightning.interactions.and_or import AndOrInteractions, and_or_salient_mask, and_or_strength_by_order
from harsanyi_lightning.interactions.metrics import (
    knowledge_by_order,
    knowledge_totals,
    matching_error,
    mean_jaccard,
    preserved_ratio,
    salient_count,
    strength_by_order,
)

KNOWLEDGE_PARTS = ("preserve", "discard", "new")


def _finite(dividends: Tensor) -> Tensor:
    return dividends[torch.isfinite(dividends).all(dim=1)]


def interaction_metrics(dividends: Tensor) -> dict[str, float]:
    """``interactions/strength/order_k`` (mean ``|I(S)|`` over ``|S| = k``, k = 1..n),
    ``interactions/salient_count`` (mean number of salient S per sample, footnote 4) and
    ``interactions/matching_error`` (universal matching with salient S only, eq. 4)."""
    strength = strength_by_order(dividends)
    out = {f"interactions/strength/order_{k}": float(strength[k]) for k in range(1, strength.numel())}
    rows = _finite(dividends)
    if rows.shape[0] > 0:
        out["interactions/salient_count"] = float(salient_count(rows).double().mean())
        out["interactions/matching_error"] = float(matching_error(rows).mean())
    else:
        out["interactions/salient_count"] = float("nan")
        out["interactions/matching_error"] = float("nan")
    return out


def and_or_metrics(result: AndOrInteractions) -> dict[str, float]:
    """AND-OR tags (docs/method.md#beyond-the-paper): ``interactions/and_or/salient_count`` (mean number of
    salient AND plus OR interactions per sample, ``|I| > 0.05 max`` over both kinds),
    ``interactions/and_or/{and,or}_strength/order_k`` (mean over samples of ``Σ |I(S)|`` over the salient S
    of order k, k = 1..n: the two-phase quantity, positive and negative together) and, for the gradient
    solver, ``interactions/and_or/gap`` (its largest certified relative gap to the optimum)."""
    ok = torch.isfinite(result.and_dividends).all(dim=1)
    out: dict[str, float] = {}
    if bool(ok.any()):
        and_salient, or_salient = and_or_salient_mask(result)
        counts = and_salient[ok].sum(1) + or_salient[ok].sum(1)
        out["interactions/and_or/salient_count"] = float(counts.double().mean())
    else:
        out["interactions/and_or/salient_count"] = float("nan")
    for kind, parts in and_or_strength_by_order(result).items():
        strength = parts["positive"] + parts["negative"]
        for k in range(1, strength.numel()):
            out[f"interactions/and_or/{kind}_strength/order_{k}"] = float(strength[k])
    if result.solver == "gradient":
        gap = result.gap[ok]
        out["interactions/and_or/gap"] = float(gap.max()) if gap.numel() else float("nan")
    return out


def knowledge_metrics(pretrain: Tensor, current: Tensor, orders: Tensor | None = None,
                      n: int | None = None) -> tuple[dict[str, float], dict[str, Tensor]]:
    """Preserved / discarded / new knowledge of ``current`` (the "finetune" side) against the
    ``pretrain`` reference (eqs. 6, 7), per order and in total; ``dividends[sample, mask]``, or sparse estimates
    on one slot layout ``[sample, slot]`` with its ``orders`` and ``n`` (:func:`knowledge_by_order`).

    Returns ``({"knowledge/preserve/order_k": ..., "knowledge/preserve/total": ..., ...}, by_order)``
    with ``by_order[part][order]`` for orders ``0..n`` (for the figure)."""
    by_order = knowledge_by_order(pretrain, current, orders, n)
    totals = knowledge_totals(by_order)
    out: dict[str, float] = {}
    for part in KNOWLEDGE_PARTS:
        curve = by_order[part]
        for k in range(1, curve.numel()):
            out[f"knowledge/{part}/order_{k}"] = float(curve[k])
        out[f"knowledge/{part}/total"] = totals[part]
    return out, by_order


def ratio_metrics(pretrain: Tensor, finetune: Tensor, scratch: Tensor) -> dict[str, float]:
    """``knowledge/ratio`` (paper eq. 8, mean over S) and ``knowledge/ratio_weighted``
    (strength-weighted) of the ``scratch`` model (the current epoch)."""
    r = preserved_ratio(pretrain, finetune, scratch)
    return {"knowledge/ratio": r["ratio"], "knowledge/ratio_weighted": r["ratio_weighted"]}


def jaccard_curve(dividends_by_step: Mapping[int, Tensor]) -> tuple[list[int], list[float], int]:
    """Mean Jaccard similarity (eq. 9) of every evaluation's dividends with the final (highest key's), the keys
    being the evaluations' global steps (or, for old histories, epochs).

    Returns ``(keys ascending, jaccard per key, final key)``."""
    keys = sorted(dividends_by_step)
    if not keys:
        return [], [], -1
    final = keys[-1]
    ref = dividends_by_step[final]
    return keys, [mean_jaccard(dividends_by_step[k], ref) for k in keys], final


#: title of the custom-scalars category with the paper's curves
DASHBOARD_PAPER = "interactions: the paper's curves"
#: title of the custom-scalars category with the per-order curves
DASHBOARD_ORDERS = "interactions: by order"


def dashboard_layout(*, knowledge: bool, ratio: bool, and_or: bool = False) -> dict[str, dict[str, list]]:
    """The TensorBoard custom-scalars layout (``SummaryWriter.add_custom_scalars``) of the tags one run logs.

    ``{category: {chart title: ["Multiline", [tag regex, ...]]}}``; TensorBoard matches each regex
    from the start of a tag. Charts: knowledge totals (eqs. 6, 7; with a pretrain reference),
    both ratio forms (eq. 8; with both references), the Jaccard curve (eq. 9), the loss beside
    the curves, then strength, salient count, with a reference each knowledge part by order, and with
    ``and_or`` the AND and OR salient strength by order and the AND-OR salient count."""
    paper: dict[str, list] = {}
    if knowledge:
        paper["knowledge totals: preserve / discard / new (eqs. 6, 7)"] = [
            "Multiline", [f"knowledge/{part}/total$" for part in KNOWLEDGE_PARTS]]
    if ratio:
        paper["preserved ratio of scratch: mean over S / strength-weighted (eq. 8)"] = [
            "Multiline", ["knowledge/ratio$", "knowledge/ratio_weighted$"]]
    paper["Jaccard similarity to the final epoch (eq. 9)"] = ["Multiline", ["knowledge/jaccard_to_final$"]]
    paper["loss"] = ["Multiline", [".*loss"]]
    orders: dict[str, list] = {
        "interaction strength by order, mean |I(S)|": ["Multiline", [r"interactions/strength/order_\d+$"]],
        "salient interactions per sample": ["Multiline", ["interactions/salient_count$"]],
    }
    if knowledge:
        for part in KNOWLEDGE_PARTS:
            orders[f"knowledge {part} by order"] = ["Multiline", [rf"knowledge/{part}/order_\d+$"]]
    if and_or:
        for kind in ("and", "or"):
            orders[f"salient {kind.upper()} strength by order, Σ |I(S)| over salient S"] = [
                "Multiline", [rf"interactions/and_or/{kind}_strength/order_\d+$"]]
        orders["salient AND-OR interactions per sample"] = ["Multiline", ["interactions/and_or/salient_count$"]]
    return {DASHBOARD_PAPER: paper, DASHBOARD_ORDERS: orders}


__all__ = [
    "DASHBOARD_ORDERS",
    "DASHBOARD_PAPER",
    "KNOWLEDGE_PARTS",
    "and_or_metrics",
    "dashboard_layout",
    "interaction_metrics",
    "jaccard_curve",
    "knowledge_metrics",
    "ratio_metrics",
]
