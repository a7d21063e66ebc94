"""Regime checkpoints written like every other artifact of a study: atomically, in their own folder.

Lightning's default ``TorchCheckpointIO`` writes through an fsspec transaction whose temporary file
lives in the system temporary folder (``/tmp``), then moves it: on a cluster node whose ``/tmp`` is
small the checkpoint fails there, and the move across file systems is a copy, not an atomic rename.
:class:`AtomicCheckpointIO` serialises the checkpoint in memory and writes it with
:func:`harsanyi_lightning.interactions.artifacts.atomic_write_bytes` (temporary name in the checkpoint's folder, fsync,
rename): a full disk or an I/O error raises :class:`~harsanyi_lightning.interactions.errors.StorageError` naming
``last.ckpt`` and the errno, and the previous ``last.ckpt`` stays intact, so the regime resumes from it.
"""
from __future__ import annotations

import io
import os
from typing import Any, Optional

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from harsanyi_lightning.interactions.artifacts import atomic_write_bytes

__all__ = ["AtomicCheckpointIO", "use_atomic_checkpoints"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose local saves go through :func:`atomic_write_bytes` (remote URLs: Lightning's)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike,
                        storage_options: Optional[Any] = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options=storage_options)
        buf = io.BytesIO()
        torch.save(checkpoint, buf)
        atomic_write_bytes(path, buf.getvalue())


def use_atomic_checkpoints(trainer: Any) -> None:
    """Give ``trainer`` an :class:`AtomicCheckpointIO` unless it was configured with a checkpoint IO of its own."""
    strategy = trainer.strategy
    if type(strategy.checkpoint_io) is TorchCheckpointIO:
        strategy.checkpoint_io = AtomicCheckpointIO()
