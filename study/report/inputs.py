"""What the report reads from a study's regimes: the dividends of an interaction artifact and the losses
logged to TensorBoard (docs/study.md, section "Report").

Losses are read with tensorboard's ``EventAccumulator`` from ``<study_dir>/<regime>/tb`` (tags
``train/loss`` and ``val/loss``, or their ``_epoch`` forms), one value per training epoch, mapped to
epochs with the ``epoch`` scalar Lightning logs beside them.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import torch

from harsanyi_lightning.interactions import load_artifact

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["LOSS_SPLITS", "load_dividends", "read_losses", "read_run_artifact"]

#: the loss series the report reads for every regime
LOSS_SPLITS = ("train", "val")


def load_dividends(path: str | os.PathLike) -> tuple[Tensor, dict[str, Any]]:
    """``dividends[sample, mask]`` (float64) of one interaction artifact, and its content."""
    content, _ = load_artifact(path, "interactions")
    return content["dividends"].to(torch.float64), content


def read_run_artifact(path: str | os.PathLike) -> dict[str, Any]:
    """The content of one interaction artifact (hash-checked), exact or sparse."""
    content, _ = load_artifact(path, "interactions")
    return content


def read_losses(log_dir: str | os.PathLike) -> dict[str, dict[int, float]]:
    """``{"train": {epoch: loss}, "val": {epoch: loss}}`` from a regime's TensorBoard events.

    ``epoch`` counts training epochs done (1 = after the first epoch), the
    axis of the interaction artifacts. For a resumed run the last value
    logged for an epoch wins."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    acc.Reload()
    tags = set(acc.Tags().get("scalars", []))
    step_epoch: dict[int, int] = {}
    if "epoch" in tags:
        for ev in acc.Scalars("epoch"):
            step_epoch[ev.step] = int(round(ev.value))
    out: dict[str, dict[int, float]] = {}
    for split in LOSS_SPLITS:
        tag = next((t for t in (f"{split}/loss_epoch", f"{split}/loss") if t in tags), None)
        series: dict[int, float] = {}
        if tag is not None:
            for i, ev in enumerate(acc.Scalars(tag)):
                epoch = step_epoch.get(ev.step, i)
                series[epoch + 1] = float(ev.value)
        out[split] = dict(sorted(series.items()))
    return out
