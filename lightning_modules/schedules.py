"""Learning-rate schedules the regime modules can be given by class path (``model.init_args.lr_scheduler``).

Any ``torch.optim.lr_scheduler`` class works there (LightningCLI's ``LRSchedulerCallable``);
this module adds the one the text recipe needs and torch lacks as a single class: linear
warm-up followed by linear decay over the run's optimiser steps, the usual schedule for
fine-tuning BERT-style models (the paper states no schedule;
docs/training.md#optimiser-and-learning-rate-schedule).
"""
from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from harsanyi_lightning.interactions.errors import ConfigError

__all__ = ["LinearWarmupDecay"]


class LinearWarmupDecay(LRScheduler):
    """Linear warm-up from 0 to the optimiser's learning rate, then linear decay to
    ``final_factor`` times it at the last optimiser step.

    ``factor(step) = step / W`` for ``step < W``, then
    ``1 - (1 - final_factor) * (step - W) / (T - W)`` (clamped at ``final_factor``),
    with ``W`` the warm-up steps and ``T`` the total steps. Stepped once per optimiser step
    (``interval = "step"``). Its ``state_dict`` holds ``W``, ``T`` and the step count, so a run
    resumed from a checkpoint continues the same curve.

    Args:
        optimizer: the optimiser whose parameter groups are scheduled.
        warmup: warm-up length: optimiser steps when ``>= 1``, a fraction of the total steps when
            ``< 1`` (``0``: no warm-up, decay from the first step).
        total_steps: optimiser steps of the whole run; ``None`` lets
            :meth:`~harsanyi_lightning.lightning_modules.HarsanyiClassifier.configure_optimizers` fill in the trainer's
            ``estimated_stepping_batches`` (``max_epochs`` x batches per epoch, or ``max_steps``).
        final_factor: the learning rate at the end as a fraction of the peak (``1.0``: warm-up, then constant).
    """

    #: Lightning steps this scheduler after every optimiser step, not every epoch
    interval = "step"

    def __init__(self, optimizer: Optimizer, warmup: float = 0.1, total_steps: int | None = None,
                 final_factor: float = 0.0, last_epoch: int = -1):
        if not warmup >= 0:
            raise ConfigError(f"lr_scheduler warmup={warmup!r} must be >= 0 (steps when >= 1, a fraction of the run when < 1)")
        if warmup >= 1 and float(warmup) != int(warmup):
            raise ConfigError(f"lr_scheduler warmup={warmup!r}: a number of steps (>= 1) must be a whole number")
        if total_steps is not None and (not isinstance(total_steps, int) or total_steps < 1):
            raise ConfigError(f"lr_scheduler total_steps={total_steps!r} must be a positive integer or null (from the trainer)")
        if not 0.0 <= final_factor <= 1.0:
            raise ConfigError(f"lr_scheduler final_factor={final_factor!r} must be between 0 and 1")
        self.warmup = warmup
        self.total_steps = total_steps
        self.final_factor = float(final_factor)
        super().__init__(optimizer, last_epoch)

    def set_total_steps(self, total_steps: int) -> None:
        """Fix ``T`` when it was left to the trainer (a value from the configuration or a checkpoint wins)."""
        if self.total_steps is None:
            if not isinstance(total_steps, int) or total_steps < 1:
                raise ConfigError(
                    f"the run has {total_steps!r} optimiser steps; LinearWarmupDecay needs a finite number: set "
                    "trainer.max_epochs or trainer.max_steps, or lr_scheduler total_steps"
                )
            self.total_steps = total_steps

    @property
    def warmup_steps(self) -> int:
        """``W``: ``warmup`` itself when ``>= 1``, else ``round(warmup * T)``."""
        if self.warmup >= 1:
            return int(self.warmup)
        if self.warmup == 0:
            return 0
        if self.total_steps is None:
            raise ConfigError("LinearWarmupDecay with a fractional warmup needs total_steps (or a trainer to fill it in)")
        return max(1, round(self.warmup * self.total_steps))

    def factor(self, step: int) -> float:
        """The learning-rate multiplier after ``step`` optimiser steps."""
        if step == 0 and self.total_steps is None:  # built before the trainer fills in T: the value at step 0
            return 0.0 if self.warmup > 0 else 1.0
        w = self.warmup_steps
        if step < w:
            return step / w
        if self.total_steps is None:
            raise ConfigError("LinearWarmupDecay needs total_steps before its first decay step; set total_steps")
        span = max(1, self.total_steps - w)
        return max(self.final_factor, 1.0 - (1.0 - self.final_factor) * (step - w) / span)

    def get_lr(self) -> list[float]:
        f = self.factor(self.last_epoch)
        return [base * f for base in self.base_lrs]
