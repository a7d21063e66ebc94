"""Test-only fault injection: a Lightning callback that SIGKILLs one DataLoader worker process of the
fit's training loader after training batch ``batch`` of epoch ``epoch``, as the out-of-memory killer
would. ``KillWorker.killed`` records the pid."""
from __future__ import annotations

import os
import signal

from pytorch_lightning import Callback


class KillWorker(Callback):
    killed: int | None = None

    def __init__(self, epoch: int = 0, batch: int = 0):
        self.epoch, self.batch = epoch, batch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch and type(self).killed is None:
            iterator = getattr(trainer.train_dataloader, "_iterator", None)  # persistent workers keep it
            workers = [w for w in getattr(iterator, "_workers", []) if w.is_alive()]
            assert workers, "no DataLoader worker process to kill (num_workers=0?)"
            type(self).killed = workers[0].pid
            os.kill(workers[0].pid, signal.SIGKILL)
