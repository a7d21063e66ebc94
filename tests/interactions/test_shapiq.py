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
