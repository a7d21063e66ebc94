"""Sparse estimation (docs/method.md#sparse-estimation): planted games recovered exactly within 4,096 queries,
seeds that repeat, bad input refused before any evaluation, and agreement with the exact engine on small torch
models."""
import pytest
import torch
from torch import nn

from harsanyi_lightning.interactions import (
    MAX_SPARSE_VARIABLES,
    ConfigError,
    build_feature_sample_set,
    compute_values,
    compute_values_at,
    harsanyi_dividends,
    harsanyi_interactions,
    sparse_dividends,
    sparse_interactions,
)
from harsanyi_lightning.interactions.sparse_design import sparse_design
from harsanyi_lightning.interactions.sparse_recovery import values_from_sparse
from harsanyi_lightning.interactions.unanimity_games import unanimity_game


class Oracle:
    """A planted game's values, counting the masks it is asked about."""

    def __init__(self, masks: torch.Tensor, dividends: torch.Tensor):
        self.masks, self.dividends, self.asked = masks, dividends, 0

    def __call__(self, masks: torch.Tensor) -> torch.Tensor:
        self.asked += len(masks)
        return values_from_sparse(masks, self.masks, self.dividends)


@pytest.mark.parametrize("n, terms, seed", [(24, 30, 0), (48, 30, 1), (48, 40, 2)])
def test_planted_games_are_recovered_exactly_within_4096_queries(n, terms, seed):
    planted, dividends = unanimity_game(n, terms, seed)
    oracle = Oracle(planted, dividends)
    result = sparse_dividends(oracle, n, budget=4096, max_order=4, seed=seed)
    assert result.queries == 4096 and result.heldout_queries == 1000
    assert oracle.asked == result.queries + result.heldout_queries
    assert torch.equal(result.masks[0], planted)
    assert float((result.dividends[0] - dividends).abs().max() / dividends.abs().max()) < 1e-6
    assert result.r2_heldout[0] >= 0.999


def test_the_same_seed_gives_identical_results_and_another_seed_other_masks():
    planted, dividends = unanimity_game(24, 25, 3)
    first = sparse_dividends(Oracle(planted, dividends), 24, budget=2048, max_order=4, seed=7)
    again = sparse_dividends(Oracle(planted, dividends), 24, budget=2048, max_order=4, seed=7)
    assert torch.equal(first.masks[0], again.masks[0]) and torch.equal(first.dividends[0], again.dividends[0])
    assert first.r2_heldout == again.r2_heldout
    seen = []
    sparse_dividends(lambda m: seen.append(m.clone()) or torch.zeros(len(m), dtype=torch.float64), 24, budget=2048,
                     max_order=4, seed=7)
    fit, held = sparse_design(24, 2048, 1000, 7)
    assert torch.equal(seen[0], fit) and torch.equal(seen[1], held)
    assert not torch.equal(fit, sparse_design(24, 2048, 1000, 8)[0])
    assert not torch.isin(held, fit).any() and len(fit.unique()) == 2048 and len(held.unique()) == 1000


def never_called(masks):
    raise AssertionError("the game was evaluated before the options were checked")


@pytest.mark.parametrize("n, kwargs, words", [
    (24, {"budget": 100, "max_order": 4}, ["budget=100", "too small", "max_order"]),
    (MAX_SPARSE_VARIABLES + 1, {"budget": 8192}, ["n=63", "cap of 62"]),
    (24, {"budget": 4096.0}, ["budget=4096.0", "must be an int"]),
    (24, {"budget": "4096"}, ["budget='4096'", "must be an int"]),
    (10, {"budget": 1024}, ["2**n", "harsanyi_interactions"]),
    (24, {"budget": 4096, "max_order": 0}, ["max_order=0"]),
    (24, {"budget": 4096, "heldout": 0}, ["heldout=0"]),
])
def test_bad_input_is_refused_before_any_evaluation(n, kwargs, words):
    with pytest.raises(ConfigError) as info:
        sparse_dividends(never_called, n, **kwargs)
    for word in words:
        assert word in str(info.value)


class NeverForward(nn.Module):
    def forward(self, x):
        raise AssertionError("a forward pass ran before the options were checked")


def test_bad_budget_stops_sparse_interactions_before_any_forward_pass():
    sample_set = build_feature_sample_set(torch.ones(2, 20), [0, 1], torch.zeros(20), max_variables=62)
    with pytest.raises(ConfigError, match="budget=50 is too small"):
        sparse_interactions(NeverForward(), sample_set, budget=50, max_order=3)


class PolynomialModel(nn.Module):
    """Logits ``[0, g(x)]`` with ``g`` a sum of products of at most three features: a game whose dividends are
    exactly sparse (masked features are 0)."""

    def __init__(self, terms: list[tuple[list[int], float]]):
        super().__init__()
        self.terms = terms
        self.scale = nn.Parameter(torch.ones((), dtype=torch.float64))

    def forward(self, x):
        g = sum(w * x[:, idx].prod(dim=1) for idx, w in self.terms)
        return torch.stack([torch.zeros_like(g), self.scale * g], dim=1)


def test_an_exactly_sparse_torch_model_matches_the_exact_engine_at_n10():
    terms = [([0], 0.7), ([3], -1.1), ([1, 4], 1.3), ([2, 5, 7], -0.9), ([6, 8], 0.4), ([0, 9, 3], 0.8)]
    model = PolynomialModel(terms)
    x = torch.rand(2, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) + 0.5
    sample_set = build_feature_sample_set(x, [1, 0], torch.zeros(10, dtype=torch.float64))
    exact = harsanyi_interactions(model, sample_set).dividends
    result = sparse_interactions(model, sample_set, budget=256, seed=0, batch_size=100)
    assert result.queries == 256 and result.heldout_queries == 768  # every mask not fitted on
    for i in range(2):
        assert torch.equal(result.masks[i], torch.nonzero(exact[i].abs() > 1e-12).flatten())
        assert torch.allclose(result.dense_row(i), exact[i], rtol=0, atol=1e-9 * float(exact[i].abs().max()))
        assert result.r2_heldout[i] > 1 - 1e-12


def test_a_small_mlp_is_nearly_sparse_and_its_largest_dividends_match_the_exact_ones():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 2))
    x = torch.randn(3, 10)
    sample_set = build_feature_sample_set(x, [0, 1, 1], torch.zeros(10))
    exact = harsanyi_interactions(model, sample_set).dividends
    result = sparse_interactions(model, sample_set, budget=256, seed=1)  # a quarter of the 2**10 masks
    for i in range(3):
        assert result.r2_heldout[i] > 0.99
        top = set(exact[i].abs().topk(5).indices.tolist())
        assert len(top & set(result.masks[i].tolist())) >= 4
        err = (result.dense_row(i) - exact[i]).abs().max() / exact[i].abs().max()
        assert float(err) < 0.15


def test_values_at_masks_are_the_exact_engines_values():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    sample_set = build_feature_sample_set(torch.randn(3, 6), [0, 2, 1], torch.zeros(6))
    full = compute_values(model, sample_set, batch_size=7)
    masks = torch.tensor([5, 0, 63, 17, 5])
    # other chunks, so fp32 matmuls of other shapes: equal to rounding
    assert torch.allclose(compute_values_at(model, sample_set, masks, batch_size=4), full[:, masks], atol=1e-6)
    per_sample = torch.tensor([[1, 2], [3, 4], [62, 0]])
    assert torch.allclose(compute_values_at(model, sample_set, per_sample), full.gather(1, per_sample), atol=1e-6)


def test_a_unanimity_game_has_the_dividends_it_was_built_from():
    subsets, dividends = unanimity_game(6, 5, seed=1, max_order=3)
    assert len(subsets) == 5 and all(0 < bin(s).count("1") <= 3 for s in subsets.tolist())
    exact = harsanyi_dividends(values_from_sparse(torch.arange(64), subsets, dividends).view(1, -1))[0]
    expected = torch.zeros(64, dtype=torch.float64).index_copy_(0, subsets, dividends)
    torch.testing.assert_close(exact, expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="terms=64"):
        unanimity_game(6, 64, seed=1)
