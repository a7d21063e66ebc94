"""When the interaction callbacks evaluate, and where in training each evaluation is
(docs/callback.md#evaluations-inside-an-epoch).

An evaluation is at a **global step** (optimizer steps done, ``trainer.global_step``): at step 0 before training,
after every ``every_n_epochs`` epochs and after the last one (**epoch-end** evaluations, ``epoch_XXX.pt``), and,
with ``every_n_steps`` or ``at_steps``, at those global steps inside an epoch (``step_XXXXXXX.pt``). There is at
most one evaluation per global step: a scheduled step on an epoch's last batch is left to that epoch's
evaluation when the epoch end is scheduled too. :class:`EvaluationPoint` says where one evaluation is; the
history of a run (:mod:`~harsanyi_lightning.callbacks.history`) is keyed by its global step.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .artifact_layout import epoch_path, step_path
from .lightning_compat import batches_done

if TYPE_CHECKING:
    import pytorch_lightning as pl

    from .options import EvaluationOptions


@dataclass(frozen=True)
class EvaluationPoint:
    """Where in training one evaluation is.

    ``global_step``: optimizer steps done; ``epoch``: for an epoch-end evaluation the epoch just ended (0 before
    training), inside an epoch the epochs completed; ``epoch_fraction``: epochs trained, fractional inside an
    epoch (completed epochs + batches done in the current epoch / batches per epoch; NaN when the epoch has no
    known length); ``epoch_end``: stored as ``epoch_XXX.pt`` (else ``step_XXXXXXX.pt``)."""

    global_step: int
    epoch: int
    epoch_fraction: float
    epoch_end: bool

    def path(self, folder: str | os.PathLike) -> Path:
        """The artifact's path in ``folder``: ``epoch_XXX.pt`` or ``step_XXXXXXX.pt``."""
        return epoch_path(folder, self.epoch) if self.epoch_end else step_path(folder, self.global_step)

    @property
    def name(self) -> str:
        """The artifact's name without ``.pt`` (``epoch_003``, ``step_0000025``): figure file names use it."""
        return self.path("").stem

    @property
    def label(self) -> str:
        """How figure titles name the evaluation: ``epoch 3``, or ``step 25 (epoch 0.39)`` inside an epoch."""
        if self.epoch_end:
            return f"epoch {self.epoch}"
        return f"step {self.global_step} (epoch {self.epoch_fraction:.2f})"

    @property
    def logged_epoch(self) -> float:
        """The value of ``interactions/epoch``: the epoch at an epoch end, the epoch fraction inside one."""
        return float(self.epoch) if self.epoch_end else float(self.epoch_fraction)

    def history_entry(self, path: str | os.PathLike, sha256: str) -> dict[str, Any]:
        """The history's entry of this evaluation: ``{"path", "sha256", "epoch", "epoch_fraction"}``."""
        return {"path": str(path), "sha256": sha256, "epoch": int(self.epoch),
                "epoch_fraction": float(self.epoch_fraction)}


def epoch_fraction(completed_epochs: int, batches_done: int, batches_per_epoch: float) -> float:
    """Epochs trained: ``completed_epochs + batches_done / batches_per_epoch`` (NaN without a finite length)."""
    if not math.isfinite(batches_per_epoch) or batches_per_epoch <= 0:
        return float("nan") if batches_done else float(completed_epochs)
    return completed_epochs + min(batches_done, batches_per_epoch) / batches_per_epoch


def step_scheduled(options: EvaluationOptions, step: int) -> bool:
    """Whether global step ``step`` (>= 1) is one of ``at_steps`` or a multiple of ``every_n_steps``."""
    if step < 1:
        return False
    every = options.every_n_steps
    return (every is not None and step % every == 0) or step in (options.at_steps or ())


def epoch_scheduled(options: EvaluationOptions, epoch: int, max_epochs: int | None) -> bool:
    """Whether the end of ``epoch`` (epochs completed) is evaluated: epoch 0, every ``every_n_epochs``-th, the last."""
    return epoch == 0 or epoch % options.every_n_epochs == 0 or (max_epochs is not None and epoch == max_epochs)


def start_point(trainer: pl.Trainer, options: EvaluationOptions) -> EvaluationPoint | None:
    """At ``on_train_start``: step 0 on a fresh fit; on a resumed one the point it resumes at when that is
    scheduled (a resume inside an epoch: a scheduled global step; at an epoch boundary: a scheduled epoch end),
    so an evaluation the checkpoint was saved before is not missed."""
    epoch, step, done, total = trainer.current_epoch, trainer.global_step, batches_done(trainer), trainer.num_training_batches
    if 0 < done < total:  # inside an epoch
        return EvaluationPoint(step, epoch, epoch_fraction(epoch, done, total), False) if step_scheduled(options, step) else None
    return EvaluationPoint(step, epoch, float(epoch), True) if epoch_scheduled(options, epoch, None) else None


def batch_end_point(trainer: pl.Trainer, options: EvaluationOptions, batch_idx: int) -> EvaluationPoint | None:
    """At ``on_train_batch_end``: the evaluation inside the epoch at a scheduled global step, or ``None``. On the
    epoch's last batch it is left to the epoch's evaluation when that one is scheduled, and at ``max_steps`` to
    the end of training's (one evaluation per global step)."""
    step = trainer.global_step
    if not step_scheduled(options, step):
        return None
    epoch, total, done = trainer.current_epoch, trainer.num_training_batches, batch_idx + 1
    progress = trainer.fit_loop.epoch_loop.batch_progress
    last_batch = done >= total or bool(getattr(progress, "is_last_batch", False))
    stops = trainer.max_steps is not None and 0 <= trainer.max_steps <= step
    if stops or (last_batch and epoch_scheduled(options, epoch + 1, trainer.max_epochs)):
        return None
    return EvaluationPoint(step, epoch + int(done >= total), epoch_fraction(epoch, done, total), False)


def epoch_end_point(trainer: pl.Trainer, options: EvaluationOptions) -> EvaluationPoint | None:
    """At ``on_train_epoch_end``: the evaluation of the epoch just ended when scheduled (its ``epoch_fraction`` is
    the integer, or the fraction reached when ``max_steps`` stopped the epoch early)."""
    epoch = trainer.current_epoch + 1
    if not epoch_scheduled(options, epoch, trainer.max_epochs):
        return None
    fraction = epoch_fraction(trainer.current_epoch, batches_done(trainer), trainer.num_training_batches)
    return EvaluationPoint(trainer.global_step, epoch, fraction, True)


def final_point(trainer: pl.Trainer) -> EvaluationPoint:
    """At the end of training, when its last global step was not evaluated (stopped early): an epoch-end
    evaluation named by ``trainer.current_epoch``."""
    epoch, done, total = trainer.current_epoch, batches_done(trainer), trainer.num_training_batches
    fraction = epoch_fraction(epoch - 1, done, total) if 0 < done < total and epoch > 0 else float(epoch)
    return EvaluationPoint(trainer.global_step, epoch, fraction, True)


__all__ = ["EvaluationPoint", "batch_end_point", "epoch_end_point", "epoch_fraction", "epoch_scheduled", "final_point",
           "start_point", "step_scheduled"]
