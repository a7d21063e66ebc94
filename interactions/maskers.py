"""Maskers: one sample + a batch of integer masks -> a batch of masked model inputs.

All three share one rule over masking units (image patches, tokens,
features): a unit of variable ``i`` keeps its value when bit ``i`` of the mask
is set and takes the baseline otherwise; units with ``unit_variable = -1`` are
always kept and ``-2`` always take the baseline. Everything is vectorised and
runs on the sample set's device.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .sample_set import GRID, IMAGE_SIZE, PATCH, AnnotatedSampleSet


def keep_units(unit_variable: Tensor, masks: Tensor) -> Tensor:
    """``keep[batch, unit]`` (bool) for ``unit_variable[batch, unit]`` and ``masks[batch]``."""
    bits = (masks.view(-1, 1) >> unit_variable.clamp(min=0)) & 1
    return torch.where(unit_variable >= 0, bits.bool(), unit_variable == -1)


class _Masker:
    """Base: holds the sample set's tensors on one device."""

    def __init__(self, sample_set: AnnotatedSampleSet, device: torch.device | str | None = None):
        self.sample_set = sample_set
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.n = sample_set.n
        self.labels = sample_set.labels.to(self.device)
        self.unit_variable = sample_set.unit_variable.to(self.device)
        self.inputs = {k: v.to(self.device) for k, v in sample_set.inputs.items()}
        self.baseline = sample_set.baseline.to(self.device)

    def __len__(self) -> int:
        return len(self.sample_set)

    def __call__(self, sample_idx: Tensor, masks: Tensor) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class FeatureMasker(_Masker):
    """Tabular / vector input ``x[sample, feature]`` with a baseline vector."""

    def __call__(self, sample_idx: Tensor, masks: Tensor) -> Tensor:
        """``x_T[batch, feature]`` for ``sample_idx[batch]``, ``masks[batch]``."""
        keep = keep_units(self.unit_variable[sample_idx], masks)
        return torch.where(keep, self.inputs["x"][sample_idx], self.baseline)


class ImagePatchMasker(_Masker):
    """224x224 images on an 8x8 grid of 28x28 patches; baseline a mean image or zeros."""

    def __init__(self, sample_set: AnnotatedSampleSet, device=None, channels_last: bool = False):
        super().__init__(sample_set, device)
        self.channels_last = channels_last
        rows = torch.arange(IMAGE_SIZE, device=self.device) // PATCH
        #: patch_of_pixel[h, w] = row * 8 + col
        self.patch_of_pixel = (rows.view(-1, 1) * GRID + rows.view(1, -1)).view(-1)

    def __call__(self, sample_idx: Tensor, masks: Tensor) -> Tensor:
        """``pixels_T[batch, 3, 224, 224]``."""
        keep = keep_units(self.unit_variable[sample_idx], masks)  # [batch, 64]
        keep = keep[:, self.patch_of_pixel].view(-1, 1, IMAGE_SIZE, IMAGE_SIZE)
        out = torch.where(keep, self.inputs["pixels"][sample_idx], self.baseline)
        if self.channels_last:
            out = out.contiguous(memory_format=torch.channels_last)
        return out


class WordMasker(_Masker):
    """Whitespace words of a tokenised sentence; every sub-word token of a masked word
    becomes the mask token, special tokens and padding never change."""

    def __call__(self, sample_idx: Tensor, masks: Tensor) -> dict[str, Tensor]:
        """``{"input_ids": [batch, token], "attention_mask": ..., ...}``."""
        keep = keep_units(self.unit_variable[sample_idx], masks)
        batch = {k: v[sample_idx] for k, v in self.inputs.items()}
        batch["input_ids"] = torch.where(keep, batch["input_ids"], self.baseline)
        return batch


def masker_for(sample_set: AnnotatedSampleSet, device=None, **kwargs) -> _Masker:
    """The masker class matching ``sample_set.kind``."""
    cls = {"image": ImagePatchMasker, "text": WordMasker, "features": FeatureMasker}[sample_set.kind]
    return cls(sample_set, device, **kwargs)
