"""Shapley / Banzhaf values and pairwise SII from Harsanyi dividends (docs/method.md#beyond-the-paper)."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harsanyi_lightning.interactions import (
    DataError,
    banzhaf_values,
    harsanyi_dividends,
    shapley_interaction_index,
    shapley_values,
    variables_to_mask,
)


def random_values(samples: int, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(samples, 1 << n, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("n", [6, 8])
def test_equal_shapiq_exact_computer(n):
    shapiq = pytest.importorskip("shapiq")
    values = random_values(2, n, seed=n)
    dividends = harsanyi_dividends(values)
    sv, bv, sii = shapley_values(dividends), banzhaf_values(dividends), shapley_interaction_index(dividends)
    weights = 1 << np.arange(n)
    for k in range(values.shape[0]):
        table = values[k].numpy()

        def game(coalitions: np.ndarray, table=table) -> np.ndarray:
            return table[coalitions.astype(np.int64) @ weights]

        exact = shapiq.ExactComputer(game, n_players=n)
        ref_sv, ref_bv, ref_sii = exact("SV", order=1), exact("BV", order=1), exact("SII", order=2)
        for i in range(n):
            assert abs(float(sv[k, i]) - float(ref_sv[(i,)])) < 1e-9
            assert abs(float(bv[k, i]) - float(ref_bv[(i,)])) < 1e-9
        pairs = [c for c in ref_sii.interaction_lookup if len(c) == 2]
        assert len(pairs) == n * (n - 1) // 2
        for i, j in pairs:
            assert abs(float(sii[k, i, j]) - float(ref_sii[(i, j)])) < 1e-9, (i, j)


def test_sii_symmetric_with_zero_diagonal_and_float64():
    sii = shapley_interaction_index(harsanyi_dividends(random_values(3, 7, seed=1)))
    assert sii.shape == (3, 7, 7) and sii.dtype == torch.float64
    assert torch.equal(sii, sii.transpose(1, 2))
    assert torch.all(sii.diagonal(dim1=1, dim2=2) == 0)


def test_single_dividend_is_shared_by_its_members():
    n, members = 5, (0, 2, 3)
    dividends = torch.zeros(1, 1 << n, dtype=torch.float64)
    dividends[0, variables_to_mask(members)] = 6.0
    sv, bv, sii = shapley_values(dividends)[0], banzhaf_values(dividends)[0], shapley_interaction_index(dividends)[0]
    for i in range(n):
        assert float(sv[i]) == (2.0 if i in members else 0.0)
        assert float(bv[i]) == (1.5 if i in members else 0.0)
        for j in range(n):
            expected = 3.0 if (i != j and i in members and j in members) else 0.0
            assert float(sii[i, j]) == expected


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 7), seed=st.integers(0, 10_000), samples=st.integers(1, 3))
def test_efficiency_and_linearity(n, seed, samples):
    values = random_values(samples, n, seed)
    dividends = harsanyi_dividends(values)
    sv = shapley_values(dividends)
    assert torch.allclose(sv.sum(dim=1), values[:, -1] - values[:, 0], atol=1e-9, rtol=0)
    other = harsanyi_dividends(random_values(samples, n, seed + 1))
    for fn in (shapley_values, banzhaf_values, shapley_interaction_index):
        assert torch.allclose(fn(2 * dividends - other), 2 * fn(dividends) - fn(other), atol=1e-9, rtol=0)


def test_nan_rows_stay_nan_and_others_unchanged():
    dividends = harsanyi_dividends(random_values(3, 5, seed=2))
    skipped = dividends.clone()
    skipped[1] = math.nan
    for fn in (shapley_values, banzhaf_values, shapley_interaction_index):
        out, ref = fn(skipped), fn(dividends)
        assert torch.isnan(out[1]).all()
        assert torch.equal(out[[0, 2]], ref[[0, 2]])


def test_float32_input_gives_float64():
    dividends = harsanyi_dividends(random_values(1, 4, seed=3))
    assert shapley_values(dividends.float()).dtype == torch.float64


@pytest.mark.parametrize(
    "bad", [torch.zeros(8), torch.zeros(2, 3, 8), torch.zeros(2, 6), torch.zeros(2, 0), [[0.0, 1.0]]],
    ids=["1d", "3d", "not-power-of-two", "empty", "list"],
)
def test_bad_input_raises_data_error(bad):
    for fn in (shapley_values, banzhaf_values, shapley_interaction_index):
        with pytest.raises(DataError, match="dividends"):
            fn(bad)
