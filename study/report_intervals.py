"""The intervals of the report's headline numbers (docs/method.md#uncertainty-and-verdicts), over samples and,
in a study with several training seeds, over seeds then samples (:mod:`~harsanyi_lightning.study.bootstrap`).

Every interval is keyed by a path: ``<reading>/<number>`` for the interaction numbers (readings ``dense``
and ``salient``, :mod:`~harsanyi_lightning.study.readings`), ``accuracy/<regime>``,
``accuracy/finetune_minus_scratch`` and ``loss/scratch_minus_finetune``; a per-order or per-evaluation
number gives one interval per order or evaluation.

- knowledge: ``K_<part>`` per order (Fig. 2's bars), ``discard_over_preserve`` (and ``_subsets``,
  ``_by_order``), ``new_over_preserve`` (and ``_subsets``), ``discard_share_spearman``,
  ``new_high_order_share``, ``ratio``, ``ratio_weighted``;
- Jaccard (eq. 9, against each run's own final evaluation): ``jaccard/<regime>`` per evaluation,
  ``jaccard/finetune_minus_scratch`` per shared evaluation, at the end of the first epoch
  (``jaccard/finetune_first_epoch``, ``jaccard/finetune_minus_scratch_first_epoch``), averaged over the
  shared evaluations strictly inside training (``jaccard/finetune_minus_scratch_inside``) and the largest
  fall between consecutive evaluations of each curve (``jaccard/largest_fall_<regime>``);
- accuracy: the validation accuracy over its evaluated examples (a binomial resample per drawn seed);
  loss: the mean over epochs of scratch's minus finetune's training loss, resampled over seeds then epochs.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping, Sequence

import torch

from .bootstrap import BootstrapOptions, Interval, binomial_draws, bootstrap_statistics, percentile_interval
from .layout import STAGES
from .readings import PARTS, READINGS, jaccard_features, knowledge_features, knowledge_statistics, reading_dividends

if TYPE_CHECKING:
    from torch import Tensor

    from .run_artifacts import StudyRun

__all__ = ["JACCARD_REGIMES", "accuracy_intervals", "common_epochs", "jaccard_intervals", "knowledge_intervals",
           "loss_interval", "study_intervals"]

JACCARD_REGIMES = ("finetune", "scratch")
Intervals = dict[str, "Interval | tuple[Interval, ...]"]


def knowledge_intervals(runs: Sequence[StudyRun], reading: str, options: BootstrapOptions) -> Intervals:
    """The knowledge and Ratio numbers of one reading with their intervals (keys without the reading prefix);
    a sparse run's features come from its slot tables (docs/study.md#sparse-studies)."""
    n = runs[0].n
    features = [knowledge_features(*(reading_dividends(r.regimes[s].final, reading) for s in STAGES),
                                   orders=r.orders, n=r.n if r.estimated else None) for r in runs]

    def statistic(m: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return {**knowledge_statistics(m, n), **{f"K_{p}": m[f"order.{p}"] for p in PARTS}}

    return bootstrap_statistics(features, statistic, options)


def common_epochs(runs: Sequence[StudyRun], regimes: Sequence[str]) -> list[int | float]:
    """The evaluation epochs every run holds for every one of ``regimes``, ascending."""
    sets = [set(r.regimes[s].curve()) for r in runs for s in regimes]
    return sorted(set.intersection(*sets)) if sets else []


def _first_epoch_index(epochs: Sequence[float]) -> int | None:
    """The evaluation at the end of the first epoch: the latest one in (0, 1]."""
    inside = [i for i, e in enumerate(epochs) if 0 < e <= 1]
    return inside[-1] if inside else None


def jaccard_intervals(runs: Sequence[StudyRun], reading: str, options: BootstrapOptions) -> Intervals:
    """The Jaccard numbers of one reading with their intervals (keys ``jaccard/...``)."""
    grids = {s: common_epochs(runs, (s,)) for s in JACCARD_REGIMES}
    shared = common_epochs(runs, JACCARD_REGIMES)
    features = []
    for run in runs:
        per_run = {}
        for s, grid in [*grids.items(), ("shared_finetune", shared), ("shared_scratch", shared)]:
            regime = s.removeprefix("shared_")
            final = reading_dividends(run.regimes[regime].final, reading)
            curve = run.regimes[regime].curve()
            per_run[s] = jaccard_features({i: reading_dividends(curve[e], reading) for i, e in enumerate(grid)}, final)
        per_run["gap"] = per_run.pop("shared_finetune") - per_run.pop("shared_scratch")
        features.append(per_run)
    first = {s: _first_epoch_index(grid) for s, grid in grids.items()}
    first_shared = _first_epoch_index(shared)
    inside = [i for i, e in enumerate(shared) if 0 < e < shared[-1]] if shared else []

    def pick(curve: Tensor, index: int | None) -> Tensor:
        return curve[:, index] if index is not None else torch.full(curve.shape[:1], math.nan, dtype=torch.float64)

    def largest_fall(curve: Tensor) -> Tensor:
        if curve.shape[1] < 2:
            return torch.full(curve.shape[:1], math.nan, dtype=torch.float64)
        return (curve[:, :-1] - curve[:, 1:]).clamp_min(0).max(dim=1).values

    def statistic(m: Mapping[str, Tensor]) -> dict[str, Tensor]:
        gap = m["gap"]
        return {
            "jaccard/finetune": m["finetune"], "jaccard/scratch": m["scratch"],
            "jaccard/finetune_minus_scratch": gap,
            "jaccard/finetune_first_epoch": pick(m["finetune"], first["finetune"]),
            "jaccard/finetune_minus_scratch_first_epoch": pick(gap, first_shared),
            "jaccard/finetune_minus_scratch_inside": (gap[:, inside].mean(dim=1) if inside
                                                      else torch.full(gap.shape[:1], math.nan, dtype=torch.float64)),
            **{f"jaccard/largest_fall_{s}": largest_fall(m[s]) for s in JACCARD_REGIMES},
        }

    return bootstrap_statistics(features, statistic, options)


def accuracy_intervals(runs: Sequence[StudyRun], options: BootstrapOptions) -> Intervals:
    """Each regime's validation accuracy over its evaluated examples, and finetune's minus scratch's. NaN edges
    where a summary does not record its accuracy or how many examples it was measured on (``val_examples``)."""
    out: Intervals = {}
    draws: dict[str, Tensor] = {}
    for k, s in enumerate(STAGES):
        acc = [r.regimes[s].summary.get("val_acc") for r in runs]
        size = [r.regimes[s].summary.get("val_examples") for r in runs]
        if any(a is None for a in acc):
            out[f"accuracy/{s}"] = Interval(math.nan, math.nan, math.nan)
            continue
        estimate = sum(acc) / len(acc)
        per_seed = acc if len(runs) > 1 else ()
        if any(not n for n in size):
            out[f"accuracy/{s}"] = Interval(estimate, math.nan, math.nan, tuple(per_seed))
            continue
        draws[s] = binomial_draws(acc, size, options.resamples, options.seed + 1 + k)
        out[f"accuracy/{s}"] = percentile_interval(draws[s], estimate, options.confidence, per_seed)
    f, s = out["accuracy/finetune"], out["accuracy/scratch"]
    diff = f.estimate - s.estimate
    per_seed = tuple(x - y for x, y in zip(f.per_seed, s.per_seed))
    if "finetune" in draws and "scratch" in draws:
        out["accuracy/finetune_minus_scratch"] = percentile_interval(draws["finetune"] - draws["scratch"], diff,
                                                                     options.confidence, per_seed)
    else:
        out["accuracy/finetune_minus_scratch"] = Interval(diff, math.nan, math.nan, per_seed)
    return out


def loss_interval(runs: Sequence[StudyRun], options: BootstrapOptions) -> Interval:
    """Mean over the epochs both regimes logged of scratch's minus finetune's training loss, resampled over
    seeds then epochs (NaN without a shared epoch)."""
    epochs = sorted(set.intersection(*(set(r.regimes[s].losses["train"]) for r in runs for s in JACCARD_REGIMES)))
    if not epochs:
        return Interval(math.nan, math.nan, math.nan)
    gaps = [torch.tensor([r.regimes["scratch"].losses["train"][e] - r.regimes["finetune"].losses["train"][e]
                          for e in epochs], dtype=torch.float64) for r in runs]
    result = bootstrap_statistics([{"gap": g} for g in gaps], lambda m: {"gap": m["gap"]}, options)
    return result["gap"]


def study_intervals(runs: Sequence[StudyRun], options: BootstrapOptions) -> Intervals:
    """Every interval of the report, keyed by path (see the module's docstring)."""
    out: Intervals = {}
    for reading in READINGS:
        for name, value in {**knowledge_intervals(runs, reading, options),
                            **jaccard_intervals(runs, reading, options)}.items():
            out[f"{reading}/{name}"] = value
    out.update(accuracy_intervals(runs, options))
    out["loss/scratch_minus_finetune"] = loss_interval(runs, options)
    return out
