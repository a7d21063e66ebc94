"""The callbacks of harsanyi-lightning (docs/callback.md): :class:`InteractionCallback` for Lightning and its
option objects, and :class:`InteractionTrainerCallback` for the Hugging Face ``transformers.Trainer``
(loaded on first use, so importing the Lightning callback does not import the Trainer's machinery)."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .interaction_callback import InteractionCallback
from .options import EvaluationOptions, ExtrasOptions, RunOptions, SampleSetOptions

if TYPE_CHECKING:
    from .hf_trainer import InteractionTrainerCallback

__all__ = ["EvaluationOptions", "ExtrasOptions", "InteractionCallback", "InteractionTrainerCallback", "RunOptions",
           "SampleSetOptions"]


def __getattr__(name: str) -> Any:
    if name == "InteractionTrainerCallback":
        value = importlib.import_module(f"{__name__}.hf_trainer").InteractionTrainerCallback
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
