"""Test-only: a callback that counts training steps (in ``StepCounter.steps``) and setups."""
from __future__ import annotations

from pytorch_lightning import Callback


class StepCounter(Callback):
    steps = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        type(self).steps += 1
