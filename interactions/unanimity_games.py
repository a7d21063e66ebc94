"""Sums of unanimity games: games whose Harsanyi dividends are known, for checking estimators against them.

A unanimity game ``u_S(T) = 1[S <= T]`` has the single dividend ``I(S) = 1``, so a weighted sum of a few of them
is a game with exactly those dividends (shapiq calls it SOUM). The sparse estimator must recover them exactly
(docs/method.md#sparse-estimation); ``values_from_sparse`` gives the game's values at any masks.
Layout: ``subsets[b]`` int64 (bit j = variable j), ``dividends[b]`` float64, sorted by subset.
"""
from __future__ import annotations

import torch
from torch import Tensor


def unanimity_game(n: int, terms: int, seed: int, max_order: int = 4) -> tuple[Tensor, Tensor]:
    """``(subsets, dividends)``: ``terms`` distinct subsets of order 1..``max_order`` over ``n`` variables, each order
    equally likely, with dividends of magnitude 0.5-2 and random signs; the same ``seed`` gives the same game."""
    if terms > (1 << n) - 1:
        raise ValueError(f"terms={terms} is more than the {(1 << n) - 1} non-empty subsets of n={n} variables")
    g = torch.Generator().manual_seed(seed)
    chosen: set[int] = set()
    while len(chosen) < terms:
        order = int(torch.randint(1, min(max_order, n) + 1, (1,), generator=g))
        chosen.add(sum(1 << v for v in torch.randperm(n, generator=g)[:order].tolist()))
    subsets = torch.tensor(sorted(chosen), dtype=torch.long)
    signs = torch.randint(0, 2, (terms,), generator=g) * 2 - 1
    return subsets, signs * (0.5 + 1.5 * torch.rand(terms, generator=g, dtype=torch.float64))


__all__ = ["unanimity_game"]
