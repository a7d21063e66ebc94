"""What one evaluation records and logs, whichever trainer ran it (docs/callback.md).

From the values of one evaluation (``values[sample, mask]``, float64, CPU): the samples with a NaN/inf
value are recorded as skipped and their row set to NaN, the dividends follow (eq. 2), and
:func:`evaluation_record` builds the content of ``epoch_XXX.pt``; :func:`evaluation_scalars` builds the
scalars (``interactions/*``, with references ``knowledge/*``, with AND-OR ``interactions/and_or/*``).
:class:`~harsanyi_lightning.callbacks.InteractionCallback` (Lightning) and
:class:`~harsanyi_lightning.callbacks.hf_trainer.InteractionTrainerCallback` (Hugging Face Trainer) both
call these, so their artifacts and tags are the same.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from harsanyi_lightning.interactions.transform import harsanyi_dividends
from harsanyi_lightning.interactions.values import nonfinite_samples

from .evaluation import evaluation_metrics
from .knowledge_logging import and_or_metrics

if TYPE_CHECKING:
    from harsanyi_lightning.interactions.and_or import AndOrInteractions

#: the entries of ``epoch_XXX.pt`` that say which run and sample set an evaluation belongs to
RUN_FIELDS = ("annotation_hash", "regime", "n", "precision", "model", "dataset")


def evaluation_record(values: torch.Tensor, audit: dict | None, *, epoch: int, global_step: int, log_step: int,
                      run: dict[str, Any], epoch_fraction: float | None = None) -> tuple[dict[str, Any], torch.Tensor]:
    """The content of ``epoch_XXX.pt`` / ``step_XXXXXXX.pt`` (without the extras) and the dividends. ``values`` is
    changed in place: the rows of samples with a NaN/inf value become NaN (listed in ``skipped``). ``run`` holds
    the :data:`RUN_FIELDS`; ``epoch_fraction``: epochs trained, fractional inside an epoch (default ``epoch``;
    docs/callback.md#evaluations-inside-an-epoch)."""
    skipped = nonfinite_samples(values)
    values[skipped] = float("nan")
    dividends = harsanyi_dividends(values)
    content = {
        "values": values, "dividends": dividends, "epoch": int(epoch), "global_step": int(global_step),
        "epoch_fraction": float(epoch if epoch_fraction is None else epoch_fraction),
        "log_step": int(log_step), "annotation_hash": run["annotation_hash"], "regime": run["regime"],
        "n": int(run["n"]), "precision": run["precision"], "skipped": [int(s) for s in skipped],
        "model": run["model"], "dataset": run["dataset"], "audit": audit,
    }
    return content, dividends


def evaluation_scalars(dividends: torch.Tensor, audit: dict | None, refs: dict[str, torch.Tensor],
                       and_or: AndOrInteractions | None, epoch: float) -> tuple[dict[str, float], dict | None]:
    """The scalars of one evaluation, ``interactions/epoch`` included (``epoch``: the epoch at an epoch end, the
    epoch fraction inside one), and the knowledge by order for the figure (``None`` without a pretrain reference)."""
    metrics, by_order = evaluation_metrics(dividends, audit, refs)
    if and_or is not None:
        metrics.update(and_or_metrics(and_or))
    metrics["interactions/epoch"] = float(epoch)
    return metrics, by_order


__all__ = ["RUN_FIELDS", "evaluation_record", "evaluation_scalars"]
