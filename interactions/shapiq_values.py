"""Estimates as shapiq's ``InteractionValues`` and back (docs/engine.md#shapiq), so shapiq's plots (network, UpSet,
SI graph, ...) draw the project's interactions.

One sample of an :class:`~harsanyi_lightning.interactions.estimates.InteractionEstimate` becomes one
``InteractionValues`` of index ``"Moebius"`` (the Harsanyi dividends are Möbius coefficients), ``min_order`` 0
(the empty set's dividend is ``v(x_∅)``, also the ``baseline_value``; 0 for an estimate without it), ``n_players`` = ``n``, the subsets the
estimate holds in its ``interaction_lookup`` (bit ``i`` of a mask = player ``i``), ``estimated`` and
``estimation_budget`` as the estimate says (``2**n`` forward passes for exact dividends). shapiq is imported only
when these functions are called (``pip install shapiq``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import torch

from .errors import ConfigError
from .sparse import SparseInteractions
from .transform import mask_to_variables, values_from_dividends, variables_to_mask
from .values import Interactions

if TYPE_CHECKING:
    from .estimates import InteractionEstimate

#: shapiq's name of the Harsanyi dividends
MOEBIUS = "Moebius"


def _shapiq() -> Any:
    try:
        import shapiq
    except ImportError:
        raise ConfigError("converting to shapiq's InteractionValues needs shapiq: pip install shapiq") from None
    return shapiq


def to_interaction_values(estimate: InteractionEstimate, sample: int) -> Any:
    """Sample ``sample`` of ``estimate`` as a shapiq ``InteractionValues`` (this module's docstring)."""
    import numpy as np

    shapiq = _shapiq()
    dense = estimate.dense()
    if dense is not None:  # every subset, zeros included, so the conversion back gives the same table
        subsets, values = list(range(1 << estimate.n)), dense[sample].tolist()
    else:
        masks, dividends = estimate.parts()
        subsets, values = masks[sample].tolist(), dividends[sample].tolist()
    lookup = {mask_to_variables(int(m)): k for k, m in enumerate(subsets)}
    budget = estimate.record().get("budget", 1 << estimate.n)
    return shapiq.InteractionValues(
        np.asarray(values, dtype=np.float64), index=MOEBIUS, max_order=estimate.n, n_players=estimate.n, min_order=0,
        interaction_lookup=lookup, estimated=bool(estimate.estimated), estimation_budget=int(budget),
        baseline_value=float(values[subsets.index(0)]) if 0 in subsets else 0.0)


def estimate_from_interaction_values(samples: Sequence[Any]) -> InteractionEstimate:
    """The estimate whose samples are the ``InteractionValues`` ``samples`` (index ``"Moebius"``, one per sample):
    exact :class:`~harsanyi_lightning.interactions.values.Interactions` when none is estimated and each holds every
    subset, else :class:`~harsanyi_lightning.interactions.sparse.SparseInteractions` (its held-out R² unknown: NaN)."""
    if not samples:
        raise ConfigError("estimate_from_interaction_values needs at least one InteractionValues")
    n = int(samples[0].n_players)
    for values in samples:
        if values.index != MOEBIUS or int(values.n_players) != n:
            raise ConfigError(f"InteractionValues of index {values.index!r} on {values.n_players} players: give the "
                              f"Möbius coefficients (index {MOEBIUS!r}) of {n} players for every sample")
    masks, dividends = [], []
    for values in samples:
        pairs = sorted((variables_to_mask(subset), float(values.values[k]))
                       for subset, k in values.interaction_lookup.items())
        masks.append(torch.tensor([m for m, _ in pairs], dtype=torch.long))
        dividends.append(torch.tensor([d for _, d in pairs], dtype=torch.float64))
    complete = all(len(m) == 1 << n for m in masks)
    if complete and not any(values.estimated for values in samples):
        table = torch.stack(dividends)
        return Interactions(values=values_from_dividends(table), dividends=table, n=n)
    budget = int(samples[0].estimation_budget or 0)
    return SparseInteractions(masks, dividends, [float("nan")] * len(samples), budget, 0, n, n, 0)


__all__ = ["MOEBIUS", "estimate_from_interaction_values", "to_interaction_values"]
