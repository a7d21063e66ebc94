"""The study's processes under DDP: one set of ranks and one process group for every regime (docs/study.md#many-devices-and-machines).

Lightning starts the ranks of a run at its first ``trainer.fit``: its subprocess launcher re-runs the
command line for ranks 1..N-1 (``strategy: ddp``), or finds them started (``torchrun``, SLURM). A study runs
several fits in one process, so it starts its ranks itself, before the first regime, through the same
launcher and cluster environment, from the regimes' process layout (:data:`LAYOUT_KEYS` of ``trainer``),
and starts the process group; every regime's fit finds it and runs in it.

Every rank runs the study loop. Global rank zero alone decides (which regime to skip, resume or redo) and
writes (the folder lock, ``study.json``, ``regime.json``, ``summary.json``, the report); the other ranks get
its decisions by broadcast (:meth:`StudyProcesses.on_zero`), so they wait for it there, and an error on rank
zero is raised on every rank.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Optional, TypeVar

import pytorch_lightning as pl
import torch

from harsanyi_lightning.interactions import errors
from harsanyi_lightning.interactions.errors import ConfigError, HarsanyiError

__all__ = ["LAYOUT_KEYS", "StudyProcesses", "layout_of", "start_study_processes"]

#: the ``trainer`` settings that decide the study's processes: the same in every regime
LAYOUT_KEYS = ("accelerator", "strategy", "devices", "num_nodes", "plugins")

T = TypeVar("T")


def layout_of(trainer_config: Any) -> dict:
    """The :data:`LAYOUT_KEYS` of a regime's parsed ``trainer`` settings, as plain values."""
    out = {}
    for key in LAYOUT_KEYS:
        value = trainer_config.get(key) if trainer_config is not None else None
        out[key] = value.as_dict() if hasattr(value, "as_dict") else value
    return out


class StudyProcesses:
    """The study's ranks: one process (``strategy=None``) or the ranks of a started DDP process group."""

    def __init__(self, strategy: Optional[pl.strategies.Strategy] = None) -> None:
        self.strategy = strategy

    @property
    def world_size(self) -> int:
        return 1 if self.strategy is None else int(self.strategy.world_size)

    @property
    def rank(self) -> int:
        return 0 if self.strategy is None else int(self.strategy.global_rank)

    @property
    def is_zero(self) -> bool:
        return self.rank == 0

    def share(self, obj: T) -> T:
        """Rank zero's ``obj`` on every rank."""
        return obj if self.strategy is None else self.strategy.broadcast(obj, src=0)

    def close(self) -> None:
        """At the end of a study that finished on every rank: wait for every rank, then take the process group down,
        so no rank leaves the collectives' threads running into the interpreter's exit."""
        if self.strategy is None or not torch.distributed.is_initialized():
            return
        self.strategy.barrier("study finished")
        torch.distributed.destroy_process_group()

    def on_zero(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on rank zero and give its result to every rank; an error raised by ``fn`` is raised on
        every rank (the same project error type and message), so no rank waits for a decision that never comes."""
        if self.strategy is None:
            return fn()
        result, failure, error = None, None, None
        if self.is_zero:
            try:
                result = fn()
            except Exception as err:  # noqa: BLE001 - re-raised below on every rank
                error = err
                failure = (type(err).__name__, str(err))
        result, failure = self.share((result, failure))
        if error is not None:
            raise error
        if failure is not None:
            kind = getattr(errors, failure[0], None)
            if isinstance(kind, type) and issubclass(kind, HarsanyiError):
                raise kind(failure[1])
            raise RuntimeError(f"rank zero of the study failed ({failure[0]}): {failure[1]}")
        return result


def _trainer_of(layout: dict) -> pl.Trainer:
    """A bare ``Trainer`` with the study's process layout (its strategy, cluster environment and launcher)."""
    from pytorch_lightning.cli import LightningArgumentParser

    parser = LightningArgumentParser(exit_on_error=False)
    parser.add_class_arguments(pl.Trainer, "trainer", fail_untyped=False, instantiate=True, sub_configs=True)
    given = {k: v for k, v in layout.items() if v is not None}
    cfg = parser.parse_object({"trainer": {**given, "logger": False, "enable_checkpointing": False,
                                           "enable_progress_bar": False, "enable_model_summary": False}})
    quiet = logging.getLogger("pytorch_lightning.utilities.rank_zero")  # its device lines: each regime prints them
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        return parser.instantiate(cfg).trainer
    finally:
        quiet.setLevel(level)


def start_study_processes(layout: dict) -> StudyProcesses:
    """Start the study's ranks and process group (nothing for a single process); see the module docstring.

    Under Lightning's subprocess launcher (``strategy: ddp`` started as one command) ranks 1..N-1 re-run this
    command line and reach this point themselves; under ``torchrun`` and SLURM every rank runs it already."""
    from pytorch_lightning.strategies import ParallelStrategy
    from pytorch_lightning.strategies.launchers import _SubprocessScriptLauncher  # Lightning's own launcher

    trainer = _trainer_of(layout)
    strategy = trainer.strategy
    if not isinstance(strategy, ParallelStrategy) or trainer.world_size <= 1:
        return StudyProcesses()
    launcher = strategy.launcher
    if launcher is not None and not isinstance(launcher, _SubprocessScriptLauncher):
        raise ConfigError(
            f"trainer.strategy={layout.get('strategy')!r} starts new processes for every fit, and a study runs "
            "several fits on one set of processes; use strategy: ddp (or start the ranks with torchrun or srun)"
        )
    if launcher is not None:
        launcher.launch(lambda: None)  # ranks 1..N-1 start here (unless torchrun / SLURM started them)
    strategy.setup_environment()  # the process group every regime's fit finds and uses
    return StudyProcesses(strategy)
