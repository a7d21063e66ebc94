"""The report's figures of the paper, drawn from a study's numbers
(:class:`~harsanyi_lightning.study.report.numbers.StudyNumbers`; docs/study.md, section "Report").

``knowledge_by_order.png`` (Fig. 2), ``ratio.png`` (Fig. 3), ``jaccard.png`` (Fig. 4), ``loss.png``
(Fig. 5), ``two_phase.png`` and ``trade_off.png`` (every regime's learning and forgetting); ``samples.png`` is drawn by
:mod:`harsanyi_lightning.study.report.sample_figures`. Figures are made with matplotlib's object API
(:class:`matplotlib.figure.Figure`, no pyplot): nothing global changes, no backend is chosen, and a figure
is freed once unreferenced. Importing this module loads matplotlib, so only the report writer imports it,
when it draws.
"""
from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Any, Mapping

import torch
from matplotlib.figure import Figure

from .bootstrap import Interval
from .findings import JACCARD_LEVEL, PAPER_RATIO_RANGE
from .readings import READINGS
from .two_phase import SOURCES

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .numbers import StudyNumbers
    from .two_phase import TwoPhaseCurve

__all__ = [
    "COLORS", "OTHER_COLORS", "ROLE_COLORS", "figure_bytes", "figure_jaccard", "figure_knowledge_by_order",
    "figure_loss", "figure_ratio", "figure_trade_off", "figure_two_phase", "png_pixels", "regime_color",
]

#: the readings as the figures' titles name them
READING_TITLES = {"dense": "all subsets", "salient": "salient interactions only"}

#: the colours of the knowledge parts
COLORS = {"preserve": "#2ca02c", "discard": "#7f7f7f", "new": "#1f77b4"}
#: the colours of the paper's three models, by role
ROLE_COLORS = {"pretrain": "#9467bd", "finetune": "#1f77b4", "scratch": "#d62728"}
#: the colours of the other regimes, in training order
OTHER_COLORS = ("#ff7f0e", "#2ca02c", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


def regime_color(num: StudyNumbers, regime: str) -> str:
    """The colour of ``regime`` in every figure: its role's for the paper's three models, else one of its own."""
    for role, name in num.paper.items():
        if name == regime:
            return ROLE_COLORS[role]
    others = [s for s in num.regimes if s not in num.paper.values()]
    return OTHER_COLORS[others.index(regime) % len(OTHER_COLORS)]



def figure_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes (110 dpi): drawn once (its layout is constrained at draw time)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def png_pixels(png: bytes) -> Any:
    """``pixels[H, W, 3]`` (uint8) of PNG bytes, for TensorBoard's ``add_image``."""
    from matplotlib.image import imread

    pixels = imread(io.BytesIO(png), format="png")[..., :3]
    return (pixels * 255).round().astype("uint8") if pixels.dtype.kind == "f" else pixels


def _whiskers(num: StudyNumbers, key: str, scale: float = 1.0) -> list[list[float]] | None:
    """``[[below...], [above...]]`` error-bar lengths of a per-order interval tuple, or None without one."""
    ivs = num.intervals.get(key)
    if not isinstance(ivs, tuple):
        return None
    below = [max(scale * (iv.estimate - iv.low), 0.0) if iv.low == iv.low else 0.0 for iv in ivs]
    above = [max(scale * (iv.high - iv.estimate), 0.0) if iv.high == iv.high else 0.0 for iv in ivs]
    return [below, above]


def figure_knowledge_by_order(num: StudyNumbers) -> Figure:
    """Paper Fig. 2: per order, preserved / discarded / new knowledge ``K^(i)`` with 95% whiskers, in both readings
    (docs/method.md#knowledge-metrics): all subsets (top) and salient interactions only (bottom)."""
    n = num.n
    x = torch.arange(1, n + 1).numpy()
    readings = [("dense", "all subsets", num.knowledge_by_order)]
    if num.knowledge_by_order_salient is not None:
        readings.append(("salient", "salient interactions only", num.knowledge_by_order_salient))
    fig = Figure(figsize=(13, 4.2 * len(readings)), layout="constrained")
    axes = fig.subplots(len(readings), 2, squeeze=False)
    w = 0.27
    for (reading, title, k), (ax, ax2) in zip(readings, axes):
        for j, key in enumerate(("preserve", "discard", "new")):
            label = {"preserve": "preserved", "discard": "discarded", "new": "new"}[key]
            ax.bar(x + (j - 1) * w, getattr(k, key), w, label=label, color=COLORS[key],
                   yerr=_whiskers(num, f"{reading}/K_{key}"), capsize=2, error_kw={"lw": 0.8})
        ax.set_xticks(x)
        ax.set_xlabel("order |S|")
        ax.set_ylabel("K$^{(i)}$ = E$_x$ E$_{|S|=i}$ K(S|x)")
        ax.set_title(f"Knowledge by order, {title}: probe -> fine-tuned (95% intervals)", fontsize=10)
        ax.legend()
        share_d = [100 * (d / p) if p else float("nan") for d, p in zip(k.discard, k.pretrain)]
        share_n = [100 * (d / p) if p else float("nan") for d, p in zip(k.new, k.finetune)]
        ax2.plot(x, share_d, "o-", color=COLORS["discard"], label="discarded / pre-trained")
        ax2.plot(x, share_n, "s-", color=COLORS["new"], label="new / fine-tuned")
        ax2.set_xticks(x)
        ax2.set_ylim(0, 105)
        ax2.set_xlabel("order |S|")
        ax2.set_ylabel("share of the order's knowledge (%)")
        ax2.set_title(f"Share discarded and share new, per order ({title})", fontsize=10)
        ax2.legend()
    fig.suptitle(f"{num.title}: {num.num_samples} samples, n = {n}", fontsize=10)
    return fig


def _weak_note(ax: Axes, num: StudyNumbers) -> None:
    weak = num.weak_models
    if weak:
        ax.text(0.5, 0.5, "caution: " + ", ".join(weak) + " has <1% of the strongest model's interaction strength\n"
                "(near-constant output): these curves show numerical noise, not knowledge", transform=ax.transAxes,
                ha="center", va="center", fontsize=8, color="0.3", bbox=dict(fc="white", ec="0.6", alpha=0.9))


def figure_ratio(num: StudyNumbers) -> Figure:
    """Paper Fig. 3: share of the preserved knowledge that the scratch model also learns (eq. 8), both forms."""
    n = num.n
    x = torch.arange(1, n + 1).numpy()
    r = num.ratio_by_order
    fig = Figure(figsize=(12, 4.2), layout="constrained")
    ax, ax3 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    w = 0.38
    ax.bar(x - w / 2, [100 * v for v in r.ratio], w, color="#ff7f0e", label="Ratio (mean over S, paper)")
    ax.bar(x + w / 2, [100 * v for v in r.ratio_weighted], w, color="#8c564b", label="Ratio, strength-weighted")
    ax.axhline(100 * num.ratio.ratio, color="#ff7f0e", ls="--", label=f"overall Ratio = {100 * num.ratio.ratio:.1f}%")
    ax.axhline(100 * num.ratio.ratio_weighted, color="#8c564b", ls=":",
               label=f"overall weighted = {100 * num.ratio.ratio_weighted:.1f}%")
    lo, hi = PAPER_RATIO_RANGE
    ax.axhspan(100 * lo, 100 * hi, color="0.9", zorder=0, label="paper's range 13-45%")
    ax.set_xticks(x)
    ax.set_ylim(0, 100)
    ax.set_xlabel("order |S|")
    ax.set_ylabel("preserved knowledge also learned from scratch (%)")
    ax.set_title(f"{num.title}: preserved knowledge learned from scratch (eq. 8)", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    _weak_note(ax, num)
    bars = [(f"{r}\n{form}", num.intervals.get(f"{r}/{key}")) for r in ("dense", "salient")
            for form, key in (("mean", "ratio"), ("weighted", "ratio_weighted"))]
    bars = [(label, iv) for label, iv in bars if iv is not None]
    if bars:
        xs = list(range(len(bars)))
        est = [100 * iv.estimate for _, iv in bars]
        err = [[max(100 * (iv.estimate - iv.low), 0) for _, iv in bars], [max(100 * (iv.high - iv.estimate), 0)
                                                                         for _, iv in bars]]
        ax3.bar(xs, est, 0.6, yerr=err, capsize=4, color=["#ff7f0e", "#8c564b"] * (len(bars) // 2))
        ax3.axhspan(100 * lo, 100 * hi, color="0.9", zorder=0)
        ax3.set_xticks(xs)
        ax3.set_xticklabels([label for label, _ in bars], fontsize=8)
        ax3.set_ylim(0, 100)
        ax3.set_title("overall Ratio, both readings (95% intervals)", fontsize=10)
    return fig


def figure_jaccard(num: StudyNumbers) -> Figure:
    """Paper Fig. 4: Jaccard similarity of each evaluation's interactions with the final one's, at the evaluation's
    epoch (fractional inside an epoch), with the 95% band (dense reading) and the salient reading dashed."""
    fig = Figure(figsize=(7.5, 4.4), layout="constrained")
    ax = fig.subplots()
    for s in num.trained:
        curve, color = num.jaccard[s], regime_color(num, s)
        ax.plot(list(curve), list(curve.values()), "o-", color=color, label=f"{s} (all subsets)")
        rows = [r for r in num.evaluations.get(s, ()) if "jaccard_ci" in r]
        if rows:
            ax.fill_between([r["epoch"] for r in rows], [r["jaccard_ci"][0] for r in rows],
                            [r["jaccard_ci"][1] for r in rows], color=color, alpha=0.2, lw=0)
        salient = num.intervals.get(f"salient/jaccard/{s}")
        if isinstance(salient, tuple) and len(salient) == len(curve):
            ax.plot(list(curve), [iv.estimate for iv in salient], "--", color=color, alpha=0.7,
                    label=f"{s} (salient only)")
    ax.axhline(JACCARD_LEVEL, color="0.6", ls="--", lw=1, label=f"J = {JACCARD_LEVEL}")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("epochs trained (0 = before training; fractions: evaluations inside an epoch)")
    ax.set_ylabel("Jaccard(evaluation, final)")
    ax.set_title(f"{num.title}: how directly each model learns (eq. 9)")
    ax.legend(fontsize=8)
    if any(s in num.weak_models for s in num.trained):
        _weak_note(ax, num)
    return fig


def _point(ax: Axes, x: Interval, y: Interval, color: str, label: str) -> None:
    """One regime at ``(x, y)`` with its 95% whiskers on both axes (none where an edge is undefined)."""
    def err(iv: Interval) -> list[list[float]] | None:
        if not (math.isfinite(iv.low) and math.isfinite(iv.high)):
            return None
        return [[max(iv.estimate - iv.low, 0.0)], [max(iv.high - iv.estimate, 0.0)]]

    ax.errorbar([x.estimate], [y.estimate], xerr=err(x), yerr=err(y), fmt="o", color=color, capsize=3, ms=6)
    ax.annotate(label, (x.estimate, y.estimate), textcoords="offset points", xytext=(5, 4), fontsize=8, color=color)


def figure_trade_off(num: StudyNumbers) -> Figure:
    """The learning-forgetting trade-off (docs/method.md#fine-tuning-methods): every trained regime at (new /
    preserved, discarded / preserved) against the reference, with 95% whiskers, in both readings; and its
    validation accuracy against discarded / preserved."""
    fig = Figure(figsize=(15, 4.4), layout="constrained")
    axes = fig.subplots(1, 3)
    readings = list(READINGS)
    for ax, reading in zip(axes, readings):
        for name, c in num.trade_off.items():
            _point(ax, c.learning[reading], c.forgetting[reading], regime_color(num, name), name)
        ax.set_xlabel("learning L = new / preserved")
        ax.set_ylabel("forgetting F = discarded / preserved")
        ax.set_title(f"learning vs forgetting, {READING_TITLES[reading]} (95% intervals)", fontsize=10)
    ax = axes[2]
    for name, c in num.trade_off.items():
        if c.accuracy is not None and math.isfinite(c.accuracy.estimate):
            scaled = Interval(100 * c.accuracy.estimate, 100 * c.accuracy.low, 100 * c.accuracy.high)
            _point(ax, c.forgetting[readings[0]], scaled, regime_color(num, name), name)
    reference = num.accuracy.get(num.paper["pretrain"])
    if reference is not None and reference.val is not None:
        ax.axhline(100 * reference.val, color=ROLE_COLORS["pretrain"], ls=":", lw=1,
                   label=f"{num.paper['pretrain']} (reference)")
        ax.legend(fontsize=8)
    ax.set_xlabel(f"forgetting F = discarded / preserved ({READING_TITLES[readings[0]]})")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("accuracy vs forgetting", fontsize=10)
    fig.suptitle(f"{num.title}: what each regime learns and forgets of the pre-trained knowledge", fontsize=10)
    return fig


def figure_loss(num: StudyNumbers) -> Figure:
    """Paper Fig. 5: training and validation loss per epoch of every trained regime (the reference dotted)."""
    fig = Figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, split in zip(axes, ("train", "val")):
        for s in [*num.trained, num.paper["pretrain"]]:
            series, reference = getattr(num.loss[s], split), s == num.paper["pretrain"]
            if series:
                ax.plot(list(series), list(series.values()), "o:" if reference else "o-", color=regime_color(num, s),
                        label=s, alpha=0.6 if reference else 1.0)
        ax.set_xlabel("epochs trained")
        ax.set_ylabel(f"{split} loss (cross-entropy)")
        ax.set_title(f"{split} loss")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend()
    fig.suptitle(num.title, fontsize=10)
    return fig




def figure_two_phase(two_phase: Mapping[str, Mapping[str, TwoPhaseCurve]], n: int, title: str = "",
                     colors: Mapping[str, str] | None = None) -> Figure:
    """``two_phase.png``: a row per model and source; columns: the share of each epoch's salient strength at each
    order for I > 0 and for I < 0 (epoch x order; each epoch's two rows of cells add up to 100%), and the mean
    order ``m_e`` per epoch with the turning epoch marked (in each regime's colour, ``colors``)."""
    colors = colors or {}
    rows = [(src, regime) for src, regimes in two_phase.items() for regime in regimes]
    fig = Figure(figsize=(14, 2.9 * max(len(rows), 1)), layout="constrained")
    axes = fig.subplots(max(len(rows), 1), 3, squeeze=False, gridspec_kw={"width_ratios": [1, 1, 0.9]})
    for r, (src, regime) in enumerate(rows):
        c = two_phase[src][regime]
        epochs = list(c.epochs)
        totals = torch.tensor(c.total, dtype=torch.float64).clamp_min(1e-300)[:, None]
        shares = {sign: (torch.tensor(getattr(c, sign), dtype=torch.float64) / totals).numpy()
                  for sign in ("positive", "negative")}
        vmax = max(float(shares["positive"].max()), float(shares["negative"].max()), 1e-12)
        for j, (sign, cmap) in enumerate((("positive", "Reds"), ("negative", "Blues"))):
            ax = axes[r][j]
            im = ax.imshow(100 * shares[sign], aspect="auto", origin="lower", cmap=cmap, vmin=0, vmax=100 * vmax,
                           extent=(0.5, n + 0.5, -0.5, len(epochs) - 0.5))
            ax.set_yticks(range(len(epochs)))
            ax.set_yticklabels([str(e) for e in epochs])
            ax.set_xticks(range(1, n + 1))
            ax.set_xlabel("order |S|")
            ax.set_ylabel("epoch")
            ax.set_title(f"{regime}, {SOURCES[src]}: I > 0" if sign == "positive" else f"{regime}: I < 0", fontsize=9)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02, label="% of the epoch's salient strength")
        ax = axes[r][2]
        ax.plot(epochs, c.mean_order, "o-", color=colors.get(regime, ROLE_COLORS["finetune"]))
        v = c.verdict
        if v is not None and v.turning_epoch is not None:
            i = epochs.index(v.turning_epoch)
            ax.plot([epochs[i]], [c.mean_order[i]], "kv", ms=9, label=f"turning epoch {epochs[i]}")
            ax.legend(fontsize=8)
        ax.set_xlabel("epoch (0 = before training)")
        ax.set_ylabel("mean order m_e")
        ax.set_title(f"{regime}: {v.verdict if v is not None else ''}", fontsize=9)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if not rows:
        axes[0][0].text(0.5, 0.5, "no stored epochs", ha="center")
    fig.suptitle((title + ": " if title else "")
                 + "salient interaction strength by order over training (two-phase view)", fontsize=10)
    return fig
