"""The two-phase view of a study (SPEC section 7; Zhang et al. 2024), from the stored epoch artifacts.

Zhang et al. 2024 ("Two-phase dynamics of interactions explains the starting point of a DNN
learning over-fitted features") report that training first removes the medium- and high-order
interactions a network starts with, then learns interactions of increasing order. This module
measures that on the evaluated epochs of the finetune and scratch stages:

- per epoch ``e`` and order ``k``: ``A⁺_e(k)``, ``A⁻_e(k)`` = mean over samples of ``Σ max(±I(S), 0)``
  over the salient ``S`` of order ``k`` (``|I| > 0.05·max|I|``): from the Harsanyi dividends always,
  and from the AND-OR interactions (AND and OR added, salient over both kinds) where the artifacts
  hold them (the callback's ``and_or`` option);
- the strength-weighted mean order ``m_e = Σ_k k·W_e(k) / Σ_k W_e(k)`` with ``W = A⁺ + A⁻``, a
  scale-free summary of where the salient strength sits (the output scale grows during training);
- the rule (:func:`two_phase_verdict`): the turning epoch ``p`` is the epoch of the lowest ``m_e``
  (the first on ties); **phase 1** is seen when ``p`` comes after the first evaluated epoch and
  ``m_first − m_p >= 0.05·n`` orders; **phase 2** when ``p`` comes before the last evaluated epoch and
  ``m_last − m_p >= 0.05·n``. Both: "shows both phases". Fewer than 3 evaluated epochs, no salient
  interaction at some epoch, or a near-constant model (under 1% of the strongest model's
  interaction strength): "not measurable".

``two_phase.png`` draws, for each model and source, the share of the epoch's salient strength at
each order (positive and negative apart; epoch x order) and the ``m_e`` curve with the turning epoch.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch

from harsanyi_lightning.interactions import AndOrInteractions, and_or_strength_by_order, salient_strength_by_order

STAGES = ("finetune", "scratch")
SOURCES = {"harsanyi": "Harsanyi (AND) dividends", "and_or": "AND-OR interactions"}
#: the mean order must move by at least this fraction of n for a phase to count
MIN_SHIFT = 0.05
MIN_EPOCHS = 3
BOTH, FIRST, SECOND, NEITHER, NOT_MEASURABLE = (
    "shows both phases", "first phase only", "second phase only", "neither phase", "not measurable")
RULE = (
    "m_e = strength-weighted mean order of the salient interactions at epoch e (Σ_k k·W_e(k) / Σ_k W_e(k), "
    "W_e(k) = Σ |I(S)| over salient S of order k, mean over samples); turning epoch p = argmin_e m_e (first on "
    f"ties); phase 1 (medium and high orders removed first): p after the first evaluated epoch and "
    f"m_first − m_p >= {MIN_SHIFT:g}·n; phase 2 (orders then grow): p before the last evaluated epoch and "
    f"m_last − m_p >= {MIN_SHIFT:g}·n; not measurable with fewer than {MIN_EPOCHS} evaluated epochs, an epoch "
    "without salient interactions, or a near-constant model (< 1% of the strongest model's interaction strength)"
)


def epoch_strength(content: Mapping[str, Any], source: str) -> dict[str, list[float]] | None:
    """``{"positive": A⁺[k=1..n], "negative": A⁻[k=1..n]}`` of one epoch artifact's content, or ``None`` when
    ``source`` is ``"and_or"`` and the artifact holds no AND-OR interactions."""
    if source == "harsanyi":
        parts = salient_strength_by_order(content["dividends"].to(torch.float64))
    elif source == "and_or":
        if "and_or" not in content:
            return None
        by_kind = and_or_strength_by_order(AndOrInteractions.from_dict(content["and_or"]))
        parts = {sign: by_kind["and"][sign] + by_kind["or"][sign] for sign in ("positive", "negative")}
    else:
        raise ValueError(f"source={source!r}; use one of {list(SOURCES)}")
    return {sign: parts[sign][1:].tolist() for sign in ("positive", "negative")}


def mean_order(positive: list[float], negative: list[float]) -> float:
    """``Σ_k k·(A⁺(k) + A⁻(k)) / Σ_k (A⁺(k) + A⁻(k))`` (orders from 1); NaN without salient strength."""
    weights = [p + q for p, q in zip(positive, negative)]
    total = sum(weights)
    return sum((k + 1) * w for k, w in enumerate(weights)) / total if total > 0 else math.nan


def two_phase_curve(strengths: Mapping[int, Mapping[str, list[float]] | None]) -> dict[str, Any] | None:
    """The per-epoch numbers of one stage and source from ``{epoch: epoch_strength(...)}``: ``epochs``
    (ascending; those with a strength), ``positive`` / ``negative`` (``[epoch][order 1..n]``), ``total`` and
    ``mean_order`` per epoch. ``None`` when no epoch has one."""
    epochs, pos, neg = [], [], []
    for epoch in sorted(strengths):
        strength = strengths[epoch]
        if strength is None:
            continue
        epochs.append(int(epoch))
        pos.append(strength["positive"])
        neg.append(strength["negative"])
    if not epochs:
        return None
    return {
        "epochs": epochs, "positive": pos, "negative": neg,
        "total": [sum(p) + sum(q) for p, q in zip(pos, neg)],
        "mean_order": [mean_order(p, q) for p, q in zip(pos, neg)],
    }


def two_phase_verdict(curve: Mapping[str, Any], n: int, *, weak: bool = False) -> dict[str, Any]:
    """Whether ``curve`` (:func:`two_phase_curve`) shows the two phases, by the rule of :data:`RULE`:
    ``{"verdict", "phase1", "phase2", "turning_epoch", "first_epoch", "last_epoch", "shift", "why"}``."""
    epochs, m = list(curve["epochs"]), list(curve["mean_order"])
    shift = MIN_SHIFT * n
    out: dict[str, Any] = {"verdict": NOT_MEASURABLE, "phase1": None, "phase2": None, "turning_epoch": None,
                           "first_epoch": epochs[0] if epochs else None, "last_epoch": epochs[-1] if epochs else None,
                           "shift": shift, "why": ""}
    if weak:
        out["why"] = "the model is near-constant (under 1% of the strongest model's interaction strength)"
        return out
    if len(epochs) < MIN_EPOCHS:
        out["why"] = f"only {len(epochs)} evaluated epoch(s); the rule needs at least {MIN_EPOCHS}"
        return out
    if any(math.isnan(x) for x in m):
        bad = [e for e, x in zip(epochs, m) if math.isnan(x)]
        out["why"] = f"no salient interaction at epoch(s) {bad}"
        return out
    turn = min(range(len(m)), key=lambda i: (m[i], i))
    phase1 = turn > 0 and m[0] - m[turn] >= shift
    phase2 = turn < len(m) - 1 and m[-1] - m[turn] >= shift
    verdict = BOTH if phase1 and phase2 else FIRST if phase1 else SECOND if phase2 else NEITHER
    out.update(verdict=verdict, phase1=phase1, phase2=phase2, turning_epoch=epochs[turn])
    out["why"] = (f"mean order {m[0]:.2f} at epoch {epochs[0]}, lowest {m[turn]:.2f} at epoch {epochs[turn]}, "
                  f"{m[-1]:.2f} at epoch {epochs[-1]}; a phase needs a shift of {shift:.2f} orders")
    return out


def compute_two_phase(strengths: Mapping[str, Mapping[str, Mapping[int, Any]]], n: int,
                      weak: tuple[str, ...] | list[str] = ()) -> dict[str, dict[str, Any]]:
    """``{source: {stage: curve + {"verdict": ...}}}`` from ``strengths[source][stage][epoch]`` (what
    :func:`epoch_strength` gave for each stored epoch, read one artifact at a time); a source appears only
    for the stages whose artifacts hold it."""
    out: dict[str, dict[str, Any]] = {}
    for source in SOURCES:
        per_stage = {}
        for stage, by_epoch in strengths.get(source, {}).items():
            curve = two_phase_curve(by_epoch)
            if curve is not None:
                per_stage[stage] = {**curve, "verdict": two_phase_verdict(curve, n, weak=stage in weak)}
        if per_stage:
            out[source] = per_stage
    return out


# ------------------------------------------------------------------ text


def statements(two_phase: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One sentence per model and source, and a first line saying whether this run shows the two phases."""
    lines = []
    shown = [f"{stage} ({SOURCES[src]})" for src, stages in two_phase.items() for stage, c in stages.items()
             if c["verdict"]["verdict"] == BOTH]
    scratch = [stages["scratch"]["verdict"]["verdict"] for stages in two_phase.values() if "scratch" in stages]
    head = ("This run shows the two phases for " + "; ".join(shown) + "." if shown
            else "This run does not show both phases for any model.")
    if scratch and BOTH not in scratch:
        head += (" The paper's claim is about training from a random initialisation, which is the scratch model "
                 "here; the fine-tuned model starts from pre-trained weights.")
    lines.append(head)
    for src, stages in two_phase.items():
        for stage, c in stages.items():
            v = c["verdict"]
            lines.append(f"{stage}, {SOURCES[src]}: **{v['verdict']}**" + (f" ({v['why']})." if v["why"] else "."))
    return lines


def _f(x: float, fmt: str = ".3g") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def markdown(two_phase: Mapping[str, Mapping[str, Any]], n: int) -> list[str]:
    """The report.md section: the statements, the rule, and per model and source a table of the numbers."""
    if not two_phase:
        return []
    L = ["## Two-phase view (two_phase.png; SPEC section 7, Zhang et al. 2024)", ""]
    L += [f"- {s}" for s in statements(two_phase)]
    L += ["", f"Rule: {RULE}.", "",
          "Each table: per evaluated epoch, the salient strength Σ|I(S)| (mean over samples) of each order, "
          "positive / negative, its total over orders and the mean order m_e.", ""]
    for src, stages in two_phase.items():
        for stage, c in stages.items():
            L += [f"**{stage}, {SOURCES[src]}**", "",
                  "| epoch | total | mean order | " + " | ".join(f"order {k}" for k in range(1, n + 1)) + " |",
                  "|" + "---|" * (n + 3)]
            for i, e in enumerate(c["epochs"]):
                cells = [f"{_f(p)} / {_f(q)}" for p, q in zip(c["positive"][i], c["negative"][i])]
                L.append(f"| {e} | {_f(c['total'][i])} | {_f(c['mean_order'][i], '.2f')} | " + " | ".join(cells) + " |")
            L.append("")
    return L


# ------------------------------------------------------------------ figure


def figure_two_phase(two_phase: Mapping[str, Mapping[str, Any]], n: int, title: str = ""):
    """``two_phase.png``: a row per model and source; columns: the share of each epoch's salient strength at each
    order for I > 0 and for I < 0 (epoch x order; each epoch's two rows of cells add up to 100%), and the mean
    order ``m_e`` per epoch with the turning epoch marked."""
    import matplotlib.pyplot as plt

    rows = [(src, stage) for src, stages in two_phase.items() for stage in stages]
    fig, axes = plt.subplots(max(len(rows), 1), 3, figsize=(14, 2.9 * max(len(rows), 1)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1, 0.9]})
    for r, (src, stage) in enumerate(rows):
        c = two_phase[src][stage]
        epochs = c["epochs"]
        totals = torch.tensor(c["total"], dtype=torch.float64).clamp_min(1e-300)[:, None]
        shares = {sign: (torch.tensor(c[sign], dtype=torch.float64) / totals).numpy()
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
            ax.set_title(f"{stage}, {SOURCES[src]}: I > 0" if sign == "positive" else f"{stage}: I < 0", fontsize=9)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02, label="% of the epoch's salient strength")
        ax = axes[r][2]
        ax.plot(epochs, c["mean_order"], "o-", color="#d62728" if stage == "scratch" else "#1f77b4")
        v = c["verdict"]
        if v["turning_epoch"] is not None:
            i = epochs.index(v["turning_epoch"])
            ax.plot([epochs[i]], [c["mean_order"][i]], "kv", ms=9, label=f"turning epoch {epochs[i]}")
            ax.legend(fontsize=8)
        ax.set_xlabel("epoch (0 = before training)")
        ax.set_ylabel("mean order m_e")
        ax.set_title(f"{stage}: {v['verdict']}", fontsize=9)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if not rows:
        axes[0][0].text(0.5, 0.5, "no stored epochs", ha="center")
    fig.suptitle((title + ": " if title else "")
                 + "salient interaction strength by order over training (two-phase view)", fontsize=10)
    fig.tight_layout()
    return fig
