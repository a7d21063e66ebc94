"""A Lightning ``Trainer`` as the recorder's training loop, and where its hooks are in training
(docs/callback.md#any-training-loop).

:class:`LightningLoop` answers the recorder's questions (:class:`~.training_loop.TrainingLoop`) from the trainer:
its ranks and collectives are the strategy's, its default folder ``<trainer.log_dir>/interactions``, its pool the
datamodule's ``annotation_pool(split)``, its loggers ``trainer.loggers`` (recognised by what they can do:
:mod:`~.figure_logging`). The ``*_position`` functions map the trainer's counters at each hook to a
:class:`~.evaluation_schedule.TrainingPosition`, and :func:`epoch_end_log_step` / :func:`batch_log_step` give the
step Lightning's own logging uses there, so the scalars sit beside the loss. Both Lightning packages work alike.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional

import torch

from harsanyi_lightning.interactions.sharding import Shards

from .evaluation_schedule import TrainingPosition, epoch_fraction
from .figure_logging import FigureWriter, figure_writers
from .lightning_compat import batches_done, layout_writers, logging_step
from .training_loop import default_folder

if TYPE_CHECKING:
    import pytorch_lightning as pl

    from harsanyi_lightning.interactions.sample_set import AnnotatedSampleSet, ImagePool, TextPool


class LightningLoop:
    """The recorder's view of a Lightning ``trainer`` (this module's docstring)."""

    show_progress = True

    def __init__(self, trainer: pl.Trainer) -> None:
        self.trainer = trainer

    @property
    def world_size(self) -> int:
        return int(self.trainer.world_size)

    @property
    def global_rank(self) -> int:
        return int(self.trainer.global_rank)

    @property
    def is_global_zero(self) -> bool:
        return bool(self.trainer.is_global_zero)

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        return self.trainer.strategy.broadcast(obj, src=src)

    def shards(self, device: torch.device) -> Shards:
        strategy = self.trainer.strategy
        return Shards(self.world_size, self.global_rank, strategy.all_gather,
                      lambda flag: strategy.reduce_boolean_decision(flag, all=False), device)

    def default_output_dir(self) -> str:
        return default_folder(self.trainer.log_dir or self.trainer.default_root_dir)  # log_dir: every rank asks

    def annotation_pool(self, split: str) -> Optional[TextPool | ImagePool]:
        pool = getattr(getattr(self.trainer, "datamodule", None), "annotation_pool", None)
        return pool(split) if pool is not None else None

    def dataset_name(self, samples: AnnotatedSampleSet) -> str:
        datamodule = getattr(self.trainer, "datamodule", None)
        return type(datamodule).__name__ if datamodule is not None else str(samples.meta.get("pool", samples.kind))

    def log_scalars(self, scalars: dict[str, float], step: int) -> None:
        for logger in self.trainer.loggers:
            logger.log_metrics(scalars, step=step)

    def figure_writers(self) -> list[FigureWriter]:
        return figure_writers(self.trainer)

    def write_layout(self, layout: dict[str, dict[str, list]]) -> None:
        for writer in layout_writers(self.trainer):
            writer.add_custom_scalars(layout)


def _max_epochs(trainer: pl.Trainer) -> Optional[int]:
    return trainer.max_epochs if trainer.max_epochs is not None and trainer.max_epochs >= 0 else None


def start_position(trainer: pl.Trainer) -> TrainingPosition:
    """At ``on_train_start``: step 0 of a fresh fit, or where a resumed one resumes (inside an epoch or at its end)."""
    epoch, done, total = trainer.current_epoch, batches_done(trainer), trainer.num_training_batches
    inside = 0 < done < total
    fraction = epoch_fraction(epoch, done, total) if inside else float(epoch)
    return TrainingPosition(trainer.global_step, fraction, epoch, _max_epochs(trainer))


def batch_position(trainer: pl.Trainer, batch_idx: int) -> TrainingPosition:
    """At ``on_train_batch_end``: the batch just done ends its epoch when it is the epoch's last (then the epoch
    counts as completed); training stops after it at ``max_steps``."""
    epoch, total, done = trainer.current_epoch, trainer.num_training_batches, batch_idx + 1
    progress = trainer.fit_loop.epoch_loop.batch_progress
    last = done >= total or bool(getattr(progress, "is_last_batch", False))
    stops = trainer.max_steps is not None and 0 <= trainer.max_steps <= trainer.global_step
    fraction = float(epoch + 1) if last else epoch_fraction(epoch, done, total)
    return TrainingPosition(trainer.global_step, fraction, epoch + int(last), _max_epochs(trainer), stops)


def epoch_end_position(trainer: pl.Trainer) -> TrainingPosition:
    """At ``on_train_epoch_end``: the end of the epoch, or, when ``max_steps`` stopped it early, the fraction it
    reached (an epoch of unknown length counts as ended)."""
    epoch, done, total = trainer.current_epoch, batches_done(trainer), trainer.num_training_batches
    fraction = epoch_fraction(epoch, done, total) if math.isfinite(total) and done < total else float(epoch + 1)
    return TrainingPosition(trainer.global_step, fraction, epoch + int(fraction == epoch + 1), _max_epochs(trainer))


def end_position(trainer: pl.Trainer) -> TrainingPosition:
    """At the end of training: the epochs trained; Lightning counts an epoch that ``max_steps`` stopped early as
    done, so such an epoch is the fraction it reached."""
    epoch, done, total = trainer.current_epoch, batches_done(trainer), trainer.num_training_batches
    if 0 < done < total and epoch > 0:
        return TrainingPosition(trainer.global_step, epoch_fraction(epoch - 1, done, total), epoch - 1)
    return TrainingPosition(trainer.global_step, float(epoch), epoch)


def epoch_end_log_step(trainer: pl.Trainer, position: TrainingPosition) -> int:
    """The step Lightning logs the epoch-end metrics of the epoch just finished at (its count of batches that
    stepped, minus one); 0 before training."""
    return 0 if position.global_step == 0 else max(logging_step(trainer) - 1, 0)


def batch_log_step(trainer: pl.Trainer) -> int:
    """Inside an epoch, the step the loss of the model after this batch is logged at (the next batch's)."""
    return logging_step(trainer) + 1


__all__ = ["LightningLoop", "batch_log_step", "batch_position", "end_position", "epoch_end_log_step",
           "epoch_end_position", "start_position"]
