"""The fast Möbius transform against the definition (paper eq. 2, docs/method.md#values-and-masking)."""
import pytest
import torch

from harsanyi_lightning.interactions import harsanyi_dividends, mask_to_variables, subset_orders, values_from_dividends, variables_to_mask


def brute_force_dividends(values: torch.Tensor) -> torch.Tensor:
    """``I(S) = sum_{T ⊆ S} (-1)^{|S|-|T|} v(T)`` by enumerating every submask ``T`` of every ``S``."""
    num = values.shape[-1]
    out = torch.zeros_like(values)
    v = values.tolist()
    for s in range(num):
        total, t = 0.0, s
        while True:
            sign = -1.0 if (bin(s).count("1") - bin(t).count("1")) % 2 else 1.0
            total += sign * v[t]
            if t == 0:
                break
            t = (t - 1) & s
        out[s] = total
    return out


@pytest.mark.parametrize("n", range(1, 11))
def test_fast_transform_equals_definition(n):
    g = torch.Generator().manual_seed(n)
    values = torch.randn(1 << n, generator=g, dtype=torch.float64) * 3
    kept = values.clone()
    fast = harsanyi_dividends(values)
    assert torch.allclose(fast, brute_force_dividends(values), rtol=0, atol=1e-10)
    assert torch.equal(values, kept)  # input untouched (not in place by default)
    assert torch.allclose(values_from_dividends(fast), values, rtol=0, atol=1e-10)


def test_batched_over_samples_and_in_place():
    g = torch.Generator().manual_seed(0)
    values = torch.randn(3, 5, 1 << 6, generator=g, dtype=torch.float64)
    kept = values.clone()
    out = harsanyi_dividends(values)
    assert torch.equal(values, kept)
    for i in range(3):
        for j in range(5):
            assert torch.allclose(out[i, j], brute_force_dividends(kept[i, j]), atol=1e-10, rtol=0)
    same = harsanyi_dividends(values, inplace=True)
    assert same.data_ptr() == values.data_ptr()
    assert torch.allclose(values, out, atol=0, rtol=0)
    back = values_from_dividends(values, inplace=True)
    assert torch.allclose(back, kept, atol=1e-12, rtol=0)


def test_rejects_length_not_power_of_two():
    with pytest.raises(ValueError, match="2\\*\\*n"):
        harsanyi_dividends(torch.zeros(6, dtype=torch.float64))


def test_mask_helpers():
    assert mask_to_variables(0b10110) == (1, 2, 4)
    assert variables_to_mask([4, 1, 2]) == 0b10110
    orders = subset_orders(4)
    assert orders.tolist() == [bin(m).count("1") for m in range(16)]
