"""The callbacks of harsanyi-lightning (docs/callback.md): the framework-neutral :class:`InteractionRecorder` and its
adapters, :class:`InteractionCallback` for Lightning and :class:`InteractionTrainerCallback` for the Hugging Face
``transformers.Trainer`` (loaded on first use, so importing the Lightning callback does not import the Trainer's
machinery); a plain PyTorch loop drives the recorder itself through a :class:`PlainLoop`."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .evaluation_schedule import TrainingPosition
from .interaction_callback import InteractionCallback
from .options import EvaluationOptions, ExtrasOptions, RecorderOptions, RunOptions, SampleSetOptions
from .recorder import InteractionRecorder
from .training_loop import PlainLoop, TrainingLoop

if TYPE_CHECKING:
    from .hf_trainer import InteractionTrainerCallback

__all__ = [
    "EvaluationOptions",
    "ExtrasOptions",
    "InteractionCallback",
    "InteractionRecorder",
    "InteractionTrainerCallback",
    "PlainLoop",
    "RecorderOptions",
    "RunOptions",
    "SampleSetOptions",
    "TrainingLoop",
    "TrainingPosition",
]


def __getattr__(name: str) -> Any:
    if name == "InteractionTrainerCallback":
        value = importlib.import_module(f"{__name__}.hf_trainer").InteractionTrainerCallback
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
