"""AND-OR interactions (docs/method.md#beyond-the-paper): identity, noise bound, planted patterns, solvers."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harsanyi_lightning.interactions import (
    ConfigError,
    DataError,
    and_or_interactions,
    and_or_salient_mask,
    and_or_strength_by_order,
    harsanyi_dividends,
    salient_mask,
    values_from_dividends,
    variables_to_mask,
)

GRADIENT_GAP = 1e-2  # stated bound: gradient objective within 1% of the LP optimum on these small games


def random_values(samples: int, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(samples, 1 << n, generator=g, dtype=torch.float64)


def pattern_game(n: int, and_patterns, or_patterns) -> torch.Tensor:
    """``v(T) = Σ w·[P ⊆ T] + Σ u·[Q ∩ T ≠ ∅]`` for all masks T, one sample."""
    masks = torch.arange(1 << n)
    v = torch.zeros(1 << n, dtype=torch.float64)
    for pattern, weight in and_patterns:
        p = variables_to_mask(pattern)
        v += weight * ((masks & p) == p)
    for pattern, weight in or_patterns:
        v += weight * ((masks & variables_to_mask(pattern)) != 0)
    return v[None]


def identity_error(values: torch.Tensor, result) -> float:
    """max_T |v'(x_∅) + Σ_{∅≠S⊆T} I_and(S) + Σ_{S∩T≠∅} I_or(S) - v'(x_T)|."""
    noisy = values + result.noise
    and_part = result.and_dividends.clone()
    and_part[:, 0] = 0
    or_part = result.or_dividends.clone()
    or_part[:, 0] = 0
    # Σ_{S∩T≠∅} o(S) = Σ_S o(S) - Σ_{S⊆N∖T} o(S); N∖T is the reversed index
    or_sum = or_part.sum(dim=1, keepdim=True) - values_from_dividends(or_part).flip(-1)
    rebuilt = noisy[:, :1] + values_from_dividends(and_part) + or_sum
    return float((rebuilt - noisy).abs().max())


def check_constraints(values: torch.Tensor, result, noise_bound: float = 0.04) -> None:
    bound = noise_bound * (values[:, -1] - values[:, 0]).abs()
    assert torch.all(result.noise.abs() <= bound[:, None] * (1 + 1e-12) + 1e-15)
    assert torch.all(result.noise[:, 0] == 0)
    assert torch.all(result.gamma[:, 0] == 0)
    scale = float(values.abs().max()) + 1.0
    assert identity_error(values, result) < 1e-8 * scale
    # the definitions: v_and = ½v' + γ, v_or = ½v' - γ
    noisy = values + result.noise
    assert torch.allclose(result.and_dividends, harsanyi_dividends(0.5 * noisy + result.gamma), atol=1e-10, rtol=0)
    assert torch.allclose(result.or_dividends, -harsanyi_dividends((0.5 * noisy - result.gamma).flip(-1)),
                          atol=1e-10, rtol=0)
    objective = result.and_dividends[:, 1:].abs().sum(1) + result.or_dividends[:, 1:].abs().sum(1)
    assert torch.allclose(result.objective, objective, atol=1e-12, rtol=0)


@pytest.mark.parametrize("solver", ["lp", "gradient"])
def test_identity_noise_bound_and_layout(solver):
    values = random_values(3, 6, seed=0)
    result = and_or_interactions(values, solver=solver)
    for t in (result.and_dividends, result.or_dividends, result.gamma, result.noise):
        assert t.shape == values.shape and t.dtype == torch.float64
    assert result.solver == solver and result.n == 6 and result.num_samples == 3
    check_constraints(values, result)


def test_planted_and_or_patterns_are_recovered_and_sparser_than_harsanyi():
    n = 8
    and_patterns = [((0, 1), 3.0), ((2, 3, 4), -2.0), ((1, 5, 6, 7), 2.5)]
    or_patterns = [((3, 6), 2.0), ((0, 4, 7), -1.5), ((2, 5, 6), 1.8)]
    values = pattern_game(n, and_patterns, or_patterns)
    result = and_or_interactions(values)
    check_constraints(values, result)
    and_salient, or_salient = and_or_salient_mask(result)
    for pattern, _ in and_patterns:
        assert bool(and_salient[0, variables_to_mask(pattern)]), pattern
    for pattern, _ in or_patterns:
        assert bool(or_salient[0, variables_to_mask(pattern)]), pattern
    found = int(and_salient.sum() + or_salient.sum())
    harsanyi = int(salient_mask(harsanyi_dividends(values)).sum())
    assert found < harsanyi, (found, harsanyi)
    # without noise the planted decomposition is the optimum, and it is what comes back
    exact = and_or_interactions(values, noise_bound=0.0)
    assert math.isclose(float(exact.objective), sum(abs(w) for _, w in and_patterns + or_patterns), rel_tol=1e-7)
    and_salient, or_salient = and_or_salient_mask(exact)
    assert {int(m) for m in torch.nonzero(and_salient[0]).flatten()} == {variables_to_mask(p) for p, _ in and_patterns}
    assert {int(m) for m in torch.nonzero(or_salient[0]).flatten()} == {variables_to_mask(p) for p, _ in or_patterns}


def test_gradient_solver_within_stated_gap_of_lp_and_gap_bound_is_certified():
    values = random_values(4, 7, seed=5)
    lp = and_or_interactions(values, solver="lp")
    grad = and_or_interactions(values, solver="gradient", tolerance=1e-3)
    check_constraints(values, grad)
    assert torch.all(lp.gap == 0)
    true_gap = (grad.objective - lp.objective) / lp.objective
    assert torch.all(true_gap >= -1e-7), "the LP is the optimum"
    assert torch.all(true_gap <= GRADIENT_GAP)
    # the certified bound holds: (P - opt) / P <= gap
    assert torch.all((grad.objective - lp.objective) / grad.objective <= grad.gap + 1e-7)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 5), seed=st.integers(0, 10_000), delta=st.sampled_from([0.0, 0.04, 0.2]),
       shift=st.floats(-5, 5), factor=st.floats(0.1, 10))
def test_lp_properties(n, seed, delta, shift, factor):
    values = random_values(2, n, seed)
    result = and_or_interactions(values, noise_bound=delta)
    check_constraints(values, result, delta)
    # the optimum is no worse than all-AND (the Harsanyi dividends) or all-OR
    harsanyi = harsanyi_dividends(values)[:, 1:].abs().sum(1)
    all_or = harsanyi_dividends(values.flip(-1))[:, 1:].abs().sum(1)
    assert torch.all(result.objective <= torch.minimum(harsanyi, all_or) + 1e-8)
    # more allowed noise never hurts; the optimum scales with v and ignores a constant shift
    if delta < 0.2:
        assert torch.all(and_or_interactions(values, noise_bound=0.2).objective <= result.objective + 1e-8)
    moved = and_or_interactions(factor * values + shift, noise_bound=delta)
    assert torch.allclose(moved.objective, factor * result.objective, rtol=1e-6, atol=1e-8)


def test_nan_rows_stay_nan_and_other_rows_are_unchanged():
    values = random_values(3, 4, seed=7)
    skipped = values.clone()
    skipped[1, 3] = math.nan
    for solver in ("lp", "gradient"):
        out, ref = and_or_interactions(skipped, solver=solver), and_or_interactions(values[[0, 2]], solver=solver)
        for name in ("and_dividends", "or_dividends", "gamma", "noise"):
            assert torch.isnan(getattr(out, name)[1]).all()
            assert torch.allclose(getattr(out, name)[[0, 2]], getattr(ref, name), atol=1e-12, rtol=0)
        assert torch.isnan(out.objective[1])
        and_salient, or_salient = and_or_salient_mask(out)
        assert not and_salient[1].any() and not or_salient[1].any()


def test_constant_game_has_no_interactions():
    values = torch.full((2, 1 << 4), 1.5, dtype=torch.float64)
    result = and_or_interactions(values)
    assert torch.all(result.objective == 0) and torch.all(result.noise == 0)
    assert not any(m.any() for m in and_or_salient_mask(result))


def test_salient_threshold_spans_both_kinds_and_never_the_empty_set():
    values = pattern_game(4, [((0, 1), 10.0)], [((2, 3), 0.6)])  # OR is 6% of the largest
    result = and_or_interactions(values, noise_bound=0.0)
    and_salient, or_salient = and_or_salient_mask(result)
    assert bool(and_salient[0, 0b0011]) and bool(or_salient[0, 0b1100])
    assert int(and_salient.sum() + or_salient.sum()) == 2
    assert not bool(and_or_salient_mask(result, tau_ratio=0.07)[1].any())


def test_bad_inputs():
    with pytest.raises(ConfigError, match="n <= 12"):
        and_or_interactions(torch.zeros(1, 1 << 13, dtype=torch.float64))
    with pytest.raises(ConfigError, match="solver"):
        and_or_interactions(random_values(1, 3, 0), solver="adam")
    with pytest.raises(ConfigError, match="noise_bound"):
        and_or_interactions(random_values(1, 3, 0), noise_bound=-0.1)
    with pytest.raises(ConfigError, match="max_iterations"):
        and_or_interactions(random_values(1, 3, 0), solver="gradient", max_iterations=0)
    for bad in (torch.zeros(8), torch.zeros(2, 6), torch.zeros(1, 2, 8)):
        with pytest.raises(DataError, match="values"):
            and_or_interactions(bad)


def test_strength_by_order_of_planted_patterns():
    """The two-phase quantity (docs/method.md#beyond-the-paper) on a game with known AND and OR patterns and no noise:
    Σ max(±I, 0) over the salient interactions of each order, per kind; a skipped (NaN) sample is ignored."""
    values = pattern_game(8, [((0, 1), 3.0), ((2, 3, 4), -2.0), ((1, 5, 6, 7), 2.5)],
                          [((3, 6), 2.0), ((0, 4, 7), -1.5), ((2, 5, 6), 1.8)])
    values = torch.cat([values, torch.full_like(values, math.nan)])
    strength = and_or_strength_by_order(and_or_interactions(values, noise_bound=0.0))
    expected = {("and", "positive"): {2: 3.0, 4: 2.5}, ("and", "negative"): {3: 2.0},
                ("or", "positive"): {2: 2.0, 3: 1.8}, ("or", "negative"): {3: 1.5}}
    for (kind, sign), by_order in expected.items():
        want = torch.tensor([by_order.get(k, 0.0) for k in range(9)], dtype=torch.float64)
        torch.testing.assert_close(strength[kind][sign], want, rtol=0, atol=1e-7)
