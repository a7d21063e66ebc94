"""The few Lightning pieces the callback needs, for both Lightning packages.

Lightning ships the same trainer twice: ``pytorch_lightning`` and the unified ``lightning``
package (``lightning.pytorch``). Their classes are distinct copies: a
``pytorch_lightning.Callback`` is not a ``lightning.pytorch.Callback``, so each package's
``Trainer`` (``isinstance`` check) and LightningCLI (``issubclass`` check of a ``class_path``)
refuse the other package's callbacks.

Design: **one class that derives from the Callback base of every installed package**
(:data:`CALLBACK_BASES`). ``harsanyi_lightning.callbacks.InteractionCallback`` is then a Callback for both
trainers and both CLIs under one class path, with one set of artifacts, tags and docs, and a
checkpoint's callback state (keyed by the class name) is the same whichever package wrote it.
A thin subclass per package would force users to pick the class path that matches their
package, and a YAML would break when a project moves from one package to the other.
Everything else is package-neutral: the hooks only call trainer methods both packages share,
warnings come from ``lightning_utilities`` (the rank-zero helper both packages re-export),
and loggers are recognised by what they can do (:func:`layout_writers`,
:func:`harsanyi_lightning.callbacks.figure_logging.figure_writers`), never by class.
Either package alone is enough; the tests run with both installed and fit with each.
"""
from __future__ import annotations

import importlib
from typing import Any

try:  # the helper both packages re-export (rank zero only, UserWarning)
    from lightning_utilities.core.rank_zero import rank_zero_warn
except ImportError:  # pragma: no cover - lightning_utilities is a dependency of both packages
    import warnings

    def rank_zero_warn(message: str, stacklevel: int = 4, **kwargs: Any) -> None:
        warnings.warn(message, stacklevel=stacklevel, **kwargs)


#: the Lightning packages that provide a ``Callback``, in the order their bases are used
PACKAGES = ("pytorch_lightning", "lightning.pytorch")


def _callback_bases() -> tuple[tuple[type, ...], tuple[str, ...]]:
    bases, found = [], []
    for name in PACKAGES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        base = getattr(module, "Callback", None)
        if isinstance(base, type) and base not in bases:
            bases.append(base)
            found.append(name)
    if not bases:
        raise ImportError(
            "harsanyi_lightning.callbacks.InteractionCallback needs a Lightning package; install one of them: "
            "pip install lightning  (or: pip install pytorch-lightning)"
        )
    return tuple(bases), tuple(found)


#: ``Callback`` of each installed Lightning package (``pytorch_lightning``, ``lightning.pytorch``)
CALLBACK_BASES, INSTALLED = _callback_bases()


def logging_step(trainer: Any) -> int:
    """The step Lightning's own logging uses right now.

    This is the training loop's count of batches that stepped (what ``LearningRateMonitor`` and
    the trainer's ``self.log`` use), which is ``trainer.global_step`` with one optimizer and no
    manual optimisation; other trainers fall back to ``global_step``."""
    loop = getattr(getattr(trainer, "fit_loop", None), "epoch_loop", None)
    step = getattr(loop, "_batches_that_stepped", None)
    return int(trainer.global_step if step is None else step)


def batches_done(trainer: Any) -> int:
    """Batches processed in the current epoch (the training loop's progress counter; restored on a resume
    inside an epoch), 0 when the trainer has no such counter."""
    loop = getattr(getattr(trainer, "fit_loop", None), "epoch_loop", None)
    current = getattr(getattr(loop, "batch_progress", None), "current", None)
    return int(getattr(current, "processed", 0) or 0)


def _experiments(trainer: Any) -> list[Any]:
    return [getattr(logger, "experiment", None) for logger in getattr(trainer, "loggers", None) or []]


def layout_writers(trainer: Any) -> list[Any]:
    """The experiments of ``trainer.loggers`` that take a custom-scalars layout (``add_custom_scalars``)."""
    return [e for e in _experiments(trainer) if callable(getattr(e, "add_custom_scalars", None))]


__all__ = ["CALLBACK_BASES", "INSTALLED", "PACKAGES", "batches_done", "layout_writers", "logging_step", "rank_zero_warn"]
