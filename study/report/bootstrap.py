"""Percentile bootstrap over samples, and over training seeds then samples (docs/method.md#uncertainty-and-verdicts).

Every headline number of the report is a function of **means of per-sample quantities** (the order
averages ``K^(i)`` of each sample, each sample's Ratio, each sample's Jaccard at an evaluation, ...): a
ratio of sums stays a ratio of sums over a resample. So a resample is a table of **weights**
``weights[resample, run, sample]``, the number of times sample ``sample`` of run ``run`` (one training seed)
was drawn, and every statistic is recomputed from the weighted means (:func:`weighted_means`).

Resampling (:func:`resample_weights`): with ``R`` runs (seeds) of ``N`` samples each, a resample first
draws ``R`` runs with replacement, then ``N`` samples with replacement within each drawn run. With one
run it is the plain bootstrap over samples. The interval is the 95% percentile interval of the resampled
statistic (:func:`percentile_interval`), widened to contain the estimate where the resampling
distribution lies wholly on one side of it (a statistic such as a largest fall is biased in small
samples); the report then says so by the interval's edge equalling the estimate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch
from torch import Tensor

from ..bootstrap_options import CONFIDENCE, RESAMPLES, BootstrapOptions

__all__ = [
    "Interval", "binomial_draws", "bootstrap_statistics", "percentile_interval", "resample_weights", "weighted_means",
]


@dataclass(frozen=True)
class Interval:
    """An estimate with its percentile bootstrap interval; ``per_seed`` holds each training seed's own
    estimate when a study has several (empty otherwise)."""

    estimate: float
    low: float
    high: float
    per_seed: tuple[float, ...] = ()

    @property
    def ci(self) -> tuple[float, float]:
        """``(low, high)``."""
        return (self.low, self.high)

    def contains(self, value: float) -> bool:
        """Whether ``low <= value <= high`` (False when any of them is NaN)."""
        return self.low <= value <= self.high


def resample_weights(runs: int, samples: int, resamples: int = RESAMPLES, seed: int = 0) -> Tensor:
    """``weights[resample, run, sample]`` (float64): how often each sample of each run is drawn in each
    resample; first ``runs`` runs with replacement, then ``samples`` samples with replacement within
    each drawn run. Each resample's weights add up to ``runs * samples``. Seeded (a fixed generator)."""
    if runs < 1 or samples < 1 or resamples < 1:
        raise ValueError(f"runs={runs}, samples={samples}, resamples={resamples}: each must be at least 1")
    gen = torch.Generator().manual_seed(seed)
    drawn_runs = torch.randint(runs, (resamples, runs), generator=gen)
    drawn_samples = torch.randint(samples, (resamples, runs, samples), generator=gen)
    flat = (drawn_runs[:, :, None] * samples + drawn_samples).reshape(resamples, -1)
    weights = torch.zeros(resamples, runs * samples, dtype=torch.float64)
    weights.scatter_add_(1, flat, torch.ones_like(flat, dtype=torch.float64))
    return weights.reshape(resamples, runs, samples)


def weighted_means(features: Tensor, weights: Tensor) -> Tensor:
    """``means[resample, ...]`` of ``features[run, sample, ...]`` under ``weights[resample, run, sample]``.

    Rows with a NaN (a skipped sample, an undefined per-sample quantity) are left out of that feature's
    mean, as the metrics leave them out (docs/method.md#knowledge-metrics); a mean over no row is NaN."""
    runs, samples = features.shape[:2]
    flat = features.reshape(runs * samples, -1).to(torch.float64)
    ok = torch.isfinite(flat)
    w = weights.reshape(weights.shape[0], runs * samples)
    total = w @ torch.where(ok, flat, torch.zeros_like(flat))
    count = w @ ok.to(torch.float64)
    means = torch.where(count > 0, total / count.clamp_min(1e-300), torch.full_like(total, math.nan))
    return means.reshape(weights.shape[0], *features.shape[2:])


def binomial_draws(successes: Sequence[float], trials: Sequence[int], resamples: int = RESAMPLES,
                   seed: int = 0) -> Tensor:
    """``draws[resample]``: resampled accuracy pooled over runs, from each run's accuracy ``successes[run]``
    (a share) on ``trials[run]`` evaluated examples: first the runs with replacement, then each drawn
    run's examples (a binomial draw), the share over all drawn examples."""
    gen = torch.Generator().manual_seed(seed)
    p = torch.tensor(list(successes), dtype=torch.float64)
    n = torch.tensor(list(trials), dtype=torch.float64)
    runs = torch.randint(len(p), (resamples, len(p)), generator=gen)
    hits = torch.binomial(n[runs], p[runs].clamp(0, 1), generator=gen)
    return hits.sum(dim=1) / n[runs].sum(dim=1)


def percentile_interval(draws: Tensor, estimate: float, confidence: float = CONFIDENCE,
                        per_seed: Sequence[float] = ()) -> Interval:
    """The percentile interval of the finite ``draws[resample]`` around ``estimate``, widened to contain
    the estimate; NaN edges when no draw is finite or the estimate is NaN."""
    finite = draws[torch.isfinite(draws)].to(torch.float64)
    if not math.isfinite(estimate) or finite.numel() == 0:
        return Interval(float(estimate), math.nan, math.nan, tuple(per_seed))
    tail = (1 - confidence) / 2
    low, high = (float(q) for q in torch.quantile(finite, torch.tensor([tail, 1 - tail], dtype=torch.float64)))
    return Interval(float(estimate), min(low, estimate), max(high, estimate), tuple(float(v) for v in per_seed))


Statistic = Callable[[Mapping[str, Tensor]], Mapping[str, Tensor]]


def bootstrap_statistics(features: Sequence[Mapping[str, Tensor]], statistic: Statistic,
                         options: BootstrapOptions = BootstrapOptions()) -> dict[str, Interval | tuple[Interval, ...]]:
    """Each statistic with its interval, from per-run per-sample ``features`` (one mapping per run, each
    ``name -> Tensor[sample, ...]``, the same samples in every run).

    ``statistic(means)`` maps the feature means (``name -> Tensor[weighting, ...]``) to the statistics
    (``name -> Tensor[weighting]`` or ``Tensor[weighting, k]``), vectorised over the leading axis. It is
    evaluated on the pooled means (the estimate), on each run alone (``per_seed``, when there are several
    runs) and on :func:`resample_weights` (the draws). A statistic of shape ``[weighting, k]`` gives ``k``
    intervals."""
    runs = len(features)
    names = list(features[0])
    stacked = {k: torch.stack([f[k].to(torch.float64) for f in features]) for k in names}
    samples = stacked[names[0]].shape[1]

    def evaluate(weights: Tensor) -> Mapping[str, Tensor]:
        return statistic({k: weighted_means(v, weights) for k, v in stacked.items()})

    pooled = evaluate(torch.ones(1, runs, samples, dtype=torch.float64))
    alone = evaluate(torch.eye(runs, dtype=torch.float64)[:, :, None].expand(runs, runs, samples)) if runs > 1 else {}
    draws = evaluate(resample_weights(runs, samples, options.resamples, options.seed))
    out: dict[str, Interval | tuple[Interval, ...]] = {}
    for name, est in pooled.items():
        if est.dim() == 1:
            out[name] = percentile_interval(draws[name], float(est[0]), options.confidence,
                                            alone[name].tolist() if alone else ())
        else:
            out[name] = tuple(percentile_interval(draws[name][:, i], float(est[0, i]), options.confidence,
                                                  alone[name][:, i].tolist() if alone else ())
                              for i in range(est.shape[1]))
    return out
