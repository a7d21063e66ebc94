"""One evaluation of a Lightning module on the annotated sample set, sharded over the trainer's ranks.

``values[sample, mask]`` of all ``2**n`` masks in strict fp32 (docs/method.md#precision-and-budget),
dividends by the fast Möbius transform (eq. 2), the extras of docs/method.md#beyond-the-paper, the
logged metrics (docs/method.md#knowledge-metrics) and figures. Under DDP each rank evaluates a
contiguous share of the samples (:mod:`harsanyi_lightning.callbacks.sharding`) and the shares are
gathered, so every rank holds the same results (docs/callback.md).
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Callable

import torch

from harsanyi_lightning.interactions.and_or import AndOrInteractions, and_or_interactions, and_or_strength_by_order
from harsanyi_lightning.interactions.attributions import banzhaf_values, shapley_interaction_index, shapley_values
from harsanyi_lightning.interactions.errors import NumericsError
from harsanyi_lightning.interactions.metrics import strength_by_order
from harsanyi_lightning.interactions.transform import harsanyi_dividends
from harsanyi_lightning.interactions.values import audit_precision, check_finite, compute_values

from . import figures
from .knowledge_logging import interaction_metrics, knowledge_metrics, ratio_metrics
from .figure_logging import figure_writers
from .lightning_compat import logging_step
from .model_forward import resolve_forward
from .sharding import gather_values, shard_indices

if TYPE_CHECKING:
    import pytorch_lightning as pl

    from harsanyi_lightning.interactions.sample_set import AnnotatedSampleSet

    from .options import EvaluationOptions, ExtrasOptions

#: the entries of an AND-OR result gathered sample by sample over the ranks
AND_OR_TENSORS = ("and_dividends", "or_dividends", "gamma", "noise", "objective", "gap")


def model_name(pl_module: pl.LightningModule) -> str:
    """The architecture recorded in artifacts: ``pl_module.backbone`` when it is a string, else the class name."""
    backbone = getattr(pl_module, "backbone", None)
    return backbone if isinstance(backbone, str) else type(pl_module).__name__


def dataset_name(trainer: pl.Trainer, sample_set: AnnotatedSampleSet) -> str:
    """The data set recorded in artifacts: the datamodule's class name, else the sample set's pool name."""
    dm = getattr(trainer, "datamodule", None)
    if dm is not None:
        return type(dm).__name__
    return str(sample_set.meta.get("pool", sample_set.kind))


def evaluation_step(trainer: pl.Trainer, epoch: int) -> int:
    """The logging step of the evaluation after ``epoch`` training epochs: 0 for epoch 0, else the step at
    which Lightning logs the epoch-end metrics of the epoch just finished (its batch counter minus one,
    the same counter ``self.log`` and ``LearningRateMonitor`` use)."""
    return 0 if epoch == 0 else max(logging_step(trainer) - 1, 0)


def evaluation_model(pl_module: pl.LightningModule) -> torch.nn.Module:
    """The module itself, or a float32 copy when its weights are not float32 (``*-true`` precisions)."""
    dtypes = {p.dtype for p in pl_module.parameters() if p.is_floating_point()}
    if dtypes <= {torch.float32}:
        return pl_module
    return copy.deepcopy(pl_module).float()


def sharded_values(trainer: pl.Trainer, pl_module: pl.LightningModule, samples: AnnotatedSampleSet,
                   options: EvaluationOptions, max_variables: int,
                   forward: Callable | None = None) -> tuple[torch.Tensor, dict | None]:
    """``values[sample, mask]`` (float64, CPU) of all samples, each rank computing its share, gathered over
    the ranks; and the precision audit (``None`` in strict fp32). With ``on_nonfinite="raise"`` a NaN/inf
    value raises :class:`NumericsError` on every rank together (they hold the same values). ``forward``: the
    function :func:`~harsanyi_lightning.callbacks.model_forward.resolve_forward` made of ``options.forward``
    (resolved here when not given)."""
    world, rank = trainer.world_size, trainer.global_rank
    forward = forward if forward is not None else resolve_forward(pl_module, options.forward)
    model = evaluation_model(pl_module)
    local = samples if world == 1 else samples.subset(shard_indices(len(samples), world, rank))
    kwargs = dict(forward=forward, batch_size=options.batch_size,
                  device=pl_module.device, max_variables=max_variables)
    values = compute_values(
        model, local, precision=options.precision, progress=options.progress and trainer.is_global_zero,
        on_nonfinite="keep", **kwargs,
    )
    values = gather_values(values, len(samples), world, trainer.strategy.all_gather).cpu()
    if options.on_nonfinite == "raise":
        check_finite(values, samples)
    audit = None
    if options.precision != "fp32":
        audit = audit_precision(model, samples, harsanyi_dividends(values), options.precision, 2, **kwargs)
    return values, audit


def extras_of(trainer: pl.Trainer, pl_module: pl.LightningModule, values: torch.Tensor, dividends: torch.Tensor,
              options: ExtrasOptions) -> tuple[dict[str, Any], AndOrInteractions | None]:
    """The artifact entries beyond the values (docs/method.md#beyond-the-paper), the same on every rank, and the
    AND-OR result: ``shapley``/``banzhaf``/``sii`` with ``attributions``, ``and_or``
    (:meth:`AndOrInteractions.as_dict`) with ``and_or``. Nothing when both are off."""
    extras: dict[str, Any] = {}
    if options.attributions:
        extras["shapley"] = shapley_values(dividends)
        extras["banzhaf"] = banzhaf_values(dividends)
        extras["sii"] = shapley_interaction_index(dividends)
    result = None
    if options.and_or:
        result = sharded_and_or(trainer, pl_module, values, options)
        extras["and_or"] = result.as_dict()
    return extras, result


def solve_and_or(values: torch.Tensor, device: torch.device, options: ExtrasOptions) -> AndOrInteractions:
    """AND-OR interactions of ``values`` (the gradient solver on ``device``, the LP on the CPU), on the CPU."""
    if options.and_or_solver == "gradient":
        values = values.to(device)
    result = and_or_interactions(values, noise_bound=options.and_or_noise_bound, solver=options.and_or_solver)
    return AndOrInteractions(**{k: v.cpu() if isinstance(v, torch.Tensor) else v
                                for k, v in result.as_dict().items()})


def sharded_and_or(trainer: pl.Trainer, pl_module: pl.LightningModule, values: torch.Tensor,
                   options: ExtrasOptions) -> AndOrInteractions:
    """AND-OR interactions of every sample: each rank solves its contiguous share and the shares are gathered,
    so every rank holds the same result. A failure on any rank fails every rank (agreed through
    ``strategy.reduce_boolean_decision``, so no rank is left waiting in a collective)."""
    world, rank = trainer.world_size, trainer.global_rank
    device = pl_module.device
    if world == 1:
        return solve_and_or(values, device, options)
    local = values[shard_indices(len(values), world, rank)]
    result, error = None, None
    try:
        result = solve_and_or(local, device, options)
    except Exception as err:  # noqa: BLE001 - re-raised below, after every rank knows
        error = err
    if trainer.strategy.reduce_boolean_decision(error is not None, all=False):
        if error is not None:
            raise error
        raise NumericsError("AND-OR interactions failed on another rank; see that rank's error")
    parts = result.as_dict()
    gathered = {key: gather_values(parts[key].to(device), len(values), world, trainer.strategy.all_gather).cpu()
                for key in AND_OR_TENSORS}
    iterations = trainer.strategy.all_gather(torch.tensor([result.iterations], device=device))
    return AndOrInteractions(**gathered, solver=result.solver, noise_bound=result.noise_bound,
                             iterations=int(iterations.max()))


def evaluation_metrics(dividends: torch.Tensor, audit: dict | None,
                       refs: dict[str, torch.Tensor]) -> tuple[dict[str, float], dict | None]:
    """The scalars of one evaluation (``interactions/*``, with references ``knowledge/*``) and the knowledge
    by order for the figure (``None`` without a pretrain reference)."""
    metrics = interaction_metrics(dividends)
    if audit is not None:
        metrics["interactions/audit_rel_l1"] = audit["max_rel_l1"]
    by_order = None
    if "pretrain" in refs:
        knowledge, by_order = knowledge_metrics(refs["pretrain"], dividends)
        metrics.update(knowledge)
        if "finetune" in refs:
            metrics.update(ratio_metrics(refs["pretrain"], refs["finetune"], dividends))
    return metrics, by_order


def log_scalars(trainer: pl.Trainer, metrics: dict[str, float], step: int) -> None:
    """Every logger gets the scalars through ``log_metrics`` (TensorBoard, CSV, MLflow, W&B, ...)."""
    for logger in trainer.loggers:
        logger.log_metrics(metrics, step=step)


def log_figures(trainer: pl.Trainer, dividends: torch.Tensor, by_order: dict | None, epoch: int, step: int,
                and_or: AndOrInteractions | None = None, *, name: str | None = None, label: str | None = None) -> None:
    """The evaluation's figures, to the loggers that take figures (TensorBoard, MLflow, W&B:
    :mod:`~harsanyi_lightning.callbacks.figure_logging`; matplotlib is imported only then). ``label``: the
    titles' name of the evaluation (default ``epoch <epoch>``); ``name``: the artifact's name for figure files
    (default ``epoch_XXX``), e.g. ``step_0000025`` inside an epoch."""
    writers = figure_writers(trainer)
    if not writers:
        return
    when = label if label is not None else epoch
    made = [("interactions/strength_by_order", figures.strength_figure(strength_by_order(dividends), when))]
    if by_order is not None:
        made.append(("knowledge/by_order", figures.knowledge_figure(by_order, when)))
    if and_or is not None:
        made.append(("interactions/and_or_by_order", figures.and_or_figure(and_or_strength_by_order(and_or), when)))
    for tag, fig in made:
        for writer in writers:
            writer(tag, fig, step, name if name is not None else epoch)
        figures.close(fig)


__all__ = [
    "AND_OR_TENSORS",
    "dataset_name",
    "evaluation_metrics",
    "evaluation_model",
    "evaluation_step",
    "extras_of",
    "log_figures",
    "log_scalars",
    "model_name",
    "sharded_and_or",
    "sharded_values",
    "solve_and_or",
]
