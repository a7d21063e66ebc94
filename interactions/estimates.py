"""What every estimator returns: the dividends of one model on every sample of a sample set
(docs/method.md#estimators).

:class:`InteractionEstimate` is the one result type. The exact estimator's
(:class:`~harsanyi_lightning.interactions.values.Interactions`) holds ``dividends[sample, mask]`` for all ``2**n``
masks; the sparse estimator's (:class:`~harsanyi_lightning.interactions.sparse.SparseInteractions`) holds, per
sample, the recovered subsets ``masks[i]`` and their ``dividends[i]``, every other subset 0. Both give the same
things in the same shapes: the artifact record, the scalars, the attributions, their parts per sample, and a
dense table where every dividend is known. The functions below compare estimates of any kind with each other:
on the dense tables when every estimate has one, else on one slot layout (:mod:`.sparse_slots`: a subset absent
from an estimate counts 0 there), so no caller asks which estimator produced an estimate.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Optional, Sequence

import torch
from torch import Tensor

from .metrics import mean_jaccard, sparse_jaccard, strength_by_order
from .scalars import knowledge_scalars, ratio_scalars
from .sparse_slots import slot_tables

#: per sample, the subsets (int64 bit-masks, bit ``j`` = variable ``j``) and their dividends (float64)
Parts = tuple[list[Tensor], list[Tensor]]


class InteractionEstimate(ABC):
    """The dividends of one model on every sample of one sample set (this module's docstring).

    ``estimator`` names the estimator that produced it (the ``estimator`` entry of its record), ``estimated`` says
    whether the dividends are estimates (sparse) or the exact transform of every mask."""

    estimator: ClassVar[str]
    estimated: ClassVar[bool]
    n: int

    @property
    @abstractmethod
    def num_samples(self) -> int:
        """The samples the estimate covers."""

    @abstractmethod
    def parts(self) -> Parts:
        """``(masks[i], dividends[i])`` per sample: the subsets the estimate holds a dividend for."""

    def dense(self) -> Optional[Tensor]:
        """``dividends[sample, mask]`` over all ``2**n`` masks when every dividend is known, else ``None``."""
        return None

    @abstractmethod
    def record(self) -> dict[str, Any]:
        """The entries of an evaluation artifact this estimate fills (``estimator``, ``estimated``, its tables)."""

    @abstractmethod
    def interaction_scalars(self) -> dict[str, float]:
        """The ``interactions/*`` scalars of this estimate (:mod:`.scalars`)."""

    @abstractmethod
    def attributions(self) -> dict[str, Tensor]:
        """Shapley ``shapley[sample, i]``, Banzhaf ``banzhaf[sample, i]`` and the pairwise Shapley interaction index
        ``sii[sample, i, j]`` from the dividends (docs/method.md#beyond-the-paper)."""

    @classmethod
    @abstractmethod
    def from_record(cls, content: Mapping[str, Any]) -> InteractionEstimate:
        """The estimate an artifact's content holds (the inverse of :meth:`record`)."""


@dataclass(frozen=True)
class AlignedTables:
    """Several estimates' dividends on one layout: ``tables[k][sample, column]`` (float64). Dense ``[sample, mask]``
    tables have ``orders`` ``None``; slot tables carry ``orders[sample, slot]`` and ``n`` (:mod:`.sparse_slots`)."""

    tables: tuple[Tensor, ...]
    orders: Optional[Tensor]
    n: int

    @property
    def layout(self) -> dict[str, Any]:
        """The ``orders`` / ``n`` keyword arguments the metrics take for this layout (none for dense tables)."""
        return {} if self.orders is None else {"orders": self.orders, "n": self.n}


def aligned_tables(estimates: Sequence[InteractionEstimate]) -> AlignedTables:
    """``estimates`` (the same samples in each) on one layout: their dense tables when every one has them, else
    one slot table per estimate on the union of their subsets."""
    dense = [e.dense() for e in estimates]
    n = estimates[0].n
    if all(d is not None for d in dense):
        return AlignedTables(tables=tuple(d.to(torch.float64) for d in dense), orders=None, n=n)
    slots = slot_tables([e.parts() for e in estimates], n)
    return AlignedTables(tables=slots.tables, orders=slots.orders, n=n)


def strength_of(estimate: InteractionEstimate) -> Tensor:
    """Mean ``|I(S)|`` per order ``[0..n]`` over samples (absent subsets count 0)."""
    aligned = aligned_tables([estimate])
    return strength_by_order(aligned.tables[0], **aligned.layout)


def reference_scalars(current: InteractionEstimate, references: Mapping[str, InteractionEstimate],
                      ) -> tuple[dict[str, float], Optional[dict[str, Tensor]]]:
    """The ``knowledge/*`` scalars of ``current`` against ``references`` (``{role: estimate}``): eqs. 6-7 against
    ``pretrain`` and, with ``finetune`` too, eq. 8 with ``current`` as the scratch model; and the knowledge by order
    (``None`` without a pretrain reference)."""
    if "pretrain" not in references:
        return {}, None
    roles = [role for role in ("pretrain", "finetune") if role in references]
    aligned = aligned_tables([references[role] for role in roles] + [current])
    out, by_order = knowledge_scalars(aligned.tables[0], aligned.tables[-1], **aligned.layout)
    if "finetune" in references:
        out.update(ratio_scalars(aligned.tables[0], aligned.tables[1], aligned.tables[-1]))
    return out, by_order


def estimate_jaccard(first: InteractionEstimate, second: InteractionEstimate) -> float:
    """Jaccard similarity (eq. 9) of two estimates, per sample over the non-empty subsets, averaged over the
    samples (a subset absent from one counts 0 there; NaN rows, skipped samples, are left out)."""
    a, b = first.dense(), second.dense()
    if a is not None and b is not None:
        return mean_jaccard(a, b)
    values = [sparse_jaccard(*pair_a, *pair_b)
              for pair_a, pair_b in zip(zip(*first.parts()), zip(*second.parts()))]
    return sum(values) / len(values) if values else float("nan")


def jaccard_to_final(estimates: Sequence[InteractionEstimate]) -> list[float]:
    """The Jaccard curve (eq. 9): every estimate's similarity to the last one, in order."""
    return [estimate_jaccard(e, estimates[-1]) for e in estimates]


__all__ = [
    "AlignedTables",
    "InteractionEstimate",
    "Parts",
    "aligned_tables",
    "estimate_jaccard",
    "jaccard_to_final",
    "reference_scalars",
    "strength_of",
]
