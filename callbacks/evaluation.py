"""The pieces of one evaluation beyond the estimator: the model evaluated, the AND-OR interactions, the artifact's
content and the figures (docs/callback.md, docs/method.md#beyond-the-paper).

The recorder (:mod:`~harsanyi_lightning.callbacks.recorder`) runs them in order; under several ranks each rank
solves its share of the AND-OR problems (:class:`~harsanyi_lightning.interactions.sharding.Shards`) and every rank
holds the gathered result.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Optional

import torch

from harsanyi_lightning.interactions.and_or import AndOrInteractions, and_or_interactions, and_or_strength_by_order
from harsanyi_lightning.interactions.estimates import strength_of

from . import figures

if TYPE_CHECKING:
    from torch import nn

    from harsanyi_lightning.interactions.estimates import InteractionEstimate
    from harsanyi_lightning.interactions.sharding import Shards

    from .evaluation_schedule import EvaluationPoint
    from .figure_logging import FigureWriter
    from .options import ExtrasOptions

#: the entries of an AND-OR result gathered sample by sample over the ranks
AND_OR_TENSORS = ("and_dividends", "or_dividends", "gamma", "noise", "objective", "gap")
#: the entries of an artifact that say which run and sample set an evaluation belongs to
RUN_FIELDS = ("annotation_hash", "regime", "n", "precision", "model", "dataset")


def model_name(model: nn.Module) -> str:
    """The architecture recorded in artifacts: ``model.backbone`` when it is a string, else the class name; a PEFT
    model is named by the model it adapts."""
    base = getattr(model, "base_model", None)
    inner = getattr(base, "model", None) if base is not None and base is not model else None
    if inner is not None and getattr(model, "peft_config", None) is not None:
        model = inner
    backbone = getattr(model, "backbone", None)
    return backbone if isinstance(backbone, str) else type(model).__name__


def evaluation_model(model: nn.Module) -> nn.Module:
    """The model itself, or a float32 copy when its weights are not float32 (``*-true`` precisions)."""
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    if dtypes <= {torch.float32}:
        return model
    return copy.deepcopy(model).float()


def solve_and_or(values: torch.Tensor, device: torch.device, options: ExtrasOptions) -> AndOrInteractions:
    """AND-OR interactions of ``values`` (the gradient solver on ``device``, the LP on the CPU), on the CPU."""
    if options.and_or_solver == "gradient":
        values = values.to(device)
    result = and_or_interactions(values, noise_bound=options.and_or_noise_bound, solver=options.and_or_solver)
    return AndOrInteractions(**{k: v.cpu() if isinstance(v, torch.Tensor) else v
                                for k, v in result.as_dict().items()})


def sharded_and_or(values: torch.Tensor, shards: Shards, device: torch.device,
                   options: ExtrasOptions) -> AndOrInteractions:
    """AND-OR interactions of every sample of ``values[sample, mask]``: each rank solves its share, the shares are
    gathered, so every rank holds the same result; a failure on any rank fails every rank."""
    if shards.world_size == 1:
        return solve_and_or(values, device, options)
    local = values[shards.local_indices(len(values))]
    result = shards.together(lambda: solve_and_or(local, device, options))
    parts = result.as_dict()
    gathered = {key: shards.gather(parts[key], len(values)) for key in AND_OR_TENSORS}
    iterations = shards.gather(torch.tensor([result.iterations]), shards.world_size)
    return AndOrInteractions(**gathered, solver=result.solver, noise_bound=result.noise_bound,
                             iterations=int(iterations.max()))


def evaluation_content(estimate: InteractionEstimate, point: EvaluationPoint, *, log_step: int, run: dict[str, Any],
                       attributions: bool, and_or: Optional[AndOrInteractions]) -> dict[str, Any]:
    """The content of ``epoch_XXX.pt`` / ``step_XXXXXXX.pt``: the estimate's record, where in training it is, the
    :data:`RUN_FIELDS` of ``run`` and, when asked, the attributions and the AND-OR interactions."""
    content = estimate.record()
    content.update(epoch=int(point.epoch), global_step=int(point.global_step),
                   epoch_fraction=float(point.epoch_fraction), log_step=int(log_step))
    content.update({key: run[key] for key in RUN_FIELDS})
    if attributions:
        content.update(estimate.attributions())
    if and_or is not None:
        content["and_or"] = and_or.as_dict()
    return content


def log_figures(writers: list[FigureWriter], estimate: InteractionEstimate, by_order: Optional[dict],
                and_or: Optional[AndOrInteractions], point: EvaluationPoint, step: int) -> None:
    """The evaluation's figures (strength by order, knowledge by order with a pretrain reference, AND-OR strength
    by order) to every figure writer (:mod:`~harsanyi_lightning.callbacks.figure_logging`; matplotlib is imported
    only then), titled by the evaluation's label and filed under its artifact's name."""
    if not writers:
        return
    made = [("interactions/strength_by_order", figures.strength_figure(strength_of(estimate), point.label))]
    if by_order is not None:
        made.append(("knowledge/by_order", figures.knowledge_figure(by_order, point.label)))
    if and_or is not None:
        made.append(("interactions/and_or_by_order", figures.and_or_figure(and_or_strength_by_order(and_or),
                                                                           point.label)))
    for tag, fig in made:
        for writer in writers:
            writer(tag, fig, step, point.name)
        figures.close(fig)


__all__ = [
    "AND_OR_TENSORS",
    "RUN_FIELDS",
    "evaluation_content",
    "evaluation_model",
    "log_figures",
    "model_name",
    "sharded_and_or",
    "solve_and_or",
]
