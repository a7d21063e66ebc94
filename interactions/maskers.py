"""Maskers: one sample + a batch of integer masks -> a batch of masked model inputs.

All three share one rule over masking units (image patches, tokens,
features): a unit of variable ``i`` keeps its value when bit ``i`` of the mask
is set and takes the baseline otherwise; units with ``unit_variable = -1`` are
always kept and ``-2`` always take the baseline. Everything is vectorised and
runs on the sample set's device (docs/method.md#values-and-masking).

Layouts: ``sample_idx[batch]`` and ``masks[batch]`` (int64; bit ``i`` of a mask keeps
variable ``i``) in; out the model's batch: ``pixels[batch, C, H, W]``,
``{"input_ids": [batch, token], ...}`` or ``x[batch, feature]``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

if TYPE_CHECKING:
    from .sample_set import AnnotatedSampleSet


def keep_units(unit_variable: Tensor, masks: Tensor) -> Tensor:
    """``keep[batch, unit]`` (bool) for ``unit_variable[batch, unit]`` and ``masks[batch]``."""
    bits = (masks.view(-1, 1) >> unit_variable.clamp(min=0)) & 1
    return torch.where(unit_variable >= 0, bits.bool(), unit_variable == -1)


class Masker:
    """Base class of the maskers: holds the sample set's tensors on one device."""

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

    def __call__(self, sample_idx: Tensor, masks: Tensor, sample_range: tuple[int, int] | None = None) -> Any:
        """Masked inputs for ``sample_idx[batch]``, ``masks[batch]``. ``sample_range = (first, last)``
        may tell which samples the batch draws from (inclusive), so a masker that uses it needs no
        device-to-host copy of ``sample_idx``."""
        raise NotImplementedError  # pragma: no cover - abstract


class FeatureMasker(Masker):
    """Tabular / vector input ``x[sample, feature]`` with a baseline vector."""

    def __call__(self, sample_idx: Tensor, masks: Tensor, sample_range: tuple[int, int] | None = None) -> Tensor:
        """``x_T[batch, feature]`` for ``sample_idx[batch]``, ``masks[batch]``."""
        keep = keep_units(self.unit_variable[sample_idx], masks)
        return torch.where(keep, self.inputs["x"][sample_idx], self.baseline)


class ImagePatchMasker(Masker):
    """Images ``pixels[sample, C, H, W]`` on the sample set's ``rows x cols`` grid of equal patches
    (the paper: 224x224 on an 8x8 grid of 28x28); baseline a mean image ``[C, H, W]`` or zeros.

    One gather maps the per-patch keep flags to pixels (``patch_of_pixel``), so a batch costs one
    ``torch.where`` whatever the grid."""

    def __init__(self, sample_set: AnnotatedSampleSet, device: torch.device | str | None = None,
                 channels_last: bool = False):
        super().__init__(sample_set, device)
        self.channels_last = channels_last
        rows, cols = sample_set.grid
        self.height, self.width = (int(d) for d in sample_set.inputs["pixels"].shape[-2:])
        row_of = torch.arange(self.height, device=self.device) // (self.height // rows)
        col_of = torch.arange(self.width, device=self.device) // (self.width // cols)
        #: patch_of_pixel[h * W + w] = patch row * cols + patch col
        self.patch_of_pixel = (row_of.view(-1, 1) * cols + col_of.view(1, -1)).view(-1)

    def __call__(self, sample_idx: Tensor, masks: Tensor, sample_range: tuple[int, int] | None = None) -> Tensor:
        """``pixels_T[batch, C, H, W]``."""
        keep = keep_units(self.unit_variable[sample_idx], masks)  # [batch, rows * cols]
        keep = keep[:, self.patch_of_pixel].view(-1, 1, self.height, self.width)
        out = torch.where(keep, self.inputs["pixels"][sample_idx], self.baseline)
        if self.channels_last:
            out = out.contiguous(memory_format=torch.channels_last)
        return out


class WordMasker(Masker):
    """Whitespace words of a tokenised sentence; every sub-word token of a masked word
    becomes the mask token, special tokens and padding never change.

    With ``trim_padding`` (default) a batch is cut to the longest sentence among the samples
    it draws from, so a chunk of short sentences does not pay for the longest sentence of the
    whole sample set. Only trailing padding (``attention_mask == 0`` after a sample's last real
    token) is cut, and the model never attends to it, so the values do not change (to float
    rounding). Sample sets without an ``attention_mask`` are never trimmed."""

    def __init__(self, sample_set: AnnotatedSampleSet, device: torch.device | str | None = None,
                 trim_padding: bool = True):
        super().__init__(sample_set, device)
        attention = sample_set.inputs.get("attention_mask")
        self.trim_padding = bool(trim_padding) and attention is not None
        #: tokens of each sample up to and including its last attended one (CPU, ``lengths[sample]``)
        self.lengths: Tensor | None = None
        if self.trim_padding:
            positions = torch.arange(1, attention.shape[1] + 1)
            self.lengths = (positions * attention.detach().cpu().ne(0)).amax(dim=1)

    def chunk_length(self, sample_idx: Tensor, sample_range: tuple[int, int] | None = None) -> int | None:
        """Token columns a batch needs: the longest of its samples (``None``: untrimmed)."""
        if self.lengths is None or len(self.lengths) == 0:
            return None
        if sample_range is not None:
            first, last = sample_range
            return int(self.lengths[first: last + 1].max())
        return int(self.lengths[sample_idx.cpu()].max())

    def __call__(self, sample_idx: Tensor, masks: Tensor, sample_range: tuple[int, int] | None = None) -> dict[str, Tensor]:
        """``{"input_ids": [batch, token], "attention_mask": ..., ...}``, ``token`` cut to the batch's
        longest sentence when ``trim_padding``."""
        length = self.chunk_length(sample_idx, sample_range)
        cols = slice(None) if length is None else slice(0, length)
        keep = keep_units(self.unit_variable[sample_idx, cols], masks)
        batch = {k: v[sample_idx, cols] for k, v in self.inputs.items()}
        batch["input_ids"] = torch.where(keep, batch["input_ids"], self.baseline)
        return batch


def masker_for(sample_set: AnnotatedSampleSet, device: torch.device | str | None = None, **kwargs: Any) -> Masker:
    """The masker class matching ``sample_set.kind``."""
    cls = {"image": ImagePatchMasker, "text": WordMasker, "features": FeatureMasker}[sample_set.kind]
    return cls(sample_set, device, **kwargs)


__all__ = ["FeatureMasker", "ImagePatchMasker", "Masker", "WordMasker", "keep_units", "masker_for"]
