"""Properties of Harsanyi dividends that must hold to float precision (paper Appendix A, docs/method.md#values-and-masking)."""
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harsanyi_lightning.interactions import harsanyi_dividends, values_from_dividends

SETTINGS = settings(max_examples=25, deadline=None)
ATOL = 1e-9


@st.composite
def games(draw, min_n=1, max_n=7):
    n = draw(st.integers(min_n, max_n))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    return n, torch.randn(1 << n, generator=g, dtype=torch.float64) * 5, g


def close(a, b):
    return torch.allclose(a, b, rtol=0, atol=ATOL)


@SETTINGS
@given(games())
def test_efficiency_and_universal_matching(game):
    n, v, _ = game
    I = harsanyi_dividends(v)
    assert torch.isclose(I.sum(), v[-1], rtol=0, atol=ATOL)  # v(x) = sum_S I(S) (eq. 3)
    for T in range(1 << n):  # v(x_T) = sum_{S ⊆ T} I(S) (eq. 4)
        subsets = [S for S in range(1 << n) if S & ~T == 0]
        assert abs(float(I[subsets].sum()) - float(v[T])) < ATOL
    assert close(values_from_dividends(I), v)


@SETTINGS
@given(games(), st.floats(-3, 3), st.floats(-3, 3))
def test_linearity(game, a, b):
    n, u, g = game
    w = torch.randn(1 << n, generator=g, dtype=torch.float64)
    assert close(harsanyi_dividends(a * u + b * w), a * harsanyi_dividends(u) + b * harsanyi_dividends(w))


@SETTINGS
@given(games(min_n=2), st.data())
def test_dummy(game, data):
    n, v, _ = game
    i = data.draw(st.integers(0, n - 1))
    bit = 1 << i
    v[0] = 0.0  # the property's premise v(S ∪ {i}) = v(S) + v({i}) forces v(∅) = 0
    for S in range(1 << n):
        if S & bit and S != bit:
            v[S] = v[S & ~bit] + v[bit]
    I = harsanyi_dividends(v)
    others = [S for S in range(1 << n) if S & bit and S != bit]
    assert torch.allclose(I[others], torch.zeros(len(others), dtype=torch.float64), atol=ATOL, rtol=0)
    assert torch.isclose(I[bit], v[bit], atol=ATOL, rtol=0)


@SETTINGS
@given(games(min_n=2), st.data())
def test_symmetry(game, data):
    n, v, _ = game
    i, j = data.draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
    bi, bj = 1 << i, 1 << j
    rest = [S for S in range(1 << n) if not S & (bi | bj)]
    for S in rest:
        v[S | bj] = v[S | bi]  # i and j cooperate with every S ⊆ N \ {i, j} in the same way
    I = harsanyi_dividends(v)
    for S in rest:
        assert abs(float(I[S | bi] - I[S | bj])) < ATOL


@SETTINGS
@given(games(min_n=2), st.permutations(range(7)))
def test_anonymity(game, perm7):
    n, v, _ = game
    perm = [p for p in perm7 if p < n]  # a permutation of 0..n-1

    def permute(mask):
        return sum(1 << perm[k] for k in range(n) if mask >> k & 1)

    pv = torch.empty_like(v)
    for S in range(1 << n):
        pv[permute(S)] = v[S]  # (πv)(x_{πS}) = v(x_S)
    I, pI = harsanyi_dividends(v), harsanyi_dividends(pv)
    for S in range(1 << n):
        assert abs(float(I[S] - pI[permute(S)])) < ATOL


@SETTINGS
@given(games(min_n=2), st.data())
def test_recursive(game, data):
    n, v, _ = game
    i = data.draw(st.integers(0, n - 1))
    bit = 1 << i
    I = harsanyi_dividends(v)
    for S in range(1 << n):
        if S & bit:
            continue
        present = 0.0  # I(S | i always present) = sum_{L ⊆ S} (-1)^{|S|-|L|} v(L ∪ {i})
        for L in range(1 << n):
            if L & ~S == 0:
                present += (-1) ** (bin(S).count("1") - bin(L).count("1")) * float(v[L | bit])
        assert abs(float(I[S | bit]) - (present - float(I[S]))) < ATOL


@SETTINGS
@given(st.integers(1, 8), st.data(), st.floats(-10, 10).filter(lambda c: abs(c) > 1e-3))
def test_interaction_distribution(n, data, c):
    T = data.draw(st.integers(0, (1 << n) - 1))
    v = torch.tensor([c if S & T == T else 0.0 for S in range(1 << n)], dtype=torch.float64)
    I = harsanyi_dividends(v)
    expected = torch.zeros(1 << n, dtype=torch.float64)
    expected[T] = c
    assert close(I, expected)
