"""Each regime's trade-off: what it learns and what it forgets of the pre-trained knowledge, against the reference,
every regime side by side (docs/method.md#fine-tuning-methods; docs/study.md#regimes-side-by-side).

For each regime ``r`` that trains its backbone (every regime but the reference ``v_pretrain``), against the
reference's final interactions: its knowledge split by order (eqs. 6-7), its **forgetting** ``F_r`` = discarded /
preserved and its **learning** ``L_r`` = new / preserved (totals as the sum of the order averages, Fig. 2's
aggregation), and, for a regime trained from the pre-trained weights, the Ratio (eq. 8) of its preserved knowledge
that the paper's scratch model also learns, each with its interval in both readings.

One bootstrap per reading draws the resamples for every regime at once: the same seeds and samples in every regime,
so a difference between two regimes (:func:`difference_key`) is **paired**, and the paper's fine-tuned model gets
exactly the numbers and intervals of the paper's comparison (the same resample weights). The Spearman correlation of
a regime option (a LoRA regime's ``rank``) with ``F_r`` across a group of regimes (:func:`rank_key`) is computed per
resample too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import torch

from .bootstrap import Interval, bootstrap_statistics
from .readings import READINGS, knowledge_features, knowledge_statistics, reading_dividends, spearman_rows

if TYPE_CHECKING:
    from torch import Tensor

    from ..bootstrap_options import BootstrapOptions
    from ..regimes import StudyRegimes
    from .artifacts import StudyRun

__all__ = [
    "FORGETTING", "LEARNING", "TradeOff", "difference_key", "rank_key", "regime_key",
    "trade_off_intervals", "trade_offs",
]

#: the numbers of :func:`knowledge_statistics` that are a regime's forgetting and learning
FORGETTING, LEARNING = "discard_over_preserve", "new_over_preserve"
#: the knowledge parts each regime's by-order intervals cover
SPLIT = ("preserve", "discard", "new")


def regime_key(regime: str, number: str) -> str:
    """The interval path (without the reading) of one regime's number: ``regime/<regime>/<number>``."""
    return f"regime/{regime}/{number}"


def difference_key(first: str, second: str, number: str) -> str:
    """The interval path (without the reading) of ``first``'s number minus ``second``'s, paired over seeds and
    samples: ``paired/<first>_minus_<second>/<number>``."""
    return f"paired/{first}_minus_{second}/{number}"


def rank_key(option: str, regimes: Sequence[str]) -> str:
    """The interval path (without the reading) of the Spearman correlation of ``option`` with ``F_r`` across
    ``regimes``: ``spearman/<option>/<first>..<last>``."""
    return f"spearman/{option}/{regimes[0]}..{regimes[-1]}"


def trade_off_intervals(runs: Sequence[StudyRun], options: BootstrapOptions, regimes: StudyRegimes,
                         pairs: Sequence[tuple[str, str]] = (),
                         ranked: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Any]:
    """Every regime's numbers against the reference with their intervals, keyed ``<reading>/regime/<regime>/...``
    (:func:`regime_key`: ``discard_over_preserve``, ``new_over_preserve``, their ``_subsets`` forms, ``ratio``,
    ``ratio_weighted`` and ``K_<part>`` per order); the paired differences of ``pairs`` (``(first, second)``,
    :func:`difference_key`) and, for each option of ``ranked`` (``{option: {regime: value}}``), the Spearman
    correlation of its value with ``F_r`` across those regimes (:func:`rank_key`)."""
    paper = regimes.paper
    names = list(regimes.trained)
    ranked = {k: v for k, v in (ranked or {}).items() if len(v) >= 2}
    n = runs[0].n
    out: dict[str, Any] = {}
    for reading in READINGS:
        features = []
        for run in runs:
            a, c = (reading_dividends(run.regimes[paper[role]].final, reading) for role in ("pretrain", "scratch"))
            per_run = {}
            for name in names:
                b = reading_dividends(run.regimes[name].final, reading)
                found = knowledge_features(a, b, c, orders=run.orders, n=run.n if run.estimated else None)
                per_run.update({f"{name}|{k}": v for k, v in found.items()})
            features.append(per_run)

        def statistic(means: Mapping[str, Tensor]) -> dict[str, Tensor]:
            stats = {}
            for name in names:
                own = {k.split("|", 1)[1]: v for k, v in means.items() if k.startswith(f"{name}|")}
                numbers = knowledge_statistics(own, n)
                keep = [FORGETTING, LEARNING, f"{FORGETTING}_subsets", f"{LEARNING}_subsets"]
                if regimes.role(name) == "finetune":
                    keep += ["ratio", "ratio_weighted"]
                stats.update({regime_key(name, k): numbers[k] for k in keep})
                stats.update({regime_key(name, f"K_{p}"): own[f"order.{p}"] for p in SPLIT})
            for first, second in pairs:
                for number in (FORGETTING, LEARNING):
                    stats[difference_key(first, second, number)] = (stats[regime_key(first, number)]
                                                                     - stats[regime_key(second, number)])
            for option, values in ranked.items():
                members = list(values)
                rows = torch.stack([stats[regime_key(m, FORGETTING)] for m in members], dim=-1)
                stats[rank_key(option, members)] = spearman_rows([values[m] for m in members], rows)
            return stats

        for key, value in bootstrap_statistics(features, statistic, options).items():
            out[f"{reading}/{key}"] = value
    return out


@dataclass(frozen=True)
class TradeOff:
    """One regime's trade-off, beside the others' (``report.json``'s ``trade_off``): its kind, role and options, its
    accuracy and last training loss, its forgetting ``F`` and learning ``L`` against the reference and the Ratio of
    its preserved knowledge a scratch model learns, in both readings, and the effective rank of its update."""

    kind: str
    role: str
    options: Mapping[str, Any]
    accuracy: Interval | None
    final_train_loss: float | None
    forgetting: Mapping[str, Interval]  #: reading -> discarded / preserved
    learning: Mapping[str, Interval]  #: reading -> new / preserved
    ratio: Mapping[str, Interval]  #: reading -> Ratio (eq. 8) of its preserved knowledge; empty for scratch
    knowledge_totals: Mapping[str, Mapping[str, float]]  #: reading -> part -> Σ_i K^(i)
    knowledge_by_order: Mapping[str, Mapping[str, tuple[float, ...]]]  #: reading -> part -> K^(i), i = 1..n
    update_ranks: Mapping[str, float] | None  #: matrix type -> median effective rank over layers (mean over seeds)


def _mean_update_ranks(summaries: Sequence[Mapping[str, Any]]) -> dict[str, float] | None:
    ranks = [s.get("update_ranks") for s in summaries]
    if not ranks or any(not r for r in ranks):
        return None
    return {m: sum(r[m] for r in ranks) / len(ranks) for m in ranks[0] if all(m in r for r in ranks)}


def trade_offs(runs: Sequence[StudyRun], regimes: StudyRegimes, intervals: Mapping[str, Any],
                    losses: Mapping[str, Mapping[str, Mapping[int, float]]]) -> dict[str, TradeOff]:
    """Every trained regime's :class:`TradeOff`, in training order, from the intervals of
    :func:`trade_off_intervals` (merged into ``intervals``) and the regimes' summaries and ``losses``."""
    out = {}
    for name in regimes.trained:
        summaries = [r.regimes[name].summary for r in runs]
        train = losses[name]["train"]
        by_order = {reading: {p: tuple(iv.estimate for iv in intervals[f"{reading}/{regime_key(name, f'K_{p}')}"])
                              for p in SPLIT} for reading in READINGS}
        out[name] = TradeOff(
            kind=regimes.kinds[name],
            role=regimes.role(name),
            options=dict(summaries[0].get("options") or {}),
            accuracy=intervals.get(f"accuracy/{name}"),
            final_train_loss=train[max(train)] if train else None,
            forgetting={r: intervals[f"{r}/{regime_key(name, FORGETTING)}"] for r in READINGS},
            learning={r: intervals[f"{r}/{regime_key(name, LEARNING)}"] for r in READINGS},
            ratio={r: intervals[f"{r}/{regime_key(name, 'ratio')}"] for r in READINGS
                   if f"{r}/{regime_key(name, 'ratio')}" in intervals},
            knowledge_totals={r: {p: sum(v) for p, v in parts.items()} for r, parts in by_order.items()},
            knowledge_by_order=by_order,
            update_ranks=_mean_update_ranks(summaries),
        )
    return out

