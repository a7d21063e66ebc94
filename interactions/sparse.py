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
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping

import torch
from torch import Tensor, nn

from .attributions import attributions_of_parts
from .errors import ConfigError
from .estimates import InteractionEstimate, Parts
from .metrics import TAU_RATIO
from .scalars import strength_scalars
from .sparse_design import DEFAULT_HELDOUT, check_sparse_options, sparse_design
from .sparse_recovery import r_squared, recover_dividends, values_from_sparse
from .sparse_slots import slot_tables
from .values import compute_values_at

if TYPE_CHECKING:
    from .sample_set import AnnotatedSampleSet

#: ``value_fn(masks[k] int64) -> values[k] float64``: a game's values at a batch of masks
ValueFn = Callable[[Tensor], Tensor]


@dataclass
class SparseInteractions(InteractionEstimate):
    """Sparse dividends of one or more samples: ``masks[i]`` (int64 bit-masks, sorted), ``dividends[i]`` (float64,
    same length), ``r2_heldout[i]``; ``queries`` masks fitted on per sample, ``heldout_queries`` more checked on. The
    sparse estimator's :class:`~harsanyi_lightning.interactions.estimates.InteractionEstimate`: every subset left
    out has dividend 0."""

    estimator: ClassVar[str] = "sparse"
    estimated: ClassVar[bool] = True  #: always: these are estimates, not the exact transform

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

    @property
    def num_samples(self) -> int:
        return len(self.masks)

    def parts(self) -> Parts:
        return list(self.masks), list(self.dividends)

    def dense_row(self, i: int) -> Tensor:
        """``dividends[mask]`` of sample ``i`` as a dense float64 vector over all ``2**n`` masks (n <= 24 only)."""
        if self.n > 24:
            raise ConfigError(f"n={self.n}: a dense vector of 2**n dividends is too large; use masks[i], dividends[i]")
        out = torch.zeros(1 << self.n, dtype=torch.float64)
        out[self.masks[i]] = self.dividends[i]
        return out

    def record(self) -> dict[str, Any]:
        """Per sample ``sparse_masks[i]`` and ``sparse_dividends[i]``, ``r2_heldout[sample]``, and the estimate's
        ``budget``, ``heldout_queries``, ``max_order`` and ``seed`` (docs/method.md#sparse-estimation)."""
        return {"estimator": self.estimator, "estimated": self.estimated, "sparse_masks": list(self.masks),
                "sparse_dividends": list(self.dividends),
                "r2_heldout": torch.tensor(self.r2_heldout, dtype=torch.float64), "budget": int(self.queries),
                "heldout_queries": int(self.heldout_queries), "max_order": int(self.max_order), "seed": int(self.seed),
                "skipped": [], "audit": None}

    def interaction_scalars(self) -> dict[str, float]:
        """``interactions/strength/order_k`` (absent subsets count 0), ``interactions/salient_count``,
        ``interactions/r2_heldout`` (mean over samples), ``interactions/r2_heldout_min`` and
        ``interactions/estimated`` (always 1: the exact estimator never logs it)."""
        slots = slot_tables([self.parts()], self.n)
        out = strength_scalars(slots.tables[0], slots.orders, self.n)
        salient = []
        for masks, dividends in zip(self.masks, self.dividends):
            nonempty = dividends[masks != 0].abs()
            top = float(nonempty.max()) if nonempty.numel() else 0.0
            salient.append(float((nonempty > TAU_RATIO * top).sum()) if top > 0 else 0.0)
        r2 = torch.tensor(self.r2_heldout, dtype=torch.float64)
        out.update({"interactions/salient_count": sum(salient) / max(len(salient), 1),
                    "interactions/r2_heldout": float(r2.mean()), "interactions/r2_heldout_min": float(r2.min()),
                    "interactions/estimated": 1.0})
        return out

    def attributions(self) -> dict[str, Tensor]:
        return attributions_of_parts(self.masks, self.dividends, self.n)

    @classmethod
    def from_record(cls, content: Mapping[str, Any]) -> SparseInteractions:
        return cls(masks=[m.to(torch.long) for m in content["sparse_masks"]],
                   dividends=[d.to(torch.float64) for d in content["sparse_dividends"]],
                   r2_heldout=[float(x) for x in content["r2_heldout"]], queries=int(content["budget"]),
                   heldout_queries=int(content["heldout_queries"]), n=int(content["n"]),
                   max_order=int(content["max_order"]), seed=int(content["seed"]),
                   annotation_hash=str(content.get("annotation_hash", "")),
                   precision=str(content.get("precision", "fp32")))


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
