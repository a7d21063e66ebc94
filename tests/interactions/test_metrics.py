"""Metrics of docs/method.md#knowledge-metrics on random and hand-computed cases."""
import math

import pytest
import torch

from harsanyi_lightning.interactions import (
    jaccard_similarity,
    knowledge_by_order,
    knowledge_split,
    knowledge_totals,
    matching_error,
    mean_jaccard,
    order_means,
    preserved_ratio,
    salient_count,
    salient_mask,
    strength_by_order,
    subset_orders,
)


def random_dividends(samples=4, n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(samples, 1 << n, generator=g, dtype=torch.float64)
    t[t.abs() < 0.2] = 0.0  # exact zeros exercise the a·b > 0 boundary
    return t


def test_split_sums_per_subset_and_per_order():
    a, b = random_dividends(seed=1), random_dividends(seed=2)
    b[:, ::7] = -a[:, ::7]  # some sign flips
    b[:, 1::9] = a[:, 1::9]  # some equal
    split = knowledge_split(a, b)
    assert (split["preserve"] >= 0).all() and (split["discard"] >= 0).all() and (split["new"] >= 0).all()
    assert torch.allclose(split["preserve"] + split["discard"], a.abs(), rtol=0, atol=1e-12)
    assert torch.allclose(split["preserve"] + split["new"], b.abs(), rtol=0, atol=1e-12)
    by_order = knowledge_by_order(a, b)
    assert by_order["preserve"].shape == (7,)
    assert torch.allclose(by_order["preserve"] + by_order["discard"], by_order["pretrain"], rtol=0, atol=1e-12)
    assert torch.allclose(by_order["preserve"] + by_order["new"], by_order["finetune"], rtol=0, atol=1e-12)
    orders = subset_orders(6)
    for i in range(7):  # K^(i) = E_x E_{|S|=i} over all subsets of that order
        expected = split["preserve"][:, orders == i].mean()
        assert math.isclose(float(by_order["preserve"][i]), float(expected), rel_tol=1e-12, abs_tol=1e-15)
    totals = knowledge_totals(by_order)
    assert math.isclose(totals["preserve"] + totals["discard"], totals["pretrain"], rel_tol=1e-12)


def test_split_hand_case():
    a = torch.tensor([[0.0, 2.0, -3.0, 1.0, 0.0, 5.0, 1.0, -1.0]])
    b = torch.tensor([[9.0, 1.0, -5.0, -1.0, 4.0, 5.0, 0.0, 2.0]])
    split = knowledge_split(a, b)
    assert split["preserve"].tolist() == [[0.0, 1.0, 3.0, 0.0, 0.0, 5.0, 0.0, 0.0]]
    assert split["discard"].tolist() == [[0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0]]
    assert split["new"].tolist() == [[9.0, 0.0, 2.0, 1.0, 4.0, 0.0, 0.0, 2.0]]


def test_ratio_hand_case():
    a = torch.tensor([[0.0, 4.0, 1.0, -1.0]], dtype=torch.float64)
    b = torch.tensor([[0.0, 2.0, -3.0, -2.0]], dtype=torch.float64)  # K_preserve = [2, 0, 1]
    c = torch.tensor([[7.0, 0.5, -1.0, -5.0]], dtype=torch.float64)  # shared = [0.5, -, 1]
    r = preserved_ratio(a, b, c)
    assert math.isclose(r["ratio"], (0.5 / 2 + 1.0 / 1) / 2, rel_tol=1e-12)
    assert math.isclose(r["ratio_weighted"], 1.5 / 3, rel_tol=1e-12)
    assert math.isnan(preserved_ratio(a, -a, c)["ratio"])  # nothing preserved: undefined


def test_jaccard_hand_cases():
    x = random_dividends(seed=3)
    assert torch.allclose(jaccard_similarity(x, x.clone()), torch.ones(4, dtype=torch.float64))
    x[:, 1] = 1.0  # make sure no row is all zero
    assert torch.equal(jaccard_similarity(x, -x), torch.zeros(4, dtype=torch.float64))
    first = torch.tensor([[100.0, 1.0, 2.0, 0.0]])
    second = torch.tensor([[-50.0, 2.0, 1.0, -1.0]])  # the empty set is left out
    # u = [1,2,0, 0,0,0], w = [2,1,0, 0,0,1]: ||min||=2, ||max||=5
    assert math.isclose(float(jaccard_similarity(first, second)[0]), 2 / 5, rel_tol=1e-7)
    assert math.isclose(mean_jaccard(torch.cat([first, first]), torch.cat([second, first])), (0.4 + 1) / 2, rel_tol=1e-7)


def test_salient_set_and_count():
    d = torch.tensor([[1000.0, 1.0, 0.04, -0.06, 0.05, -1.0, 0.0, 0.2]])
    # tau = 0.05 * max over non-empty subsets (1.0); strict >; the empty set is never salient
    assert salient_mask(d).tolist() == [[False, True, False, True, False, True, False, True]]
    assert salient_count(d).tolist() == [4]
    assert salient_mask(d, tau_ratio=0.5).sum().item() == 2


def test_matching_error_hand_case():
    d = torch.tensor([[0.0, 1.0, 1.0, 0.01]], dtype=torch.float64)
    # v = [0, 1, 1, 2.01]; salient-only v̂ = [0, 1, 1, 2]
    assert math.isclose(float(matching_error(d)[0]), (0.01 / 4) / (4.01 / 4), rel_tol=1e-12)
    assert float(matching_error(torch.tensor([[3.0, 1.0, -1.0, 0.5]], dtype=torch.float64))[0]) == 0.0


def test_strength_by_order_hand_case_and_nan_rows():
    d = torch.tensor([[5.0, 1.0, -3.0, 2.0], [float("nan")] * 4], dtype=torch.float64)
    assert strength_by_order(d).tolist() == [5.0, 2.0, 2.0]


@pytest.mark.parametrize("fn", [knowledge_by_order])
def test_nan_rows_ignored(fn):
    a, b = random_dividends(seed=4), random_dividends(seed=5)
    a_nan = torch.cat([a, torch.full((1, a.shape[1]), float("nan"), dtype=a.dtype)])
    b_nan = torch.cat([b, b[:1]])
    full, clean = fn(a_nan, b_nan), fn(a, b)
    for key in ("pretrain",):
        assert torch.allclose(full[key], clean[key])


def test_order_means_per_sample_on_a_table_and_on_slots():
    d = random_dividends(samples=3, n=5, seed=4)
    orders = subset_orders(5)
    means = order_means(d)
    assert means.shape == (3, 6)
    for i in range(3):
        for k in range(6):
            assert means[i, k] == pytest.approx(float(d[i, orders == k].mean()), abs=1e-12)
    # slots: the non-zero subsets of each sample only, padded with zeros at order 0
    slots = torch.zeros(3, 1 << 5, dtype=torch.long)
    values = torch.zeros(3, 1 << 5, dtype=torch.float64)
    for i in range(3):
        nz = (d[i] != 0).nonzero().view(-1)
        slots[i, : len(nz)], values[i, : len(nz)] = orders[nz], d[i, nz]
    torch.testing.assert_close(order_means(values, slots, 5), means, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="give n with orders"):
        order_means(values, slots)
