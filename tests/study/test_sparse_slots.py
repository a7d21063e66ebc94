"""Compact slots (interactions.sparse_slots): the report's numbers of sparse estimates equal the dense path's on
the same dividends with the absent subsets set to 0 (docs/study.md#sparse-studies)."""
from __future__ import annotations

import pytest
import torch

from harsanyi_lightning.interactions.errors import AnnotationError
from harsanyi_lightning.interactions.scalars import knowledge_scalars
from harsanyi_lightning.interactions.metrics import sparse_jaccard
from harsanyi_lightning.interactions import (
    estimate_from_record,
    knowledge_by_order,
    preserved_ratio,
    salient_strength_by_order,
    slot_tables,
    strength_by_order,
)
from harsanyi_lightning.study.report.readings import (
    READINGS,
    jaccard_features,
    knowledge_features,
    knowledge_statistics,
    reading_dividends,
)
from harsanyi_lightning.study.report.statistics import ratio_by_order

N, SAMPLES = 10, 5


def random_sparse(gen: torch.Generator, count: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per sample ``count`` random subsets (the empty set sometimes among them) with random dividends; signs mixed
    so that preserve / discard / new are all non-trivial."""
    masks, dividends = [], []
    for i in range(SAMPLES):
        m = torch.unique(torch.randint(0, 1 << N, (count,), generator=gen))
        if i % 2:
            m = m[m != 0]
        masks.append(m)
        dividends.append(torch.randn(len(m), generator=gen, dtype=torch.float64) * torch.rand(len(m), generator=gen,
                                                                                             dtype=torch.float64) ** 3)
    return masks, dividends


def dense(parts: tuple[list[torch.Tensor], list[torch.Tensor]]) -> torch.Tensor:
    out = torch.zeros(SAMPLES, 1 << N, dtype=torch.float64)
    for i, (m, d) in enumerate(zip(*parts)):
        out[i, m] = d
    return out


@pytest.fixture(scope="module")
def models():
    gen = torch.Generator().manual_seed(7)
    # overlapping recovered sets: some subsets shared, some in one model only
    parts = [random_sparse(gen, 60) for _ in range(3)]
    shared = random_sparse(gen, 30)
    for p in parts:
        for i in range(SAMPLES):
            p[0][i], idx = torch.unique(torch.cat([p[0][i], shared[0][i]]), return_inverse=True)
            values = torch.zeros(len(p[0][i]), dtype=torch.float64)
            values[idx] = torch.cat([p[1][i], shared[1][i] * torch.randn(1, generator=gen, dtype=torch.float64)])
            p[1][i] = values
    slots = slot_tables(parts, N)
    return parts, slots, [dense(p) for p in parts]


def close(x: torch.Tensor, y: torch.Tensor) -> None:
    assert torch.allclose(x, y, rtol=1e-12, atol=1e-12, equal_nan=True), (x, y)


def test_slot_tables_hold_every_recovered_dividend_with_the_empty_set_first(models):
    parts, slots, tables = models
    assert slots.masks.shape == slots.tables[0].shape and (slots.masks[:, 0] == 0).all()
    assert slots.tables[0].shape[1] < 1 << N
    for t, d in zip(slots.tables, tables):
        real = slots.masks >= 0
        close(t[real], d.gather(1, slots.masks.clamp_min(0))[real])
        assert t.abs().sum() == pytest.approx(float(d.abs().sum()), rel=1e-12)
    popcount = torch.tensor([bin(int(m)).count("1") if m >= 0 else 0 for m in slots.masks.flatten()])
    assert (slots.orders.flatten() == popcount).all()


def test_order_averages_split_and_ratio_on_slots_equal_the_dense_ones(models):
    _, slots, (a, b, c) = models
    sa, sb, sc = slots.tables
    o, n = slots.orders, slots.n
    close(strength_by_order(sa, o, n), strength_by_order(a))
    for part, curve in knowledge_by_order(sa, sb, o, n).items():
        close(curve, knowledge_by_order(a, b)[part])
    assert preserved_ratio(sa, sb, sc) == pytest.approx(preserved_ratio(a, b, c), rel=1e-12)
    for key, values in ratio_by_order(sa, sb, sc, o, n).items():
        close(torch.tensor(values), torch.tensor(ratio_by_order(a, b, c)[key]))
    for sign, curve in salient_strength_by_order(sa, orders=o, n=n).items():
        close(curve, salient_strength_by_order(a)[sign])
    scalars, _ = knowledge_scalars(sa, sb, o, n)
    for key, value in knowledge_scalars(a, b)[0].items():
        assert scalars[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key


def test_report_features_in_both_readings_on_slots_equal_the_dense_ones(models):
    _, slots, tables = models
    for reading in READINGS:
        sparse = knowledge_features(*(reading_dividends(t, reading) for t in slots.tables), orders=slots.orders,
                                    n=slots.n)
        exact = knowledge_features(*(reading_dividends(t, reading) for t in tables))
        assert sparse.keys() == exact.keys()
        for key in exact:
            close(sparse[key], exact[key])
        means = {k: v.nanmean(dim=0, keepdim=True) for k, v in exact.items()}
        smeans = {k: v.nanmean(dim=0, keepdim=True) for k, v in sparse.items()}
        for key, value in knowledge_statistics(means, N).items():
            close(knowledge_statistics(smeans, N)[key], value)
        curve = jaccard_features({0: reading_dividends(slots.tables[0], reading),
                                  1: reading_dividends(slots.tables[1], reading)},
                                 reading_dividends(slots.tables[2], reading))
        close(curve, jaccard_features({0: reading_dividends(tables[0], reading),
                                       1: reading_dividends(tables[1], reading)}, reading_dividends(tables[2], reading)))
    parts = models[0]
    for i in range(SAMPLES):  # the callback's own sparse Jaccard agrees with the slot one
        j = sparse_jaccard(parts[0][0][i], parts[0][1][i], parts[2][0][i], parts[2][1][i])
        assert j == pytest.approx(float(jaccard_features({0: tables[0][i:i + 1]}, tables[2][i:i + 1])[0, 0]), rel=1e-12)


def test_an_exact_artifact_becomes_its_nonzero_subsets():
    table = torch.zeros(2, 8, dtype=torch.float64)
    table[0, [0, 3, 5]] = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    masks, dividends = estimate_from_record({"estimator": "exact", "n": 3, "dividends": table}).parts()
    assert masks[0].tolist() == [0, 3, 5] and dividends[0].tolist() == [0.5, -1.0, 2.0] and masks[1].numel() == 0
    sparse = {"estimator": "sparse", "n": 3, "sparse_masks": [torch.tensor([1, 6])], "budget": 16, "heldout_queries": 8,
              "sparse_dividends": [torch.tensor([0.25, 0.5])], "r2_heldout": [1.0], "max_order": 2, "seed": 0}
    masks, dividends = estimate_from_record(sparse).parts()
    assert masks[0].dtype == torch.long and dividends[0].dtype == torch.float64 and masks[0].tolist() == [1, 6]


def test_a_record_without_an_estimator_entry_reads_as_exact_and_an_unknown_one_fails():
    """Artifacts written before records named their estimator were all exact: they still load, as exact."""
    table = torch.zeros(1, 4, dtype=torch.float64)
    table[0, 3] = 1.5
    estimate = estimate_from_record({"n": 2, "dividends": table})
    assert estimate.estimator == "exact" and not estimate.estimated and estimate.parts()[0][0].tolist() == [3]
    with pytest.raises(AnnotationError, match="not one of"):
        estimate_from_record({"estimator": "magic", "n": 2, "dividends": table})
