"""The estimators of Harsanyi dividends, and the one place that builds them by name (docs/method.md#estimators).

- :class:`ExactEstimator` (``"exact"``): the model on all ``2**n`` masks of every sample, then the fast Möbius
  transform (eq. 2); its result is :class:`~harsanyi_lightning.interactions.values.Interactions`.
- :class:`SparseEstimator` (``"sparse"``): dividends estimated from ``budget`` masks per sample, subsets up to
  ``max_order``, ``n`` up to 62 (docs/method.md#sparse-estimation); its result is
  :class:`~harsanyi_lightning.interactions.sparse.SparseInteractions`.

Both implement :class:`Estimator`: ``estimate(model, samples, ...) -> InteractionEstimate``, each rank of a run
estimating its share of the samples (:class:`~harsanyi_lightning.interactions.sharding.Shards`) and every rank
holding the gathered result. What differs between them is a property of the class (which options it takes,
whether AND-OR interactions can be computed from its result), never a test of its name: the registry
:data:`ESTIMATORS` is the only code that maps a name to an estimator (:func:`estimator_class`,
:func:`build_estimator`) and a stored record back to its result type (:func:`estimate_from_record`).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Optional

import torch

from .errors import AnnotationError, ConfigError
from .sample_set import DEFAULT_MAX_VARIABLES, check_num_variables
from .sharding import ONE_PROCESS, Shards
from .sparse import SparseInteractions, sparse_interactions
from .sparse_design import MAX_SPARSE_VARIABLES, check_sparse_options
from .transform import harsanyi_dividends
from .values import Interactions, audit_precision, check_finite, compute_values, nonfinite_samples

if TYPE_CHECKING:
    from torch import nn

    from .estimates import InteractionEstimate
    from .sample_set import AnnotatedSampleSet

#: the samples a precision other than strict fp32 is audited on (docs/method.md#precision-and-budget)
AUDIT_SAMPLES = 2
#: a sparse estimate draws its masks from this seed at every evaluation, so the evaluations of a run share them
SPARSE_SEED = 0


def _positive_int(name: str, value: object, fix: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name}={value!r} must be an integer >= 1; {fix}")


class Estimator(ABC):
    """Estimates the dividends of a model on a sample set (this module's docstring).

    Args:
        precision: the forward passes' precision (strict ``"fp32"`` by default; docs/method.md#precision-and-budget).
        batch_size: masked inputs per forward pass.
        on_nonfinite: ``"raise"`` on a NaN/inf output, or ``"skip"`` the sample where the estimator allows it.
        budget, max_order: the sparse estimator's masks per sample and largest subset size.
        max_variables: the cap on ``n``.
    """

    #: the name the ``estimator`` option and the artifacts' ``estimator`` entry give
    name: ClassVar[str]
    #: the result type, :class:`~harsanyi_lightning.interactions.estimates.InteractionEstimate`'s subclass
    result: ClassVar[type]
    #: whether AND-OR interactions can be computed from the result (they need every value)
    supports_and_or: ClassVar[bool] = False
    #: the most variables the estimator takes
    variable_cap: ClassVar[int] = DEFAULT_MAX_VARIABLES

    def __init__(self, *, precision: str = "fp32", batch_size: int = 256, on_nonfinite: str = "raise",
                 budget: Optional[int] = None, max_order: Optional[int] = None,
                 max_variables: int = DEFAULT_MAX_VARIABLES) -> None:
        self.check_options(budget=budget, max_order=max_order, on_nonfinite=on_nonfinite, max_variables=max_variables)
        self.precision, self.batch_size, self.on_nonfinite = precision, batch_size, on_nonfinite
        self.budget, self.max_order, self.max_variables = budget, max_order, max_variables

    @classmethod
    @abstractmethod
    def check_options(cls, *, budget: Optional[int], max_order: Optional[int], on_nonfinite: str,
                      max_variables: int) -> None:
        """:class:`ConfigError` naming the option and the fix when this estimator does not take these options."""

    def check_variables(self, n: int) -> None:
        """:class:`ConfigError` when a sample set of ``n`` variables is beyond this estimator's options."""
        check_num_variables(n, self.max_variables)

    @abstractmethod
    def estimate(self, model: nn.Module, samples: AnnotatedSampleSet, *, forward: Optional[Callable] = None,
                 device: Optional[torch.device] = None, progress: bool = False,
                 shards: Shards = ONE_PROCESS) -> InteractionEstimate:
        """The dividends of ``model`` on every sample of ``samples``, this rank computing its share of
        ``shards``; every rank returns the whole result."""


class ExactEstimator(Estimator):
    """All ``2**n`` masks of every sample, the exact transform (eq. 2). ``on_nonfinite="skip"`` leaves a sample with
    a NaN/inf output out (its rows NaN, listed in ``skipped``); an audited precision records its error on the first
    :data:`AUDIT_SAMPLES` samples (``audit``)."""

    name = "exact"
    result = Interactions
    supports_and_or = True

    @classmethod
    def check_options(cls, *, budget: Optional[int], max_order: Optional[int], on_nonfinite: str,
                      max_variables: int) -> None:
        for option, value in (("budget", budget), ("max_order", max_order)):
            if value is not None:
                raise ConfigError(f"{option}={value!r} is an option of estimator='sparse'; the exact estimator "
                                  f"evaluates all 2**n masks: set estimator='sparse' or drop {option}")

    def estimate(self, model: nn.Module, samples: AnnotatedSampleSet, *, forward: Optional[Callable] = None,
                 device: Optional[torch.device] = None, progress: bool = False,
                 shards: Shards = ONE_PROCESS) -> Interactions:
        kwargs = dict(forward=forward, batch_size=self.batch_size, device=device, max_variables=self.max_variables)
        local = shards.local(samples)
        values = shards.together(lambda: compute_values(model, local, precision=self.precision, progress=progress,
                                                        on_nonfinite="keep", **kwargs))
        values = shards.gather(values, len(samples))
        if self.on_nonfinite == "raise":
            check_finite(values, samples)  # every rank holds every value: all raise together
        skipped = nonfinite_samples(values)
        values[skipped] = float("nan")
        dividends = harsanyi_dividends(values)
        audit = None
        if self.precision != "fp32":
            audit = audit_precision(model, samples, dividends, self.precision, AUDIT_SAMPLES, **kwargs)
        return Interactions(values, dividends, samples.n, samples.hash, self.precision, skipped, audit)


class SparseEstimator(Estimator):
    """Dividends from ``budget`` masks per sample, subsets up to ``max_order``
    (:func:`~harsanyi_lightning.interactions.sparse.sparse_interactions`, masks from :data:`SPARSE_SEED`); a NaN/inf
    output raises."""

    name = "sparse"
    result = SparseInteractions
    variable_cap = MAX_SPARSE_VARIABLES

    @classmethod
    def check_options(cls, *, budget: Optional[int], max_order: Optional[int], on_nonfinite: str,
                      max_variables: int) -> None:
        if budget is None:
            raise ConfigError("estimator='sparse' needs a budget (masked forward passes per sample), e.g. budget=4096; "
                              "see docs/method.md#sparse-estimation")
        _positive_int("budget", budget, "the masked forward passes per sample of estimator='sparse', e.g. 4096")
        if on_nonfinite != "raise":
            raise ConfigError(f"on_nonfinite={on_nonfinite!r} with estimator='sparse' is not supported yet (a NaN/inf "
                              "output stops the evaluation); use on_nonfinite='raise' or estimator='exact'")
        if max_order is not None:
            _positive_int("max_order", max_order, "the largest subset size estimated, or None for no cap")
        if max_variables > MAX_SPARSE_VARIABLES:
            raise ConfigError(f"max_variables={max_variables} is above the sparse estimator's cap of "
                              f"{MAX_SPARSE_VARIABLES} variables (int64 bit-masks); use max_variables <= "
                              f"{MAX_SPARSE_VARIABLES}")

    def check_variables(self, n: int) -> None:
        check_sparse_options(n, self.budget, self.max_order)

    def estimate(self, model: nn.Module, samples: AnnotatedSampleSet, *, forward: Optional[Callable] = None,
                 device: Optional[torch.device] = None, progress: bool = False,
                 shards: Shards = ONE_PROCESS) -> SparseInteractions:
        local = shards.local(samples)
        result = shards.together(lambda: sparse_interactions(
            model, local, budget=self.budget, max_order=self.max_order, seed=SPARSE_SEED, precision=self.precision,
            forward=forward, batch_size=self.batch_size, device=device, progress=progress))
        if shards.world_size == 1:
            return result
        total = len(samples)
        masks = shards.gather_padded(result.masks, total, -1)
        dividends = shards.gather_padded(result.dividends, total, 0.0)
        r2 = shards.gather(torch.tensor(result.r2_heldout, dtype=torch.float64), total)
        held = [row != -1 for row in masks]
        return SparseInteractions(
            [m[k] for m, k in zip(masks, held)], [d[k] for d, k in zip(dividends, held)], r2.tolist(),
            result.queries, result.heldout_queries, samples.n, result.max_order, result.seed, samples.hash,
            self.precision)


#: every estimator by name: the only map from a name to an estimator
ESTIMATORS: dict[str, type[Estimator]] = {cls.name: cls for cls in (ExactEstimator, SparseEstimator)}


def estimator_class(name: object) -> type[Estimator]:
    """The estimator called ``name``; :class:`ConfigError` listing the estimators for any other name."""
    found = ESTIMATORS.get(name) if isinstance(name, str) else None
    if found is None:
        raise ConfigError(f"estimator={name!r} must be one of {', '.join(repr(n) for n in ESTIMATORS)}: 'exact' (all "
                          "2**n masks) or 'sparse' (budget masks per sample)")
    return found


def build_estimator(name: str, **options: Any) -> Estimator:
    """The estimator called ``name`` with its options (:class:`Estimator`'s arguments), checked."""
    return estimator_class(name)(**options)


def estimate_from_record(content: Mapping[str, Any]) -> InteractionEstimate:
    """The estimate an evaluation artifact's content holds, as the estimator that wrote it records it
    (:meth:`~harsanyi_lightning.interactions.estimates.InteractionEstimate.record`). A record without an
    ``estimator`` entry was written before the entry existed, when every artifact was exact, and reads as exact."""
    found = ESTIMATORS.get(content.get("estimator", ExactEstimator.name))
    if found is None:
        raise AnnotationError(f"an interactions artifact records estimator {content.get('estimator')!r}, not one of "
                              f"{sorted(ESTIMATORS)}; it was not written by this version: rerun what wrote it")
    return found.result.from_record(content)


__all__ = [
    "AUDIT_SAMPLES",
    "ESTIMATORS",
    "SPARSE_SEED",
    "Estimator",
    "ExactEstimator",
    "SparseEstimator",
    "build_estimator",
    "estimate_from_record",
    "estimator_class",
]
