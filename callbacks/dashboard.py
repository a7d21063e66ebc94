"""The TensorBoard custom-scalars dashboard of the tags one run logs (docs/callback.md#logged-tags-and-their-step).

``{category: {chart title: ["Multiline", [tag regex, ...]]}}`` for ``SummaryWriter.add_custom_scalars``; the tags
themselves are :mod:`harsanyi_lightning.interactions.scalars`'.
"""
from __future__ import annotations

from harsanyi_lightning.interactions.scalars import KNOWLEDGE_PARTS

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


__all__ = ["DASHBOARD_ORDERS", "DASHBOARD_PAPER", "dashboard_layout"]
