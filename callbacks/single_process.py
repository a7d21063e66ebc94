"""The trainer the shared evaluation functions see when no Lightning trainer runs the model.

The functions of :mod:`harsanyi_lightning.callbacks.evaluation` (values, extras, figures) take a
Lightning trainer for its ranks (``world_size``, ``global_rank``, ``strategy``) and its figure-drawing
loggers. :class:`SingleProcess` answers those questions for a model evaluated whole in one process
(the Hugging Face Trainer's callback, docs/callback.md#hugging-face-trainer): one rank, collectives
that return their input, and the TensorBoard writers it was given as the loggers' experiments. So the
Trainer's callback runs the very functions the Lightning callback runs.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch


class WriterLogger:
    """A logger whose ``experiment`` is a TensorBoard ``SummaryWriter`` (for figures and layouts)."""

    def __init__(self, writer: Any) -> None:
        self.experiment = writer


class SingleProcess:
    """One rank holding every sample: ``world_size`` 1, collectives that return their input;
    ``is_global_zero`` says whether this process is the one that shows progress (process zero of a
    multi-process run); ``writers`` are the TensorBoard ``SummaryWriter`` s that get figures."""

    world_size = 1
    global_rank = 0

    def __init__(self, is_global_zero: bool = True, writers: Sequence[Any] = ()) -> None:
        self.is_global_zero = is_global_zero
        self.loggers = [WriterLogger(writer) for writer in writers]

    @property
    def strategy(self) -> SingleProcess:
        """The collectives of one rank (this object)."""
        return self

    def all_gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` with a leading rank dimension of size 1."""
        return tensor.unsqueeze(0)

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        return obj

    def reduce_boolean_decision(self, decision: bool, all: bool = True) -> bool:  # noqa: A002 - Lightning's name
        return decision


__all__ = ["SingleProcess", "WriterLogger"]
