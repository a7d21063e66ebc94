"""Sparse recovery of Harsanyi dividends from a game's values at a few masks (docs/method.md#sparse-estimation).

A greedy forward selection in the Fourier (parity) basis under uniformly random masks, where the basis is
orthogonal in expectation, with a heredity rule for the candidates and a least-squares refit after each round,
an exact conversion to the Möbius (Harsanyi) basis, and a last least-squares refit there:

1. The support starts as ``{∅}``. Each round fits ``v`` by least squares on the support's parities
   ``chi_S(T) = prod_{j in S} (2 [j in T] - 1)`` and scores every one-variable extension ``s | {j}`` of a support
   set by ``|<chi_s chi_j, r>| / m`` (``r`` the residual on the ``m`` fit masks; one matrix product for all).
   Extensions obeying strong heredity (every subset one smaller is in the support) go first; when none clears
   the bar, the others (weak heredity), then pairs and triples two variables beyond the constant or a selected
   singleton (cancelling contributions break heredity).
2. A candidate joins when its score exceeds ``BAR_TAU * ||r|| / m``, ``BAR_TAU`` times the score of a parity
   unrelated to ``r``.
3. It stops when the fit is exact (``SSE <= 1e-20 SST``), nothing clears the bar, or the support holds
   ``m / 2`` parities. The parities then expand exactly: ``chi_A = sum_{B <= A} 2^|B| (-1)^{|A|-|B|} 1[B <= T]``.
4. The ``m / 2`` largest dividends are refitted by least squares in the Möbius basis ``1[B <= T]`` and the rest
   set to 0 (on an exactly sparse game the fit is already exact and stays so).

Layouts: ``masks[k]`` int64 (bit j = variable j), ``values[k]`` float64; results as int64 masks + float64 values.
"""
from __future__ import annotations


import torch
from torch import Tensor

#: the fit counts as exact below this share of the total sum of squares
EXACT_SSE_SHARE = 1e-20
#: a candidate joins when its score is this many standard errors above that of an unrelated parity
BAR_TAU = 2.0
#: Möbius coefficients this small relative to the largest are rounding and dropped
ZERO_SHARE = 1e-10
_SCORE_CHUNK = 2**22  # elements of one [mask, candidate] block of parities


def parity_signs(masks: Tensor, n: int) -> Tensor:
    """``chi[k, j] = 2 [bit j of masks[k]] - 1`` (float64, ``[mask, variable]``)."""
    bits = (masks.view(-1, 1) >> torch.arange(n, dtype=torch.long)) & 1
    return bits.to(torch.float64) * 2 - 1


def _bits(mask: int) -> list[int]:
    return [j for j in range(mask.bit_length()) if mask >> j & 1]


def parities(chi: Tensor, sets: list[int]) -> Tensor:
    """``P[k, c] = chi_{sets[c]}(T_k)``: the parity of each subset (int bit-masks of one order) at each mask."""
    if not sets:
        return chi.new_empty(chi.shape[0], 0)
    order = bin(sets[0]).count("1")
    if order == 0:
        return chi.new_ones(chi.shape[0], len(sets))
    index = torch.tensor([_bits(s) for s in sets], dtype=torch.long)
    step = max(1, _SCORE_CHUNK // max(chi.shape[0] * order, 1))
    return torch.cat([chi[:, index[i: i + step]].prod(dim=2) for i in range(0, len(sets), step)], dim=1)


def _popcount(mask: int) -> int:
    return bin(mask).count("1")


def _strong(candidate: int, present: set[int]) -> bool:
    """Strong heredity: every subset one smaller than ``candidate`` is in ``present``."""
    return all((candidate & ~(1 << i)) in present for i in _bits(candidate))


def _bar(residual: Tensor) -> float:
    """The score a candidate must exceed: ``BAR_TAU * ||r|| / m``."""
    return BAR_TAU * float(residual.norm()) / residual.shape[0]


def _pair_extensions(support: list[int], chi: Tensor, residual: Tensor, n: int, max_order: int) -> list[tuple[float, int]]:
    """Candidates two variables beyond the constant or a selected singleton (a last resort when the parities in
    between cancel): the scores ``|<chi_s chi_j chi_k, r>| / m`` of ``s | {j, k}``, those above the bar. Limited
    to those, its cost is ``(n + 1) m n^2`` at most."""
    m = residual.shape[0]
    present = set(support)
    grown = [s for s in support if _popcount(s) <= min(1, max_order - 2)]  # from the constant and singletons
    scores, sets = [], []
    upper = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
    for s in grown:
        weighted = residual * (parities(chi, [s]).view(-1) if s else 1.0)
        block = (chi.T @ (weighted.view(-1, 1) * chi)).abs() / m
        free = torch.tensor([not (s >> j & 1) for j in range(n)])
        j, k = torch.nonzero(upper & free.view(-1, 1) & free.view(1, -1), as_tuple=True)
        scores.append(block[j, k])
        sets += [s | (1 << a) | (1 << b) for a, b in zip(j.tolist(), k.tolist())]
    if not sets:
        return []
    flat = torch.cat(scores)
    bar = _bar(residual)
    return [(float(flat[i]), sets[i]) for i in torch.nonzero(flat > bar).flatten().tolist() if sets[i] not in present]


def _round(
    support: list[int], design: Tensor, chi: Tensor, residual: Tensor, n: int, max_order: int, room: int,
) -> list[int]:
    """The candidates that clear the bar this round, best first (at most ``room``). Every one-variable extension
    ``s | {j}`` of a support set is scored at once, ``|(design * r)^T chi| / m`` (``[support, variable]``);
    those obeying strong heredity go first, else the others (weak heredity: ``s`` is in the support), else two
    variables beyond a support set."""
    m = residual.shape[0]
    present = set(support)
    scores = ((design * residual.view(-1, 1)).T @ chi).abs() / m
    found: dict[int, float] = {}
    for row, j in torch.nonzero(scores > _bar(residual)).tolist():
        base = support[row]
        candidate = base | (1 << j)
        if candidate == base or candidate in present or _popcount(candidate) > max_order:
            continue
        found[candidate] = max(found.get(candidate, 0.0), float(scores[row, j]))
    picked = [(score, c) for c, score in found.items() if _strong(c, present)] or list(
        (score, c) for c, score in found.items())
    if not picked:
        picked = _pair_extensions(support, chi, residual, n, max_order)
    picked.sort(key=lambda p: (-p[0], p[1]))
    return [c for _, c in picked[:room]]


def _least_squares(design: Tensor, values: Tensor) -> Tensor:
    return torch.linalg.lstsq(design, values.view(-1, 1), driver="gelsy").solution.view(-1)


class _NormalEquations:
    """The least-squares fit of ``values`` on a growing set of columns through the Gram matrix ``D^T D`` and a
    Cholesky solve (parities under uniformly random masks are nearly orthogonal, so it is well conditioned);
    a least-squares solve on ``D`` itself where the Cholesky factorisation fails."""

    def __init__(self, design: Tensor, values: Tensor) -> None:
        self.design, self.values = design, values
        self.gram, self.moment = design.T @ design, design.T @ values

    def add(self, columns: Tensor) -> None:
        cross = self.design.T @ columns
        self.gram = torch.cat([torch.cat([self.gram, cross], dim=1),
                               torch.cat([cross.T, columns.T @ columns], dim=1)], dim=0)
        self.moment = torch.cat([self.moment, columns.T @ self.values])
        self.design = torch.cat([self.design, columns], dim=1)

    def solve(self) -> Tensor:
        factor, info = torch.linalg.cholesky_ex(self.gram)
        if int(info) == 0:
            return torch.cholesky_solve(self.moment.view(-1, 1), factor).view(-1)
        return _least_squares(self.design, self.values)


def fourier_support(
    masks: Tensor, values: Tensor, n: int, max_order: int, max_rounds: int = 100,
) -> tuple[list[int], Tensor]:
    """Greedy parity selection (steps 1-3 above): ``(support, coefficients)`` of the final least-squares fit."""
    chi = parity_signs(masks, n)
    values = values.to(torch.float64)
    support = [0]
    fit = _NormalEquations(chi.new_ones(chi.shape[0], 1), values)
    sst = float(((values - values.mean()) ** 2).sum())
    cap = max(1, chi.shape[0] // 2)
    coef = fit.solve()
    for _ in range(max_rounds):
        residual = values - fit.design @ coef
        if float(residual @ residual) <= EXACT_SSE_SHARE * sst or len(support) >= cap:
            break
        new = _round(support, fit.design, chi, residual, n, max_order, cap - len(support))
        if not new:
            break
        by_order: dict[int, list[int]] = {}
        for s in new:
            by_order.setdefault(_popcount(s), []).append(s)
        for sets in by_order.values():
            support += sets
            fit.add(parities(chi, sets))
        coef = fit.solve()
    return support, coef


def parities_to_dividends(support: list[int], coef: Tensor) -> tuple[Tensor, Tensor]:
    """Exact change of basis: ``(masks, dividends)`` (sorted by mask) with
    ``sum_A F(A) chi_A(T) = sum_B I(B) 1[B <= T]``; coefficients that are zero to rounding are dropped."""
    out: dict[int, float] = {}
    for a, f in zip(support, coef.tolist()):
        size_a = bin(a).count("1")
        b = a
        while True:
            size_b = bin(b).count("1")
            out[b] = out.get(b, 0.0) + f * (2.0 ** size_b) * (-1.0) ** (size_a - size_b)
            if b == 0:
                break
            b = (b - 1) & a
    keys = sorted(out)
    dividends = torch.tensor([out[k] for k in keys], dtype=torch.float64)
    scale = float(dividends.abs().max()) if len(keys) else 0.0
    keep = dividends.abs() > ZERO_SHARE * scale
    return torch.tensor(keys, dtype=torch.long)[keep], dividends[keep]


def values_from_sparse(masks: Tensor, subsets: Tensor, dividends: Tensor) -> Tensor:
    """``v(T_k) = sum_B I(B) 1[B <= T_k]`` for int64 ``masks[k]``, from sparse ``subsets[b]``, ``dividends[b]``."""
    out = torch.zeros(masks.shape[0], dtype=torch.float64)
    step = max(1, _SCORE_CHUNK // max(len(subsets), 1))
    for i in range(0, masks.shape[0], step):
        out[i: i + step] = containment(masks[i: i + step], subsets) @ dividends
    return out


def r_squared(predicted: Tensor, actual: Tensor) -> float:
    """``1 - SSE / SST`` of ``predicted`` against ``actual`` (1.0 when both sums are zero, NaN when only SST is)."""
    sse = float(((actual - predicted) ** 2).sum())
    sst = float(((actual - actual.mean()) ** 2).sum())
    if sst == 0.0:
        return 1.0 if sse == 0.0 else float("nan")
    return 1.0 - sse / sst


def containment(masks: Tensor, subsets: Tensor) -> Tensor:
    """``A[k, b] = 1[subsets[b] <= masks[k]]`` (float64): the Möbius (Harsanyi) basis at the masks."""
    return ((masks.view(-1, 1) & subsets.view(1, -1)) == subsets.view(1, -1)).to(torch.float64)


def mobius_refit(masks: Tensor, values: Tensor, subsets: Tensor, dividends: Tensor, keep: int) -> tuple[Tensor, Tensor]:
    """Step 4 above: the ``keep`` largest ``|dividends|`` refitted by least squares in the Möbius basis on the fit
    masks, the rest set to 0; ``(subsets, dividends)`` sorted by subset. With no more than ``keep`` subsets it is the
    least-squares fit on all of them (an exact fit stays exact)."""
    top = subsets[dividends.abs().topk(min(keep, len(subsets))).indices].sort().values
    refitted = _least_squares(containment(masks, top), values.to(torch.float64))
    return top, refitted


def recover_dividends(masks: Tensor, values: Tensor, n: int, max_order: int) -> tuple[Tensor, Tensor]:
    """``(subsets, dividends)``: the sparse Harsanyi dividends fitted to ``values[k] = v(T_k)`` at ``masks[k]``
    (steps 1-4 above)."""
    masks, values = masks.cpu(), values.cpu()
    support, coef = fourier_support(masks, values, n, max_order)
    subsets, dividends = parities_to_dividends(support, coef)
    return mobius_refit(masks, values, subsets, dividends, max(1, masks.shape[0] // 2))


__all__ = [
    "EXACT_SSE_SHARE",
    "ZERO_SHARE",
    "containment",
    "fourier_support",
    "mobius_refit",
    "parities",
    "parities_to_dividends",
    "parity_signs",
    "r_squared",
    "recover_dividends",
    "values_from_sparse",
]
