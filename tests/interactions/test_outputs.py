"""The network output v = stable log-odds of the true class (paper eq. 1, docs/method.md#values-and-masking)."""
import math

import pytest
import torch

from harsanyi_lightning.interactions import ConfigError, DataError, log_odds_true_class


@pytest.mark.parametrize("margin", [1.0, 100.0, 1000.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_two_class_margins_exact(margin, dtype):
    logits = torch.tensor([[margin, 0.0], [0.0, margin], [margin / 2, -margin / 2]], dtype=dtype)
    v = log_odds_true_class(logits, torch.tensor([0, 0, 1]))
    assert v.dtype == torch.float64
    assert torch.isfinite(v).all()
    assert v.tolist() == [margin, -margin, -margin]


def test_multi_class():
    logits = torch.tensor([[0.0, 0.0, 0.0], [1000.0, 0.0, 0.0], [1000.0, 0.0, 0.0], [2.0, -1.0, 0.5]], dtype=torch.float64)
    v = log_odds_true_class(logits, torch.tensor([0, 0, 1, 2]))
    assert math.isclose(v[0].item(), -math.log(2), rel_tol=1e-15)
    assert math.isclose(v[1].item(), 1000 - math.log(2), rel_tol=1e-15)
    assert v[2].item() == -1000.0  # 0 - logsumexp(1000, 0) = -1000 - log1p(e^-1000)
    p = torch.softmax(logits[3], 0)[2].item()  # moderate margins: agree with log(p / (1 - p))
    assert math.isclose(v[3].item(), math.log(p / (1 - p)), rel_tol=1e-12)


def test_bad_logits_shape_and_label():
    with pytest.raises(DataError, match=r"logits\[batch"):
        log_odds_true_class(torch.zeros(4), torch.zeros(4, dtype=torch.long))
    with pytest.raises(DataError, match="at least 2"):
        log_odds_true_class(torch.zeros(4, 1), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ConfigError, match="label 3 is out of range"):
        log_odds_true_class(torch.zeros(2, 3), torch.tensor([0, 3]))
