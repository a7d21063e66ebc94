"""The annotated sample set: which samples, which input variables, which baseline
(docs/method.md#the-annotated-sample-set), and the held-out pools a sample set is drawn from.

It is built once with a seed, saved to one content-hashed file, and reused
unchanged by every model and epoch compared with it. Layouts:

- ``inputs``: the unmasked model inputs, one row per sample
  (images ``pixels[sample, C, H, W]``; text ``input_ids[sample, token]``,
  ``attention_mask[sample, token]`` ...; features ``x[sample, feature]``).
- ``unit_variable[sample, unit]``: for each masking unit (image patch, row-major
  on the ``rows x cols`` grid; token; feature) the variable it belongs to, ``-1``
  for units never masked (special tokens, padding, kept background patches,
  features outside every variable) and ``-2`` for units always set to the
  baseline (``background="baseline"``). A feature variable may own several
  features (``groups``).
- ``baseline``: a mean image ``[C, H, W]``, the mask token id (a 0-d tensor), or a
  baseline vector ``[feature]``.
- ``labels[sample]``: the true class of each sample (int64).

The builders live beside this module, one per kind of input: :mod:`.image_sample_set`,
:mod:`.text_sample_set`, :mod:`.feature_sample_set`, and :mod:`.pool_sample_set` (drawing
from a :class:`TextPool` / :class:`ImagePool`). ``meta["grid"]`` records every image grid but
the paper's 8x8, so the paper protocol's annotation files are exactly what they were before
grids became an option (same content, same hash); :attr:`AnnotatedSampleSet.grid` reads both.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import torch
from torch import Tensor

from .artifacts import content_hash, load_artifact, save_artifact
from .errors import AnnotationError, ConfigError, DataError

if TYPE_CHECKING:
    from .maskers import Masker

#: the kinds of input a sample set holds (``AnnotatedSampleSet.kind``)
KINDS = ("image", "text", "features")
#: the default cap on ``n``: ``2**16`` masked inputs per sample and model
DEFAULT_MAX_VARIABLES = 16


def check_num_variables(n: int, max_variables: int = DEFAULT_MAX_VARIABLES) -> int:
    """Validate ``n`` against the cap; the message gives the cost ``2**n`` (docs/method.md#precision-and-budget)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ConfigError(f"n={n!r} must be a positive integer number of input variables")
    if n > max_variables:
        raise ConfigError(
            f"n={n} input variables means 2**{n} = {2**n:,} masked inputs, i.e. {2**n:,} forward passes per sample "
            f"and model; the cap is max_variables={max_variables}. Use a smaller n or raise max_variables explicitly"
        )
    return n


@dataclass
class AnnotatedSampleSet:
    """Samples + variables + baseline; see the module docstring for the tensor layouts."""

    kind: str
    inputs: dict[str, Tensor]
    labels: Tensor
    unit_variable: Tensor
    baseline: Tensor
    n: int
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"kind={self.kind!r} must be one of {KINDS}")
        self.labels = torch.as_tensor(self.labels, dtype=torch.long)
        s = self.labels.shape[0]
        for name, t in self.inputs.items():
            if t.shape[0] != s:
                raise DataError(f"inputs[{name!r}] has {t.shape[0]} rows but there are {s} labels")
        if self.unit_variable.shape[0] != s:
            raise DataError(f"unit_variable has {self.unit_variable.shape[0]} rows but there are {s} labels")
        if s and int(self.unit_variable.max()) >= self.n:
            raise DataError(f"unit_variable refers to variable {int(self.unit_variable.max())} but n={self.n}")
        if self.kind == "image":
            self._check_image_layout()

    def _check_image_layout(self) -> None:
        pixels = self.inputs.get("pixels")
        if pixels is None or pixels.dim() != 4:
            shape = None if pixels is None else tuple(pixels.shape)
            raise DataError(f"an image sample set needs inputs['pixels'][sample, C, H, W]; got {shape}")
        rows, cols = self.grid
        height, width = pixels.shape[-2:]
        if height % rows or width % cols or self.unit_variable.shape[1] != rows * cols:
            raise DataError(
                f"images of {height}x{width} with {self.unit_variable.shape[1]} patch units do not match a "
                f"{rows}x{cols} patch grid"
            )

    @property
    def grid(self) -> tuple[int, int] | None:
        """``(rows, cols)`` of an image sample set's patch grid (``None`` for text and features).

        ``meta["grid"]`` when recorded; files without it (the paper's 8x8 protocol, which records
        no grid) have the square grid of their ``unit_variable`` width."""
        if self.kind != "image":
            return None
        if "grid" in self.meta:
            rows, cols = self.meta["grid"]
            return int(rows), int(cols)
        units = int(self.unit_variable.shape[1])
        side = int(round(units ** 0.5))
        if side * side != units:
            raise DataError(f"an image sample set with {units} patch units and no meta['grid'] has no square grid")
        return side, side

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_masks(self) -> int:
        """``2**n``: the masks (subsets of the variables) of each sample."""
        return 1 << self.n

    def content(self) -> dict[str, Any]:
        """What the annotation file holds: every tensor on the CPU, plus ``kind``, ``n`` and ``meta``."""
        return {
            "kind": self.kind,
            "n": self.n,
            "inputs": {k: v.detach().cpu() for k, v in self.inputs.items()},
            "labels": self.labels.cpu(),
            "unit_variable": self.unit_variable.cpu(),
            "baseline": self.baseline.detach().cpu(),
            "meta": self.meta,
        }

    @property
    def hash(self) -> str:
        """Content hash: two runs with equal hashes used the same annotation."""
        return content_hash(self.content())

    def save(self, path: str | os.PathLike) -> str:
        """Write the annotation file atomically; return its hash."""
        return save_artifact(path, "annotation", self.content())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "AnnotatedSampleSet":
        """Read an annotation file; a file failing its hash check raises :class:`AnnotationError` (corrupt)."""
        content, _ = load_artifact(path, "annotation")
        try:
            return cls(
                kind=content["kind"], inputs=dict(content["inputs"]), labels=content["labels"],
                unit_variable=content["unit_variable"], baseline=content["baseline"], n=int(content["n"]),
                meta=dict(content["meta"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise AnnotationError(f"annotation file {path} is corrupt or incomplete ({err}); rebuild it") from None

    def subset(self, indices: Sequence[int]) -> "AnnotatedSampleSet":
        """The samples at ``indices`` (e.g. one rank's share), same variables and baseline."""
        idx = torch.as_tensor(list(indices), dtype=torch.long)
        meta = dict(self.meta)
        for key in ("sample_ids", "words", "patches"):
            if key in meta:
                meta[key] = [meta[key][i] for i in idx.tolist()]
        return AnnotatedSampleSet(
            kind=self.kind, inputs={k: v[idx] for k, v in self.inputs.items()}, labels=self.labels[idx],
            unit_variable=self.unit_variable[idx], baseline=self.baseline, n=self.n, meta=meta,
        )

    def masker(self, device: torch.device | str | None = None) -> Masker:
        """The masker for this sample set, with its tensors on ``device`` (:func:`~.maskers.masker_for`)."""
        from .maskers import masker_for

        return masker_for(self, device)


def check_variable_indices(variables: Sequence[int], limit: int, what: str) -> None:
    """:class:`ConfigError` unless ``variables`` are distinct indices in ``0..limit - 1`` (``what`` names them)."""
    if len(set(variables)) != len(variables):
        raise ConfigError(f"variables {list(variables)} repeat an index; each {what} may be one variable only once")
    bad = [v for v in variables if not 0 <= v < limit]
    if bad:
        raise ConfigError(f"variables {bad} are out of range 0..{limit - 1} for {what}")


# ----------------------------------------------------------------- pools


@dataclass
class TextPool:
    """Held-out sentences a text sample set is drawn from (a datamodule's ``annotation_pool``)."""

    sentences: list[str]
    labels: list[int]
    tokenizer: Any
    name: str = "text"


@dataclass
class ImagePool:
    """Held-out images a sample set is drawn from, and training images for the mean-image baseline.

    ``images`` and ``train_images`` are sequences of ``(tensor[C, H, W], label)``
    in the model's input form (after the datamodule's transforms): 224x224 for the
    paper protocol, or the model's native size with a matching ``grid``."""

    images: Sequence[tuple[Tensor, int]]
    train_images: Sequence[tuple[Tensor, int]] | None
    num_classes: int
    name: str = "images"


__all__ = [
    "DEFAULT_MAX_VARIABLES",
    "KINDS",
    "AnnotatedSampleSet",
    "ImagePool",
    "TextPool",
    "check_num_variables",
    "check_variable_indices",
]
