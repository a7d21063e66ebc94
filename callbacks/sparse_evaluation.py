"""One evaluation with ``estimator: sparse``: estimated dividends from ``budget`` masks per sample
(docs/callback.md#sparse-estimates, docs/method.md#sparse-estimation).

The artifact holds no ``values`` / ``dividends[sample, mask]`` table (``2**n`` entries per sample is what the
estimator avoids): per sample ``sparse_masks[i]`` (int64 bit-masks of the recovered subsets, bit ``j`` = variable
``j``) and ``sparse_dividends[i]`` (float64), ``r2_heldout[i]``, with ``estimator: "sparse"`` and ``estimated:
True``. Every subset left out has dividend 0. The scalars are ``interactions/strength/order_k`` (as the exact
path's: mean ``|I|`` over all subsets of order k, absent ones counting 0), ``interactions/salient_count``,
``interactions/r2_heldout`` (mean over samples), ``interactions/r2_heldout_min`` and ``interactions/estimated``
(always 1: these are estimates; the exact path never logs it). The Jaccard curve (eq. 9)
is computed on the recovered sets, a subset absent from one of the two counting as 0. With references (the
probe's and finetune run's final dividends, sparse or exact) the ``knowledge/*`` scalars are the exact path's,
computed on the union of the recovered subsets of the reference(s) and this evaluation
(:func:`~harsanyi_lightning.interactions.slot_tables`): a subset absent from one counts 0 there, order averages
divide by ``C(n, k)``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch
from torch import Tensor

from harsanyi_lightning.interactions.errors import AnnotationError
from harsanyi_lightning.interactions.sparse import SparseInteractions, sparse_interactions
from harsanyi_lightning.interactions.metrics import TAU_RATIO, strength_by_order
from harsanyi_lightning.interactions.sparse_slots import slot_tables

from .evaluation import evaluation_model
from .history import load_interactions, write_curve_files
from .knowledge_logging import knowledge_metrics, ratio_metrics

if TYPE_CHECKING:
    import pytorch_lightning as pl
    from torch import nn

    from harsanyi_lightning.interactions.sample_set import AnnotatedSampleSet

    from .options import EvaluationOptions

#: the masks are drawn from this seed at every evaluation, so evaluations of one run share their masks
SPARSE_SEED = 0


def sparse_estimate(trainer: pl.Trainer, pl_module: pl.LightningModule, samples: AnnotatedSampleSet,
                    options: EvaluationOptions, forward: Callable | None) -> SparseInteractions:
    """:func:`estimate_on_device` of the Lightning module on its device, the progress bar on rank zero. Under DDP
    every rank estimates every sample (no sharding yet), so every rank holds the same result."""
    return estimate_on_device(evaluation_model(pl_module), samples, options, forward, device=pl_module.device,
                              progress=options.progress and trainer.is_global_zero)


def estimate_on_device(model: nn.Module, samples: AnnotatedSampleSet, options: EvaluationOptions,
                       forward: Callable | None, *, device: torch.device, progress: bool) -> SparseInteractions:
    """:func:`~harsanyi_lightning.interactions.sparse.sparse_interactions` of every sample on ``device`` with the
    options' ``budget``, ``max_order``, ``precision`` (strict fp32 unless it says otherwise; a NaN/inf output
    raises) and ``batch_size``, the masks drawn from :data:`SPARSE_SEED`."""
    return sparse_interactions(
        model, samples, budget=options.budget, max_order=options.max_order, seed=SPARSE_SEED,
        precision=options.precision, forward=forward, batch_size=options.batch_size, device=device, progress=progress,
    )


def _membership(masks: Tensor, n: int) -> Tensor:
    return ((masks.view(-1, 1) >> torch.arange(n, dtype=torch.long)) & 1).to(torch.float64)


def sparse_attributions(result: SparseInteractions) -> dict[str, Tensor]:
    """Shapley ``sum_{S∋i} I(S) / |S|``, Banzhaf ``sum_{S∋i} I(S) / 2**(|S|-1)`` and the pairwise Shapley
    interaction index ``sum_{S⊇{i,j}} I(S) / (|S|-1)`` of the recovered dividends (docs/method.md#beyond-the-paper):
    the exact formulas on the sparse set, ``[sample, i]`` and ``[sample, i, j]``."""
    shapley, banzhaf, sii = [], [], []
    for masks, dividends in zip(result.masks, result.dividends):
        bits = _membership(masks, result.n)
        order = bits.sum(dim=1)
        shapley.append((dividends / order.clamp_min(1)) @ bits)
        banzhaf.append((dividends * torch.exp2(1 - order)) @ bits)
        scale = torch.where(order >= 2, dividends / (order - 1).clamp_min(1), torch.zeros_like(dividends))
        pairs = torch.einsum("s,si,sj->ij", scale, bits, bits)
        pairs.diagonal().zero_()
        sii.append(pairs)
    return {"shapley": torch.stack(shapley), "banzhaf": torch.stack(banzhaf), "sii": torch.stack(sii)}


def sparse_record(result: SparseInteractions, *, epoch: int, global_step: int, log_step: int, run: dict[str, Any],
                  epoch_fraction: float, attributions: bool) -> dict[str, Any]:
    """The content of ``epoch_XXX.pt`` / ``step_XXXXXXX.pt`` of a sparse evaluation (module docstring)."""
    content = {
        "estimator": "sparse", "estimated": True, "sparse_masks": list(result.masks),
        "sparse_dividends": list(result.dividends), "r2_heldout": torch.tensor(result.r2_heldout, dtype=torch.float64),
        "budget": int(result.queries), "heldout_queries": int(result.heldout_queries),
        "max_order": int(result.max_order), "seed": int(result.seed), "epoch": int(epoch),
        "global_step": int(global_step), "epoch_fraction": float(epoch_fraction), "log_step": int(log_step),
        **{k: run[k] for k in ("annotation_hash", "regime", "precision", "model", "dataset")},
        "n": int(run["n"]), "skipped": [], "audit": None,
    }
    if attributions:
        content.update(sparse_attributions(result))
    return content


def sparse_knowledge_scalars(result: SparseInteractions, refs: dict[str, Any]) -> dict[str, float]:
    """``knowledge/*`` of a sparse evaluation against ``refs`` (``{role: (masks[i], dividends[i])}``, as
    :func:`~harsanyi_lightning.callbacks.history.load_references` gives them with ``estimator="sparse"``): the
    split of eqs. 6-7 against the pretrain reference and, with a finetune one too, the Ratio of eq. 8."""
    if "pretrain" not in refs:
        return {}
    roles = ["pretrain", "finetune"] if "finetune" in refs else ["pretrain"]
    slots = slot_tables([refs[r] for r in roles] + [(result.masks, result.dividends)], result.n)
    current = slots.tables[-1]
    out, _ = knowledge_metrics(slots.tables[0], current, slots.orders, slots.n)
    if "finetune" in refs:
        out.update(ratio_metrics(slots.tables[0], slots.tables[1], current))
    return out


def sparse_scalars(result: SparseInteractions, epoch: float, refs: dict[str, Any] | None = None) -> dict[str, float]:
    """The scalars of a sparse evaluation (module docstring), ``interactions/epoch`` included, and with ``refs``
    the ``knowledge/*`` ones (:func:`sparse_knowledge_scalars`)."""
    n = result.n
    slots = slot_tables([(result.masks, result.dividends)], n)
    strength = strength_by_order(slots.tables[0], slots.orders, n)
    salient = []
    for masks, dividends in zip(result.masks, result.dividends):
        nonempty = masks != 0
        top = float(dividends[nonempty].abs().max()) if bool(nonempty.any()) else 0.0
        salient.append(float((dividends[nonempty].abs() > TAU_RATIO * top).sum()) if top > 0 else 0.0)
    out = {f"interactions/strength/order_{k}": float(strength[k]) for k in range(1, n + 1)}
    r2 = torch.tensor(result.r2_heldout, dtype=torch.float64)
    out.update({"interactions/salient_count": sum(salient) / max(len(salient), 1),
                "interactions/r2_heldout": float(r2.mean()), "interactions/r2_heldout_min": float(r2.min()),
                "interactions/estimated": 1.0,
                "interactions/epoch": float(epoch)})
    out.update(sparse_knowledge_scalars(result, refs or {}))
    return out


def sparse_jaccard(masks_a: Tensor, dividends_a: Tensor, masks_b: Tensor, dividends_b: Tensor) -> float:
    """Jaccard similarity (eq. 9) of two sparse dividend vectors over the non-empty subsets, a subset absent from
    one counting as 0 there; two all-zero vectors count as identical (1)."""
    union = torch.unique(torch.cat([masks_a, masks_b]))
    union = union[union != 0]

    def split(masks: Tensor, dividends: Tensor) -> Tensor:
        dense = torch.zeros(len(union), dtype=torch.float64)
        keep = masks != 0
        dense[torch.searchsorted(union, masks[keep])] = dividends[keep]
        return torch.cat([dense.clamp_min(0), (-dense).clamp_min(0)])

    u, w = split(masks_a, dividends_a), split(masks_b, dividends_b)
    den = float(torch.maximum(u, w).sum())
    return 1.0 if den == 0 else float(torch.minimum(u, w).sum()) / den


def sparse_final_files(folder: Path, history: dict[int, dict[str, Any]]) -> tuple[list[int], list[float], dict[int, int]]:
    """Write ``jaccard.json`` and ``final.json`` of a sparse run (every evaluation's mean Jaccard to the final one
    on the recovered sets); return ``(global steps, jaccard, {global step: logging step})``."""
    contents = {}
    for step, entry in sorted(history.items()):
        content, digest = load_interactions(entry["path"])
        if digest != entry["sha256"]:
            raise AnnotationError(f"{entry['path']} (step {step}) changed while training; it is not this run's")
        contents[step] = content
    steps = sorted(contents)
    final = contents[steps[-1]]
    jaccard = []
    for step in steps:
        pairs = zip(contents[step]["sparse_masks"], contents[step]["sparse_dividends"], final["sparse_masks"],
                    final["sparse_dividends"])
        values = [sparse_jaccard(*p) for p in pairs]
        jaccard.append(sum(values) / len(values) if values else math.nan)
    write_curve_files(folder, history, steps, jaccard, steps[-1])
    return steps, jaccard, {s: int(c["log_step"]) for s, c in contents.items()}


__all__ = [
    "SPARSE_SEED",
    "estimate_on_device",
    "sparse_attributions",
    "sparse_estimate",
    "sparse_final_files",
    "sparse_jaccard",
    "sparse_knowledge_scalars",
    "sparse_record",
    "sparse_scalars",
]
