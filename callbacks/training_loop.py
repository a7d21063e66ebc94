"""What the interaction recorder needs from the training loop that drives it (docs/callback.md#any-training-loop).

:class:`TrainingLoop` is the whole contract: the loop's processes (ranks, a broadcast, the collectives an
estimator shards the samples with), where its artifacts go by default, the sample pool it can offer, and how its
loggers take scalars, figures and a dashboard layout. The Lightning callback, the Hugging Face Trainer callback
and a plain PyTorch loop each give one; nothing else about a framework reaches the recorder.

:class:`PlainLoop` is the one a plain PyTorch (or Accelerate) loop uses: its processes are
``torch.distributed``'s when a process group is initialized (``torchrun``, ``accelerate launch``), else one; its
scalars go to the ``log(scalars, step=step)`` function it is given (``accelerator.log``, a W&B run's ``log``,
...), and its scalars, figures and dashboard to a TensorBoard ``SummaryWriter`` when one is given.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol

import torch

from harsanyi_lightning.interactions.sharding import Shards

from .figure_logging import FigureWriter, summary_writer_figures

if TYPE_CHECKING:
    from harsanyi_lightning.interactions.sample_set import AnnotatedSampleSet, ImagePool, TextPool


class TrainingLoop(Protocol):
    """The training loop as the recorder sees it (this module's docstring)."""

    @property
    def world_size(self) -> int: ...

    @property
    def global_rank(self) -> int: ...

    @property
    def is_global_zero(self) -> bool: ...

    @property
    def show_progress(self) -> bool:
        """Whether an evaluation may show a progress bar on rank zero (a loop whose own bars are off says no)."""

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        """Rank ``src``'s ``obj`` on every rank."""

    def shards(self, device: torch.device) -> Shards:
        """The loop's ranks as :class:`~harsanyi_lightning.interactions.sharding.Shards`, gathering on ``device``."""

    def default_output_dir(self) -> str:
        """Where the artifacts go when ``output_dir`` is not given."""

    def annotation_pool(self, split: str) -> Optional[TextPool | ImagePool]:
        """The pool a sample set is built from, or ``None`` when the loop offers none."""

    def dataset_name(self, samples: AnnotatedSampleSet) -> str:
        """The data set recorded in artifacts."""

    def log_scalars(self, scalars: dict[str, float], step: int) -> None:
        """Hand ``scalars`` to every logger of the loop at ``step`` (rank zero calls it)."""

    def figure_writers(self) -> list[FigureWriter]:
        """The loop's loggers that take figures (rank zero calls it)."""

    def write_layout(self, layout: dict[str, dict[str, list]]) -> None:
        """Give the custom-scalars dashboard ``layout`` to the loggers that take one (rank zero calls it)."""


class TorchDistributed:
    """The processes of ``torch.distributed``'s default group when it is initialized, else one process."""

    @staticmethod
    def _initialized() -> bool:
        return torch.distributed.is_available() and torch.distributed.is_initialized()

    @property
    def world_size(self) -> int:
        return torch.distributed.get_world_size() if self._initialized() else 1

    @property
    def global_rank(self) -> int:
        return torch.distributed.get_rank() if self._initialized() else 0

    @property
    def is_global_zero(self) -> bool:
        return self.global_rank == 0

    show_progress = True

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        if self.world_size == 1:
            return obj
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=src)
        return box[0]

    def _collective_device(self, device: torch.device) -> torch.device:
        """NCCL gathers CUDA tensors only; every other backend gathers on the CPU."""
        return device if torch.distributed.get_backend() == "nccl" else torch.device("cpu")

    def shards(self, device: torch.device) -> Shards:
        if self.world_size == 1:
            return Shards()
        where = self._collective_device(torch.device(device))

        def all_gather(tensor: torch.Tensor) -> torch.Tensor:
            parts = [torch.empty_like(tensor) for _ in range(self.world_size)]
            torch.distributed.all_gather(parts, tensor.contiguous())
            return torch.stack(parts)

        def any_rank(flag: bool) -> bool:
            found = torch.tensor([int(flag)], device=where)
            torch.distributed.all_reduce(found, op=torch.distributed.ReduceOp.MAX)
            return bool(found.item())

        return Shards(self.world_size, self.global_rank, all_gather, any_rank, where)


class PlainLoop(TorchDistributed):
    """A plain PyTorch or Accelerate loop (this module's docstring).

    Args:
        log: ``log(scalars, step=step)``, e.g. ``accelerator.log`` or ``wandb.log``; ``None``: scalars go nowhere
            but ``writer``.
        writer: a TensorBoard ``SummaryWriter``: scalars, figures and the dashboard.
        output_dir: the default folder of the artifacts (``runs/interactions``).
        pool: the pool a sample set is built from when none is given to the recorder.
    """

    def __init__(self, log: Optional[Callable[..., Any]] = None, writer: Any = None,
                 output_dir: str = "runs/interactions", pool: Optional[TextPool | ImagePool] = None) -> None:
        self.log, self.writer, self.output_dir, self.pool = log, writer, output_dir, pool

    def default_output_dir(self) -> str:
        return self.output_dir

    def annotation_pool(self, split: str) -> Optional[TextPool | ImagePool]:
        return self.pool

    def dataset_name(self, samples: AnnotatedSampleSet) -> str:
        return str(samples.meta.get("pool", samples.kind))

    def log_scalars(self, scalars: dict[str, float], step: int) -> None:
        if self.log is not None:
            self.log(dict(scalars), step=step)
        if self.writer is not None:
            for tag, value in scalars.items():
                self.writer.add_scalar(tag, value, step)

    def figure_writers(self) -> list[FigureWriter]:
        return [summary_writer_figures(self.writer)] if callable(getattr(self.writer, "add_figure", None)) else []

    def write_layout(self, layout: dict[str, dict[str, list]]) -> None:
        if callable(getattr(self.writer, "add_custom_scalars", None)):
            self.writer.add_custom_scalars(layout)


def default_folder(root: Optional[str]) -> str:
    """``<root>/interactions`` (the working folder's ``interactions`` without a root)."""
    return str(Path(root or ".") / "interactions")


__all__ = ["PlainLoop", "TorchDistributed", "TrainingLoop", "default_folder"]
