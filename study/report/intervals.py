"""The intervals of the report's headline numbers (docs/method.md#uncertainty-and-verdicts), over samples and,
in a study with several training seeds, over seeds then samples (:mod:`~harsanyi_lightning.study.report.bootstrap`).

Every interval is keyed by a path: ``<reading>/<number>`` for the interaction numbers (readings ``dense``
and ``salient``, :mod:`~harsanyi_lightning.study.report.readings`), ``accuracy/<regime>``,
``accuracy/finetune_minus_scratch`` and ``loss/scratch_minus_finetune``; a per-order or per-evaluation
number gives one interval per order or evaluation. The paper's comparison reads the regimes in its three roles
(:attr:`StudyRegimes.paper <harsanyi_lightning.study.regimes.StudyRegimes.paper>`), and its keys name the roles.

- knowledge: ``K_<part>`` per order (Fig. 2's bars), ``discard_over_preserve`` (and ``_subsets``,
  ``_by_order``), ``new_over_preserve`` (and ``_subsets``), ``discard_share_spearman``,
  ``new_high_order_share``, ``ratio``, ``ratio_weighted``;
- Jaccard (eq. 9, against each run's own final evaluation): ``jaccard/<regime>`` per evaluation of every trained
  regime,
  ``jaccard/finetune_minus_scratch`` per shared evaluation, at the end of the first epoch
  (``jaccard/finetune_first_epoch``, ``jaccard/finetune_minus_scratch_first_epoch``), averaged over the
  shared evaluations strictly inside training (``jaccard/finetune_minus_scratch_inside``) and the largest
  fall between consecutive evaluations of each of the two curves (``jaccard/largest_fall_finetune``, ``_scratch``);
- accuracy: the validation accuracy over its evaluated examples (a binomial resample per drawn seed);
  loss: the mean over epochs of scratch's minus finetune's training loss, resampled over seeds then epochs.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping, Sequence

import torch

from ..bootstrap_options import BootstrapOptions
from .bootstrap import Interval, binomial_draws, bootstrap_statistics, percentile_interval
from .readings import PARTS, READINGS, jaccard_features, knowledge_features, knowledge_statistics, reading_dividends

if TYPE_CHECKING:
    from torch import Tensor

    from ..regimes import StudyRegimes
    from .artifacts import StudyRun

__all__ = ["accuracy_intervals", "common_epochs", "jaccard_intervals", "knowledge_intervals", "loss_interval",
           "study_intervals"]

Intervals = dict[str, "Interval | tuple[Interval, ...]"]


def knowledge_intervals(runs: Sequence[StudyRun], reading: str, options: BootstrapOptions,
                        models: Sequence[str]) -> Intervals:
    """The knowledge and Ratio numbers of one reading with their intervals (keys without the reading prefix), of
    ``models``: the regimes in the roles of ``v_pretrain``, ``v_finetune`` and ``v_random``; a sparse run's features
    come from its slot tables (docs/study.md#sparse-studies)."""
    n = runs[0].n
    features = [knowledge_features(*(reading_dividends(r.regimes[s].final, reading) for s in models),
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


def _curve(run: StudyRun, regime: str, grid: Sequence[float], reading: str) -> Tensor:
    """``J[sample, evaluation]`` of ``regime`` in ``run`` at the epochs of ``grid``, in ``reading``."""
    final = reading_dividends(run.regimes[regime].final, reading)
    curve = run.regimes[regime].curve()
    return jaccard_features({i: reading_dividends(curve[e], reading) for i, e in enumerate(grid)}, final)


def jaccard_intervals(runs: Sequence[StudyRun], reading: str, options: BootstrapOptions,
                      regimes: StudyRegimes) -> Intervals:
    """The Jaccard numbers of one reading with their intervals (keys ``jaccard/...``): the curve of every trained
    regime (``jaccard/<regime>``), and the paper's comparison of its fine-tuned and scratch models (keys named by
    those roles)."""
    finetune, scratch = regimes.paper["finetune"], regimes.paper["scratch"]
    grids = {name: common_epochs(runs, (name,)) for name in regimes.trained}
    shared = common_epochs(runs, (finetune, scratch))
    features = []
    for run in runs:
        per_run = {name: _curve(run, name, grid, reading) for name, grid in grids.items()}
        per_run["gap"] = _curve(run, finetune, shared, reading) - _curve(run, scratch, shared, reading)
        features.append(per_run)
    first = _first_epoch_index(grids[finetune])
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
            **{f"jaccard/{name}": m[name] for name in grids},
            "jaccard/finetune_minus_scratch": gap,
            "jaccard/finetune_first_epoch": pick(m[finetune], first),
            "jaccard/finetune_minus_scratch_first_epoch": pick(gap, first_shared),
            "jaccard/finetune_minus_scratch_inside": (gap[:, inside].mean(dim=1) if inside
                                                      else torch.full(gap.shape[:1], math.nan, dtype=torch.float64)),
            "jaccard/largest_fall_finetune": largest_fall(m[finetune]),
            "jaccard/largest_fall_scratch": largest_fall(m[scratch]),
        }

    return bootstrap_statistics(features, statistic, options)


def accuracy_intervals(runs: Sequence[StudyRun], options: BootstrapOptions, regimes: StudyRegimes,
                       differences: Sequence[tuple[str, str]] = ()) -> Intervals:
    """Each regime's validation accuracy over its evaluated examples, the paper's fine-tuned model's minus its
    scratch model's (``accuracy/finetune_minus_scratch``) and, for each ``(first, second)`` of ``differences``,
    ``first``'s minus ``second``'s (``accuracy/<first>_minus_<second>``); each regime's examples are resampled on
    their own. NaN edges where a summary does not record its accuracy or how many examples it was measured on
    (``val_examples``)."""
    out: Intervals = {}
    draws: dict[str, Tensor] = {}
    for k, s in enumerate(regimes.names):
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
    paper = (regimes.paper["finetune"], regimes.paper["scratch"])
    for key, (first, second) in [("accuracy/finetune_minus_scratch", paper),
                                 *((f"accuracy/{a}_minus_{b}", (a, b)) for a, b in differences)]:
        f, s = out[f"accuracy/{first}"], out[f"accuracy/{second}"]
        diff = f.estimate - s.estimate
        per_seed = tuple(x - y for x, y in zip(f.per_seed, s.per_seed))
        if first in draws and second in draws:
            out[key] = percentile_interval(draws[first] - draws[second], diff, options.confidence, per_seed)
        else:
            out[key] = Interval(diff, math.nan, math.nan, per_seed)
    return out


def loss_interval(runs: Sequence[StudyRun], options: BootstrapOptions, finetune: str, scratch: str) -> Interval:
    """Mean over the epochs both regimes logged of ``scratch``'s minus ``finetune``'s training loss, resampled over
    seeds then epochs (NaN without a shared epoch)."""
    epochs = sorted(set.intersection(*(set(r.regimes[s].losses["train"]) for r in runs for s in (finetune, scratch))))
    if not epochs:
        return Interval(math.nan, math.nan, math.nan)
    gaps = [torch.tensor([r.regimes[scratch].losses["train"][e] - r.regimes[finetune].losses["train"][e]
                          for e in epochs], dtype=torch.float64) for r in runs]
    result = bootstrap_statistics([{"gap": g} for g in gaps], lambda m: {"gap": m["gap"]}, options)
    return result["gap"]


def study_intervals(runs: Sequence[StudyRun], options: BootstrapOptions, regimes: StudyRegimes,
                    accuracy_differences: Sequence[tuple[str, str]] = ()) -> Intervals:
    """Every interval of the paper's comparison, keyed by path (see the module's docstring), and the accuracy
    ``accuracy_differences`` (:func:`accuracy_intervals`)."""
    paper = regimes.paper
    models = (paper["pretrain"], paper["finetune"], paper["scratch"])
    out: Intervals = {}
    for reading in READINGS:
        for name, value in {**knowledge_intervals(runs, reading, options, models),
                            **jaccard_intervals(runs, reading, options, regimes)}.items():
            out[f"{reading}/{name}"] = value
    out.update(accuracy_intervals(runs, options, regimes, accuracy_differences))
    out["loss/scratch_minus_finetune"] = loss_interval(runs, options, paper["finetune"], paper["scratch"])
    return out
