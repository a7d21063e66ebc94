"""Equality with shapiq's exact Möbius interactions on a small torch MLP with a baseline imputer."""
import numpy as np
import pytest
import torch
from torch import nn

from harsanyi_lightning.interactions import build_feature_sample_set, harsanyi_interactions, log_odds_true_class, variables_to_mask

shapiq = pytest.importorskip("shapiq")


def mlp(n: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2)).double()


@pytest.mark.parametrize("n", [8, 10])
def test_equals_shapiq_moebius(n):
    model = mlp(n, seed=n)
    g = torch.Generator().manual_seed(100 + n)
    x = torch.randn(1, n, generator=g, dtype=torch.float64)
    baseline = torch.randn(n, generator=g, dtype=torch.float64)
    label = 1

    def predict(batch: np.ndarray) -> np.ndarray:
        """v(T) = log-odds of the true class on the masked input (what the shapiq user writes)."""
        with torch.no_grad():
            logits = model(torch.as_tensor(batch, dtype=torch.float64))
        return log_odds_true_class(logits, torch.full((len(batch),), label)).numpy()

    imputer = shapiq.BaselineImputer(model=predict, data=baseline.numpy()[None], x=x.numpy(), normalize=False)
    reference = shapiq.ExactComputer(imputer, n_players=n)("Moebius", order=n)

    result = harsanyi_interactions(model, build_feature_sample_set(x, [label], baseline), batch_size=300)
    ours = result.dividends[0]
    assert len(reference.interaction_lookup) == 1 << n
    for coalition, pos in reference.interaction_lookup.items():
        assert abs(float(ours[variables_to_mask(coalition)]) - float(reference.values[pos])) < 1e-10, coalition
    # and the values agree with the imputer's game on the grand coalition and the empty one
    assert abs(float(result.values[0, -1]) - float(predict(x.numpy())[0])) < 1e-12
    assert abs(float(result.values[0, 0]) - float(predict(baseline.numpy()[None])[0])) < 1e-12


def test_an_estimate_converts_to_interaction_values_equal_to_shapiqs_and_back_unchanged():
    """An exact estimate becomes, sample by sample, the ``InteractionValues`` shapiq's own ExactComputer gives for
    the same game (index Moebius, every coalition, the empty one as the baseline value), and converts back to the
    same dividends; shapiq's plots take it."""
    from harsanyi_lightning.interactions import estimate_from_interaction_values, to_interaction_values

    n = 6
    model = mlp(n, seed=3)
    g = torch.Generator().manual_seed(7)
    x, baseline = torch.randn(2, n, generator=g, dtype=torch.float64), torch.randn(n, generator=g, dtype=torch.float64)
    estimate = harsanyi_interactions(model, build_feature_sample_set(x, [1, 0], baseline), batch_size=64)
    converted = [to_interaction_values(estimate, i) for i in range(2)]
    for i, values in enumerate(converted):
        def predict(batch: np.ndarray, label: int = [1, 0][i]) -> np.ndarray:
            with torch.no_grad():
                logits = model(torch.as_tensor(batch, dtype=torch.float64))
            return log_odds_true_class(logits, torch.full((len(batch),), label)).numpy()

        imputer = shapiq.BaselineImputer(model=predict, data=baseline.numpy()[None], x=x[i:i + 1].numpy(), normalize=False)
        reference = shapiq.ExactComputer(imputer, n_players=n)("Moebius", order=n)
        assert (values.index, values.n_players, values.min_order, values.max_order) == ("Moebius", n, 0, n)
        assert values.estimated is False and values.estimation_budget == 2 ** n
        assert set(values.interaction_lookup) == set(reference.interaction_lookup)
        for coalition, pos in reference.interaction_lookup.items():
            assert abs(values[coalition] - float(reference.values[pos])) < 1e-10, coalition
        assert values.baseline_value == pytest.approx(float(estimate.values[i, 0]), abs=1e-12)
    back = estimate_from_interaction_values(converted)
    assert back.estimator == "exact" and torch.equal(back.dense(), estimate.dividends)
    assert converted[0].get_top_k(3).interaction_lookup  # a shapiq object its own methods work on


def test_a_sparse_estimate_round_trips_marked_as_estimated():
    from harsanyi_lightning.interactions import (
        estimate_from_interaction_values,
        sparse_dividends,
        to_interaction_values,
        unanimity_game,
    )
    from harsanyi_lightning.interactions.sparse_recovery import values_from_sparse

    subsets, dividends = unanimity_game(8, terms=4, seed=1)
    result = sparse_dividends(lambda m: values_from_sparse(m, subsets, dividends), 8, budget=160, max_order=4)
    values = to_interaction_values(result, 0)
    assert values.estimated is True and values.estimation_budget == 160
    back = estimate_from_interaction_values([values])
    # the same dividend for every subset (shapiq lists the empty coalition always, with the baseline value 0 here)
    assert back.estimated and torch.equal(back.dense_row(0), result.dense_row(0))
    assert set(back.masks[0].tolist()) - set(result.masks[0].tolist()) <= {0}
