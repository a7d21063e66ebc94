"""Sparse estimates of Harsanyi dividends past ``2**n``: a value oracle or a model, a budget of masks per sample
(docs/method.md#sparse-estimation).

Typical use::

    sample_set = build_text_sample_set(sentences, labels, tokenizer, n=24, max_variables=62)
    result = sparse_interactions(model, sample_set, budget=4096, max_order=4)
    result.masks[i], result.dividends[i]   # sample i: int64 bit-masks (bit j = word j), float64 dividends
    result.r2_heldout[i]                   # 1 - SSE / SST on >= 1,000 fresh uniformly random masks
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import torch
from torch import Tensor, nn

from .errors import ConfigError
from .sparse_design import DEFAULT_HELDOUT, check_sparse_options, sparse_design
from .sparse_recovery import r_squared, recover_dividends, values_from_sparse
from .values import compute_values_at

if TYPE_CHECKING:
    from .sample_set import AnnotatedSampleSet

#: ``value_fn(masks[k] int64) -> values[k] float64``: a game's values at a batch of masks
ValueFn = Callable[[Tensor], Tensor]


@dataclass
class SparseInteractions:
    """Sparse dividends of one or more samples: ``masks[i]`` (int64 bit-masks, sorted), ``dividends[i]`` (float64,
    same length), ``r2_heldout[i]``; ``queries`` masks fitted on per sample, ``heldout_queries`` more checked on."""

    masks: list[Tensor]
    dividends: list[Tensor]
    r2_heldout: list[float]
    queries: int  #: forward passes (game evaluations) per sample used for fitting: the budget
    heldout_queries: int  #: further forward passes per sample for the held-out check
    n: int
    max_order: int
    seed: int
    annotation_hash: str = ""
    precision: str = "fp32"
    estimated: bool = True  #: always True: these are estimates, not the exact transform

    def dense(self, i: int) -> Tensor:
        """``dividends[mask]`` of sample ``i`` as a dense float64 vector over all ``2**n`` masks (n <= 24 only)."""
        if self.n > 24:
            raise ConfigError(f"n={self.n}: a dense vector of 2**n dividends is too large; use masks[i], dividends[i]")
        out = torch.zeros(1 << self.n, dtype=torch.float64)
        out[self.masks[i]] = self.dividends[i]
        return out


def _fit_all(
    fit: Tensor, held: Tensor, fit_values: Tensor, held_values: Tensor, n: int, order: int,
) -> tuple[list[Tensor], list[Tensor], list[float]]:
    masks, dividends, r2 = [], [], []
    for row, held_row in zip(fit_values, held_values):
        subsets, values = recover_dividends(fit, row, n, order)
        masks.append(subsets)
        dividends.append(values)
        r2.append(r_squared(values_from_sparse(held, subsets, values), held_row))
    return masks, dividends, r2


def sparse_dividends(
    value_fn: ValueFn, n: int, *, budget: int, max_order: int | None = None, seed: int = 0,
    heldout: int = DEFAULT_HELDOUT,
) -> SparseInteractions:
    """Sparse Harsanyi dividends of one game given as a value oracle (docs/method.md#sparse-estimation).

    Args:
        value_fn: ``values[k] = v(T_k)`` (float64) for int64 ``masks[k]``, bit ``j`` = variable ``j``.
        n: the number of variables (at most 62).
        budget: masks the dividends are fitted on (the empty and full masks plus random ones).
        max_order: the largest subset size looked for (``None``: no cap).
        seed: draws the masks; the same seed gives the same result.
        heldout: fresh uniformly random masks for ``r2_heldout`` (fewer when ``2**n - budget`` is smaller).

    Raises:
        ConfigError: bad ``n``, ``budget``, ``max_order`` or ``heldout``, before ``value_fn`` is called.
    """
    order = check_sparse_options(n, budget, max_order, heldout)
    fit, held = sparse_design(n, budget, heldout, seed)
    fit_values = torch.as_tensor(value_fn(fit), dtype=torch.float64).cpu().view(1, -1)
    held_values = torch.as_tensor(value_fn(held), dtype=torch.float64).cpu().view(1, -1)
    masks, dividends, r2 = _fit_all(fit, held, fit_values, held_values, n, order)
    return SparseInteractions(masks, dividends, r2, budget, len(held), n, order, seed)


def sparse_interactions(
    model: nn.Module, sample_set: AnnotatedSampleSet, *, budget: int, max_order: int | None = None, seed: int = 0,
    heldout: int = DEFAULT_HELDOUT, precision: str = "fp32", **kwargs: Any,
) -> SparseInteractions:
    """Sparse Harsanyi dividends of ``model`` on every sample of ``sample_set`` from ``budget`` masked forward
    passes per sample (docs/method.md#sparse-estimation).

    The forward passes go through :func:`~harsanyi_lightning.interactions.values.compute_values_at`: the exact
    engine's maskers, batching across samples and masks, eval mode and strict fp32 unless ``precision`` says
    otherwise; ``kwargs`` (``batch_size``, ``forward``, ``output_fn``, ``device``, ...) go there. Every sample
    shares the same masks (drawn from ``seed``); ``heldout`` more masks per sample give ``r2_heldout``.

    Raises:
        ConfigError: bad ``budget``, ``max_order``, ``heldout`` or ``n`` above 62, before any forward pass.
        NumericsError: a NaN or infinite model output.
    """
    order = check_sparse_options(sample_set.n, budget, max_order, heldout)
    fit, held = sparse_design(sample_set.n, budget, heldout, seed)
    both = compute_values_at(model, sample_set, torch.cat([fit, held]), precision=precision, **kwargs).cpu()
    masks, dividends, r2 = _fit_all(fit, held, both[:, :budget], both[:, budget:], sample_set.n, order)
    return SparseInteractions(
        masks, dividends, r2, budget, len(held), sample_set.n, order, seed, sample_set.hash, precision,
    )


__all__ = ["SparseInteractions", "ValueFn", "sparse_dividends", "sparse_interactions"]
