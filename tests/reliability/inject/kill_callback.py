"""Test-only fault injection: a Lightning callback that SIGKILLs its own process once.

Added to a tiny study's regimes through the study config (``shared.trainer.callbacks``), so the
code under test runs unchanged. It kills only when ``marker`` does not exist yet (it creates the
marker first), so rerunning the same command with the same config runs to the end.

``at="train"``: in ``on_train_batch_end`` of training epoch ``epoch`` (0-based), batch ``batch``.
``at="evaluation"``: during the interaction evaluation that follows training epoch ``epoch``: armed in
``on_validation_end`` (the ``ModelCheckpoint`` saving ``last.ckpt`` there runs after this callback),
it kills at the ``call``-th forward pass of the model after that, i.e. inside the
``InteractionCallback``'s evaluation in ``on_train_epoch_end``.
``rank``: under DDP, only that global rank kills itself (default: any). ``run``: only in the regime of that
run folder of a study with seeds (``"seed_1"``; default: any). ``how="raise"``: raise a
``RuntimeError`` instead (a crash), for runs inside the test process.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

from pytorch_lightning import Callback


def _die(marker: Path, why: str, how: str = "kill") -> None:
    marker.write_text(why)
    if how == "raise":  # a crash instead of a kill: for runs inside the test process
        raise RuntimeError(f"injected crash: {why}")
    os.kill(os.getpid(), signal.SIGKILL)


class KillOnce(Callback):
    def __init__(self, marker: str, regime: str = "", at: str = "train", epoch: int = 0, batch: int = 0,
                 call: int = 1, rank: int | None = None, how: str = "kill", run: str = ""):
        self.marker, self.regime, self.at, self.run = Path(marker), regime, at, run
        self.epoch, self.batch, self.call, self.rank, self.how = epoch, batch, call, rank, how
        self._calls = 0
        self._handle = None

    def _armed(self, trainer) -> bool:
        if self.marker.exists() or trainer.current_epoch != self.epoch:
            return False
        if self.rank is not None and trainer.global_rank != self.rank:
            return False
        if self.run and Path(trainer.default_root_dir).parent.name != self.run:
            return False
        return not self.regime or Path(trainer.default_root_dir).name == self.regime

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.at == "train" and batch_idx == self.batch and self._armed(trainer):
            _die(self.marker, f"killed in training epoch {self.epoch}, batch {batch_idx}", self.how)

    def on_validation_end(self, trainer, pl_module) -> None:
        if self.at != "evaluation" or trainer.sanity_checking or not self._armed(trainer):
            return

        def hook(module, args, kwargs):
            self._calls += 1
            if self._calls >= self.call:
                _die(self.marker, f"killed in the interaction evaluation after epoch {self.epoch}, call {self._calls}",
                     self.how)

        self._handle = pl_module.register_forward_pre_hook(hook, with_kwargs=True)
