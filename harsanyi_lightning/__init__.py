"""harsanyi-lightning: Lightning callbacks that measure what a network knows as Harsanyi interactions.

The package's one import name. Its subpackages (one folder each in the repository):

- :mod:`harsanyi_lightning.interactions`: the pure-torch core (maskers, values, dividends, metrics);
- :mod:`harsanyi_lightning.callbacks`: :class:`InteractionCallback`, the Lightning glue, and
  :class:`InteractionTrainerCallback` for the Hugging Face ``transformers.Trainer``;
- :mod:`harsanyi_lightning.lightning_modules`: the probe, finetune and scratch regimes;
- :mod:`harsanyi_lightning.datamodules`: SST-2, CIFAR-10, CUB-200-2011, Stanford Cars, tiny test data;
- :mod:`harsanyi_lightning.study`: the one-command study and its report;
- :mod:`harsanyi_lightning.cli`: ``harsanyi-lightning`` / ``python cli.py`` (LightningCLI).

The names below are loaded on first use, so ``import harsanyi_lightning`` itself imports nothing heavy::

    from harsanyi_lightning import InteractionCallback
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the subpackage that defines it
_SOURCES = {
    "InteractionCallback": "callbacks",
    "InteractionTrainerCallback": "callbacks",
    "harsanyi_interactions": "interactions",
    "harsanyi_dividends": "interactions",
    "Interactions": "interactions",
    "AnnotatedSampleSet": "interactions",
    "HarsanyiError": "interactions",
    "ConfigError": "interactions",
    "HarsanyiClassifier": "lightning_modules",
    "ProbeClassifier": "lightning_modules",
    "FinetuneClassifier": "lightning_modules",
    "ScratchClassifier": "lightning_modules",
    "HarsanyiDataModule": "datamodules",
    "SST2DataModule": "datamodules",
}

__all__ = [
    "AnnotatedSampleSet",
    "ConfigError",
    "FinetuneClassifier",
    "HarsanyiClassifier",
    "HarsanyiDataModule",
    "HarsanyiError",
    "InteractionCallback",
    "InteractionTrainerCallback",
    "Interactions",
    "ProbeClassifier",
    "SST2DataModule",
    "ScratchClassifier",
    "__version__",
    "harsanyi_dividends",
    "harsanyi_interactions",
]

if TYPE_CHECKING:
    from .callbacks import InteractionCallback, InteractionTrainerCallback
    from .datamodules import HarsanyiDataModule, SST2DataModule
    from .interactions import (
        AnnotatedSampleSet,
        ConfigError,
        HarsanyiError,
        Interactions,
        harsanyi_dividends,
        harsanyi_interactions,
    )
    from .lightning_modules import FinetuneClassifier, HarsanyiClassifier, ProbeClassifier, ScratchClassifier


def __getattr__(name: str) -> Any:
    if name in _SOURCES:
        value = getattr(importlib.import_module(f"{__name__}.{_SOURCES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
