"""When the interaction recorder evaluates, and where in training each evaluation is
(docs/callback.md#evaluations-inside-an-epoch).

An evaluation is at a **global step** (optimizer steps done): at step 0 before training, after every
``every_n_epochs`` epochs and after the last one (**epoch-end** evaluations, ``epoch_XXX.pt``), and, with
``every_n_steps`` or ``at_steps``, at those global steps inside an epoch (``step_XXXXXXX.pt``). There is at most one
evaluation per global step: a scheduled step on an epoch's last batch is left to that epoch's evaluation when the
epoch end is scheduled too. A training loop tells the recorder where it is with a :class:`TrainingPosition`; the
functions below say which :class:`EvaluationPoint`, if any, is due there. They read nothing of any training
framework: each adapter maps its framework's counters to a position (docs/callback.md#any-training-loop).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .artifact_layout import epoch_path, step_path

if TYPE_CHECKING:
    from .options import EvaluationOptions


@dataclass(frozen=True)
class TrainingPosition:
    """Where training is when a hook fires.

    ``global_step``: optimizer steps done; ``epoch_fraction``: epochs trained as the training loop counts them,
    fractional inside an epoch (``1.25`` a quarter into the second epoch; NaN when the epoch has no known length);
    ``epoch``: epochs completed (default: the whole part of ``epoch_fraction``); ``max_epochs``: the epochs training
    runs for, when known (the last one's end is always evaluated); ``stops``: training stops after this step
    (``max_steps``, a stop request), so its evaluation is the end of training's."""

    global_step: int
    epoch_fraction: float
    epoch: Optional[int] = None
    max_epochs: Optional[int] = None
    stops: bool = False

    def __post_init__(self) -> None:
        if self.epoch is None:
            whole = math.floor(self.epoch_fraction) if math.isfinite(self.epoch_fraction) else 0
            object.__setattr__(self, "epoch", int(whole))

    @property
    def at_epoch_end(self) -> bool:
        """Whether the position is an epoch boundary: the epochs trained are a whole number."""
        return self.epoch_fraction == self.epoch


@dataclass(frozen=True)
class EvaluationPoint:
    """Where in training one evaluation is.

    ``global_step``: optimizer steps done; ``epoch``: for an epoch-end evaluation the epoch just ended (0 before
    training), inside an epoch the epochs completed; ``epoch_fraction``: epochs trained, fractional inside an epoch;
    ``epoch_end``: stored as ``epoch_XXX.pt`` (else ``step_XXXXXXX.pt``)."""

    global_step: int
    epoch: int
    epoch_fraction: float
    epoch_end: bool

    @classmethod
    def at(cls, position: TrainingPosition) -> EvaluationPoint:
        """The evaluation at ``position``: epoch-end at an epoch boundary, else inside the epoch."""
        return cls(position.global_step, int(position.epoch), float(position.epoch_fraction), position.at_epoch_end)

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
        """The value of ``interactions/epoch``: the epochs trained (the epoch at an epoch end)."""
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


def epoch_scheduled(options: EvaluationOptions, epoch: int, max_epochs: Optional[int]) -> bool:
    """Whether the end of ``epoch`` (epochs completed) is evaluated: epoch 0, every ``every_n_epochs``-th, the last."""
    return epoch == 0 or epoch % options.every_n_epochs == 0 or (max_epochs is not None and epoch == max_epochs)


def start_point(options: EvaluationOptions, position: TrainingPosition) -> Optional[EvaluationPoint]:
    """When training starts: step 0 on a fresh run; on a resumed one the point it resumes at when that is
    scheduled (inside an epoch: a scheduled global step; at an epoch boundary: a scheduled epoch end), so an
    evaluation the checkpoint was saved before is not missed."""
    if position.at_epoch_end:
        return EvaluationPoint.at(position) if epoch_scheduled(options, position.epoch, None) else None
    return EvaluationPoint.at(position) if step_scheduled(options, position.global_step) else None


def step_point(options: EvaluationOptions, position: TrainingPosition) -> Optional[EvaluationPoint]:
    """After an optimizer step: the evaluation at a scheduled global step, or ``None``. A step on an epoch's last
    batch is left to the epoch's evaluation when that one is scheduled, and the step training stops at to the end
    of training's (one evaluation per global step); on an unscheduled epoch end it is a step file."""
    if position.stops or not step_scheduled(options, position.global_step):
        return None
    if position.at_epoch_end and epoch_scheduled(options, position.epoch, position.max_epochs):
        return None
    # stored as a step file even on an unscheduled epoch end: the step schedule asked for it
    return EvaluationPoint(position.global_step, int(position.epoch), float(position.epoch_fraction), False)


def epoch_point(options: EvaluationOptions, position: TrainingPosition) -> Optional[EvaluationPoint]:
    """At an epoch's end: its evaluation when scheduled. An epoch that ended early (``max_steps`` inside it) is not
    an epoch end: the end of training evaluates it, at the fraction it reached."""
    if position.at_epoch_end and epoch_scheduled(options, position.epoch, position.max_epochs):
        return EvaluationPoint.at(position)
    return None


__all__ = ["EvaluationPoint", "TrainingPosition", "epoch_fraction", "epoch_point", "epoch_scheduled",
           "start_point", "step_point", "step_scheduled"]
