"""The percentile bootstrap of docs/method.md#uncertainty-and-verdicts on synthetic numbers with a known answer:
resampling weights, weighted means, the interval of a mean and of a ratio of sums, seeds then samples."""
from __future__ import annotations

import math

import pytest
import torch

from harsanyi_lightning.interactions.errors import ConfigError
from harsanyi_lightning.study.report.bootstrap import (
    BootstrapOptions,
    Interval,
    binomial_draws,
    bootstrap_statistics,
    percentile_interval,
    resample_weights,
    weighted_means,
)


def test_weights_count_the_draws_of_seeds_then_samples():
    w = resample_weights(runs=3, samples=5, resamples=200, seed=1)
    assert w.shape == (200, 3, 5)
    assert torch.all(w.sum(dim=(1, 2)) == 15)
    assert torch.all(w == w.round()) and torch.all(w >= 0)
    # each drawn run contributes exactly `samples` draws, so a run's total is a multiple of 5
    assert torch.all(w.sum(dim=2) % 5 == 0)
    assert torch.equal(w, resample_weights(3, 5, 200, seed=1))
    assert not torch.equal(w, resample_weights(3, 5, 200, seed=2))


def test_weighted_means_leave_nan_rows_out():
    x = torch.tensor([[1.0, 3.0, math.nan]], dtype=torch.float64)  # one run, three samples
    w = torch.tensor([[[1.0, 1.0, 5.0]], [[0.0, 0.0, 2.0]]], dtype=torch.float64)
    m = weighted_means(x, w)
    assert m[0].item() == pytest.approx(2.0) and math.isnan(m[1].item())


def test_the_interval_of_a_mean_matches_the_normal_theory_width():
    """For the mean of 400 normal samples the 95% bootstrap interval is mean +- 1.96 sd / sqrt(N), nearly."""
    x = torch.randn(400, generator=torch.Generator().manual_seed(0), dtype=torch.float64) + 3.0
    iv = bootstrap_statistics([{"x": x}], lambda m: {"mean": m["x"]})["mean"]
    half = 1.96 * float(x.std()) / 20
    assert iv.estimate == pytest.approx(float(x.mean()))
    assert iv.low == pytest.approx(iv.estimate - half, abs=0.2 * half)
    assert iv.high == pytest.approx(iv.estimate + half, abs=0.2 * half)


def test_a_ratio_of_sums_stays_a_ratio_of_sums_over_each_resample():
    """Samples (a, b) = (1, 1) or (3, 1): the ratio of sums is 2 for the whole set; a resample with k of the
    four (3, 1) samples has ratio (n_1 + 3k) / 8, so every draw lies on that grid and the interval within [1, 3]."""
    a = torch.tensor([1.0, 1, 1, 1, 3, 3, 3, 3], dtype=torch.float64)
    b = torch.ones(8, dtype=torch.float64)
    iv = bootstrap_statistics([{"a": a, "b": b}], lambda m: {"r": m["a"] / m["b"]})["r"]
    assert iv.estimate == pytest.approx(2.0)
    assert 1.0 <= iv.low < 2.0 < iv.high <= 3.0
    grid = {1 + 2 * k / 8 for k in range(9)}
    assert any(abs(iv.low - g) < 1e-12 for g in grid) and any(abs(iv.high - g) < 1e-12 for g in grid)


def test_seeds_widen_the_interval_when_they_disagree():
    """Two runs whose samples agree within a run but whose means differ by 10: resampling seeds first gives an
    interval spanning both runs' means; each run's own estimate is reported."""
    g = torch.Generator().manual_seed(3)
    runs = [{"x": torch.randn(50, generator=g, dtype=torch.float64) * 0.1 + mu} for mu in (0.0, 10.0)]
    iv = bootstrap_statistics(runs, lambda m: {"mean": m["x"]})["mean"]
    assert iv.estimate == pytest.approx(5.0, abs=0.05)
    assert iv.low < 0.1 and iv.high > 9.9
    assert iv.per_seed == pytest.approx((0.0, 10.0), abs=0.05)
    one = bootstrap_statistics(runs[:1], lambda m: {"mean": m["x"]})["mean"]
    assert one.high - one.low < 0.1 and one.per_seed == ()


def test_a_vector_statistic_gives_one_interval_per_entry():
    x = torch.arange(12, dtype=torch.float64).reshape(4, 3)
    out = bootstrap_statistics([{"x": x}], lambda m: {"v": m["x"]})["v"]
    assert isinstance(out, tuple) and len(out) == 3
    assert [iv.estimate for iv in out] == pytest.approx([4.5, 5.5, 6.5])


def test_the_interval_always_contains_its_estimate():
    draws = torch.tensor([0.5, 0.6, 0.7], dtype=torch.float64)
    assert percentile_interval(draws, 0.1).contains(0.1)
    assert percentile_interval(draws, 0.9).ci == (pytest.approx(0.505), 0.9)
    nan = percentile_interval(torch.tensor([math.nan]), 0.3)
    assert math.isnan(nan.low) and not nan.contains(0.3)


def test_the_accuracy_interval_is_binomial():
    """Accuracy 0.8 on 1,000 examples: the 95% interval is about 0.8 +- 1.96 sqrt(0.8 * 0.2 / 1000) = +- 0.025."""
    draws = binomial_draws([0.8], [1000], resamples=2000, seed=0)
    iv = percentile_interval(draws, 0.8)
    assert iv.low == pytest.approx(0.775, abs=0.006) and iv.high == pytest.approx(0.825, abs=0.006)


@pytest.mark.parametrize("kwargs, match", [
    ({"resamples": 10}, "bootstrap.resamples"), ({"resamples": 1000.0}, "bootstrap.resamples"),
    ({"confidence": 1.0}, "bootstrap.confidence"), ({"seed": "a"}, "bootstrap.seed"),
])
def test_bad_bootstrap_options_name_the_option(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        BootstrapOptions(**kwargs)


def test_interval_is_a_value():
    assert Interval(1.0, 0.5, 1.5).contains(1.5) and not Interval(1.0, 0.5, 1.5).contains(1.6)


def test_the_vectorised_spearman_matches_the_reports_one_ties_included():
    from harsanyi_lightning.study.report.readings import spearman_with_order
    from harsanyi_lightning.study.report.statistics import spearman

    x = torch.randn(40, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x[3, 2] = x[3, 5]
    x[4] = 1.0  # constant: NaN
    expected = torch.tensor([spearman(range(1, 11), row.tolist()) for row in x], dtype=torch.float64)
    assert torch.allclose(spearman_with_order(x), expected, equal_nan=True)
    assert math.isnan(spearman_with_order(x)[4].item())
