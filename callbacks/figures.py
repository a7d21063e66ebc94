"""Matplotlib figures of one evaluation (Agg canvas, no pyplot state, closed by the caller; docs/callback.md).

Figures are built on :class:`matplotlib.figure.Figure` with an Agg canvas, so
they work headless and leave no global pyplot state behind. Matplotlib is imported inside the
functions only, so importing the callback (``cli.py fit --help``) does not import it.
"""
from __future__ import annotations

from typing import Mapping

from torch import Tensor


def _figure(title: str):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title, fontsize=10)
    return fig, ax


def _when(epoch: int | str) -> str:
    """A title's name of the evaluation: ``epoch 3`` for an epoch, else the label as given (``step 25 (...)``)."""
    return epoch if isinstance(epoch, str) else f"epoch {epoch}"


def _finish_order_axes(fig, ax, orders: list[int], ylabel: str, legend: bool = True):
    """Label the order axis of a by-order bar chart, add the legend, tighten the layout; return ``fig``."""
    ax.set_xlabel("order |S|")
    ax.set_ylabel(ylabel)
    ax.set_xticks(orders)
    if legend:
        ax.legend(fontsize=8)
    return fig


def strength_figure(strength: Tensor, epoch: int | str):
    """Bar chart of the mean ``|I(S)|`` by order ``|S| = 1..n`` (``strength[order]``, orders 0..n)."""
    fig, ax = _figure(f"interaction strength by order, {_when(epoch)}")
    orders = list(range(1, strength.numel()))
    ax.bar(orders, [float(strength[k]) for k in orders], color="tab:blue")
    return _finish_order_axes(fig, ax, orders, "mean |I(S)|", legend=False)


def knowledge_figure(by_order: Mapping[str, Tensor], epoch: int | str):
    """Grouped bars of preserved / discarded / new knowledge by order (eqs. 6, 7)."""
    fig, ax = _figure(f"knowledge vs. pretrain reference, {_when(epoch)}")
    n = by_order["preserve"].numel() - 1
    orders = list(range(1, n + 1))
    width = 0.27
    colors = {"preserve": "tab:green", "discard": "tab:red", "new": "tab:orange"}
    for j, part in enumerate(("preserve", "discard", "new")):
        ax.bar([k + (j - 1) * width for k in orders], [float(by_order[part][k]) for k in orders], width,
               label=part, color=colors[part])
    return _finish_order_axes(fig, ax, orders, "mean knowledge")


def and_or_figure(strength: Mapping[str, Mapping[str, Tensor]], epoch: int | str):
    """Bars of the salient AND and OR strength by order, positive above and negative below the axis
    (``strength[kind][sign][order]`` as :func:`harsanyi_lightning.interactions.and_or_strength_by_order` returns it)."""
    fig, ax = _figure(f"salient AND-OR interactions by order, {_when(epoch)}")
    n = strength["and"]["positive"].numel() - 1
    orders = list(range(1, n + 1))
    width = 0.4
    colors = {"and": "tab:red", "or": "tab:purple"}
    for j, kind in enumerate(("and", "or")):
        x = [k + (j - 0.5) * width for k in orders]
        ax.bar(x, [float(strength[kind]["positive"][k]) for k in orders], width, color=colors[kind],
               label=f"{kind.upper()}")
        ax.bar(x, [-float(strength[kind]["negative"][k]) for k in orders], width, color=colors[kind], alpha=0.45)
    ax.axhline(0, color="0.3", lw=0.6)
    return _finish_order_axes(fig, ax, orders, "Σ |I(S)| over salient S (I < 0 below)")


def close(fig) -> None:
    """Release a figure (also closes it in pyplot when pyplot manages it)."""
    import matplotlib.pyplot as plt

    plt.close(fig)


__all__ = ["and_or_figure", "close", "knowledge_figure", "strength_figure"]
