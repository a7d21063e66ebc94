"""The two-phase view of a study (docs/method.md#beyond-the-paper; Zhang et al. 2024), from the stored
epoch artifacts.

Zhang et al. 2024 ("Two-phase dynamics of interactions explains the starting point of a DNN
learning over-fitted features") report that training first removes the medium- and high-order
interactions a network starts with, then learns interactions of increasing order. This module
measures that on the evaluated epochs of every regime that trains its backbone (all but the probe):

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

The rule and its statements are described in docs/study.md, section "The two-phase statement and its
rule"; ``two_phase.png`` is drawn by :mod:`harsanyi_lightning.study.report.figures`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence


from harsanyi_lightning.interactions import (
    AndOrInteractions,
    aligned_tables,
    and_or_strength_by_order,
    estimate_from_record,
    salient_strength_by_order,
)

__all__ = [
    "BOTH", "FIRST", "MIN_EPOCHS", "MIN_SHIFT", "NEITHER", "NOT_MEASURABLE", "RULE", "SECOND", "SOURCES",
    "PhaseVerdict", "TwoPhaseCurve", "compute_two_phase", "epoch_strength", "mean_order", "statements",
    "two_phase_curve", "two_phase_verdict",
]

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


@dataclass(frozen=True)
class PhaseVerdict:
    """Whether one curve shows the two phases, by the rule of :data:`RULE`."""

    verdict: str  #: one of BOTH, FIRST, SECOND, NEITHER, NOT_MEASURABLE
    phase1: bool | None  #: None when not measurable
    phase2: bool | None
    turning_epoch: int | None  #: the epoch of the lowest mean order
    first_epoch: int | None
    last_epoch: int | None
    shift: float  #: the shift a phase needs, MIN_SHIFT·n orders
    why: str  #: the numbers the verdict follows from, or why it is not measurable


@dataclass(frozen=True)
class TwoPhaseCurve:
    """The per-epoch numbers of one regime and source: ``positive`` / ``negative`` are
    ``[epoch][order 1..n]``, ``total`` and ``mean_order`` one per epoch; ``verdict`` once judged."""

    epochs: tuple[int, ...]
    positive: tuple[tuple[float, ...], ...]
    negative: tuple[tuple[float, ...], ...]
    total: tuple[float, ...]
    mean_order: tuple[float, ...]
    verdict: PhaseVerdict | None = None


def epoch_strength(content: Mapping[str, Any], source: str) -> dict[str, list[float]] | None:
    """``{"positive": A⁺[k=1..n], "negative": A⁻[k=1..n]}`` of one epoch artifact's content, or ``None`` when
    ``source`` is ``"and_or"`` and the artifact holds no AND-OR interactions."""
    if source == "harsanyi":  # a sparse estimate's recovered subsets in slots, exact dividends as they are
        aligned = aligned_tables([estimate_from_record(content)])
        parts = salient_strength_by_order(aligned.tables[0], **aligned.layout)
    elif source == "and_or":
        if "and_or" not in content:
            return None
        by_kind = and_or_strength_by_order(AndOrInteractions.from_dict(content["and_or"]))
        parts = {sign: by_kind["and"][sign] + by_kind["or"][sign] for sign in ("positive", "negative")}
    else:
        raise ValueError(f"source={source!r}; use one of {list(SOURCES)}")
    return {sign: parts[sign][1:].tolist() for sign in ("positive", "negative")}


def mean_order(positive: Sequence[float], negative: Sequence[float]) -> float:
    """``Σ_k k·(A⁺(k) + A⁻(k)) / Σ_k (A⁺(k) + A⁻(k))`` (orders from 1); NaN without salient strength."""
    weights = [p + q for p, q in zip(positive, negative)]
    total = sum(weights)
    return sum((k + 1) * w for k, w in enumerate(weights)) / total if total > 0 else math.nan


def two_phase_curve(strengths: Mapping[int, Mapping[str, Sequence[float]] | None]) -> TwoPhaseCurve | None:
    """The curve of one regime and source from ``{epoch: epoch_strength(...)}`` (epochs ascending; those
    with a strength), not yet judged. ``None`` when no epoch has one."""
    epochs, pos, neg = [], [], []
    for epoch in sorted(strengths):
        strength = strengths[epoch]
        if strength is None:
            continue
        epochs.append(int(epoch))
        pos.append(tuple(strength["positive"]))
        neg.append(tuple(strength["negative"]))
    if not epochs:
        return None
    return TwoPhaseCurve(
        epochs=tuple(epochs), positive=tuple(pos), negative=tuple(neg),
        total=tuple(sum(p) + sum(q) for p, q in zip(pos, neg)),
        mean_order=tuple(mean_order(p, q) for p, q in zip(pos, neg)),
    )


def two_phase_verdict(curve: TwoPhaseCurve, n: int, *, weak: bool = False) -> PhaseVerdict:
    """Whether ``curve`` shows the two phases, by the rule of :data:`RULE`; ``weak``: the model is
    near-constant, so the verdict is ``not measurable``."""
    epochs, m = list(curve.epochs), list(curve.mean_order)
    shift = MIN_SHIFT * n
    first, last = (epochs[0], epochs[-1]) if epochs else (None, None)

    def not_measurable(why: str) -> PhaseVerdict:
        return PhaseVerdict(NOT_MEASURABLE, None, None, None, first, last, shift, why)

    if weak:
        return not_measurable("the model is near-constant (under 1% of the strongest model's interaction strength)")
    if len(epochs) < MIN_EPOCHS:
        return not_measurable(f"only {len(epochs)} evaluated epoch(s); the rule needs at least {MIN_EPOCHS}")
    if any(math.isnan(x) for x in m):
        bad = [e for e, x in zip(epochs, m) if math.isnan(x)]
        return not_measurable(f"no salient interaction at epoch(s) {bad}")
    turn = min(range(len(m)), key=lambda i: (m[i], i))
    phase1 = turn > 0 and m[0] - m[turn] >= shift
    phase2 = turn < len(m) - 1 and m[-1] - m[turn] >= shift
    verdict = BOTH if phase1 and phase2 else FIRST if phase1 else SECOND if phase2 else NEITHER
    why = (f"mean order {m[0]:.2f} at epoch {epochs[0]}, lowest {m[turn]:.2f} at epoch {epochs[turn]}, "
           f"{m[-1]:.2f} at epoch {epochs[-1]}; a phase needs a shift of {shift:.2f} orders")
    return PhaseVerdict(verdict, phase1, phase2, epochs[turn], first, last, shift, why)


def compute_two_phase(strengths: Mapping[str, Mapping[str, Mapping[int, Any]]], n: int,
                      weak: Sequence[str] = ()) -> dict[str, dict[str, TwoPhaseCurve]]:
    """``{source: {regime: judged curve}}`` from ``strengths[source][regime][epoch]`` (what
    :func:`epoch_strength` gave for each stored epoch, read one artifact at a time); a source appears only
    for the regimes whose artifacts hold it."""
    out: dict[str, dict[str, TwoPhaseCurve]] = {}
    for source in SOURCES:
        per_regime = {}
        for regime, by_epoch in strengths.get(source, {}).items():
            curve = two_phase_curve(by_epoch)
            if curve is not None:
                per_regime[regime] = replace(curve, verdict=two_phase_verdict(curve, n, weak=regime in weak))
        if per_regime:
            out[source] = per_regime
    return out


def statements(two_phase: Mapping[str, Mapping[str, TwoPhaseCurve]], from_scratch: Sequence[str] = ()) -> list[str]:
    """One sentence per model and source, and a first line saying whether this run shows the two phases;
    ``from_scratch``: the regimes trained from a random initialisation (the paper's claim is about them)."""
    lines = []
    shown = [f"{regime} ({SOURCES[src]})" for src, curves in two_phase.items() for regime, c in curves.items()
             if c.verdict is not None and c.verdict.verdict == BOTH]
    scratch = [curves[name].verdict.verdict for curves in two_phase.values() for name in from_scratch
               if name in curves and curves[name].verdict is not None]
    head = ("This run shows the two phases for " + "; ".join(shown) + "." if shown
            else "This run does not show both phases for any model.")
    if scratch and BOTH not in scratch:
        head += (f" The paper's claim is about training from a random initialisation, which is the "
                 f"{' and '.join(from_scratch)} model here; the other models start from pre-trained weights.")
    lines.append(head)
    for src, curves in two_phase.items():
        for regime, c in curves.items():
            v = c.verdict
            if v is None:
                continue
            lines.append(f"{regime}, {SOURCES[src]}: **{v.verdict}**" + (f" ({v.why})." if v.why else "."))
    return lines
