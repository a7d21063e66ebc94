"""The figures of a comparison of several studies (:mod:`~harsanyi_lightning.study.report.comparison`):
``headline.png`` (the headline numbers with their intervals, side by side) and ``jaccard.png`` (every study's
Jaccard curves overlaid). Drawn with matplotlib's object API, like the report's own figures
(:mod:`~harsanyi_lightning.study.report.figures`); importing this module loads matplotlib."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping, Sequence

from matplotlib.figure import Figure

from .findings import JACCARD_LEVEL

if TYPE_CHECKING:
    from .bootstrap import Interval
    from .comparison import Headline
    from .numbers import StudyNumbers

__all__ = ["STUDY_COLORS", "figure_comparison_jaccard", "figure_headline"]

#: one colour per study, in the order the studies are given
STUDY_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
#: the line style of each trained role's curve
ROLE_STYLES = {"finetune": "-", "scratch": "--"}


def _color(i: int) -> str:
    return STUDY_COLORS[i % len(STUDY_COLORS)]


def figure_headline(names: Sequence[str], headline: Sequence[Headline],
                    tables: Sequence[Mapping[str, Interval | None]], chances: Sequence[float] = ()) -> Figure:
    """One panel per ``headline`` number: each study's estimate with its 95% interval (``tables[study][label]``),
    studies side by side (a share in percent), ``chances`` dotted on the accuracy panels; a number a study does not
    have is left out of its panel."""
    cols = 4
    rows = math.ceil(len(headline) / cols)
    fig = Figure(figsize=(3.6 * cols, 2.9 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, h in zip(axes, headline):
        scale = 100.0 if h.fmt == "%" else 1.0
        for i, table in enumerate(tables):
            iv = table[h.label]
            if iv is None or not math.isfinite(iv.estimate):
                continue
            low = iv.low if math.isfinite(iv.low) else iv.estimate
            high = iv.high if math.isfinite(iv.high) else iv.estimate
            ax.errorbar([i], [scale * iv.estimate], yerr=[[scale * max(iv.estimate - low, 0)],
                                                          [scale * max(high - iv.estimate, 0)]],
                        fmt="o", color=_color(i), capsize=4)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, fontsize=7, rotation=20, ha="right")
        ax.set_xlim(-0.6, len(names) - 0.4)
        ax.set_title(h.label + (" (%)" if h.fmt == "%" else ""), fontsize=9)
        if h.label.startswith("val acc v_"):
            for chance in sorted(set(chances)):
                ax.axhline(100 * chance, color="0.6", ls=":", lw=1)
    for ax in axes[len(headline):]:
        ax.set_visible(False)
    fig.suptitle("Headline numbers of each study with their 95% intervals (dotted: chance accuracy)", fontsize=10)
    fig.tight_layout()
    return fig


def figure_comparison_jaccard(names: Sequence[str], nums: Sequence[StudyNumbers]) -> Figure:
    """The Jaccard curves (dense reading; the salient one for sparse estimates) of every study's fine-tuned and
    scratch models overlaid, at each evaluation's epoch, with their 95% bands: one colour per study, the fine-tuned
    model solid and the scratch model dashed."""
    fig = Figure(figsize=(8.5, 4.8))
    ax = fig.subplots()
    for i, (name, num) in enumerate(zip(names, nums)):
        reading = num.judged_reading
        for role in ("finetune", "scratch"):
            regime = num.paper.get(role)
            curve = num.jaccard.get(regime, {}) if regime else {}
            if not curve:
                continue
            epochs = list(curve)
            ivs = num.intervals.get(f"{reading}/jaccard/{regime}")
            if isinstance(ivs, tuple) and len(ivs) == len(epochs):
                values = [iv.estimate for iv in ivs]
                ax.fill_between(epochs, [iv.low for iv in ivs], [iv.high for iv in ivs], color=_color(i), alpha=0.12,
                                lw=0)
            else:
                values = list(curve.values())
            ax.plot(epochs, values, marker="o", ms=3, ls=ROLE_STYLES[role], color=_color(i), label=f"{name}: {regime}")
    ax.axhline(JACCARD_LEVEL, color="0.6", ls=":", lw=1, label=f"J = {JACCARD_LEVEL}")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("epochs trained (0 = before training; fractions: evaluations inside an epoch)")
    ax.set_ylabel("Jaccard(evaluation, final)")
    ax.set_title("Jaccard with the final evaluation (eq. 9): fine-tuned solid, scratch dashed (95% bands)", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig
