"""The annotated sample set: which samples, which input variables, which baseline (SPEC section 2).

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
- ``baseline``: a mean image ``[C, H, W]``, the mask token id, or a
  baseline vector ``[feature]``.

The paper protocol (224x224 images, an 8x8 grid of 28x28 patches, n = 12 drawn
from the central 6x6) is the default of the image builders; any ``C x H x W``
and any grid whose patches tile the image are options (``grid``, ``region``,
``candidates``). ``meta["grid"]`` records every grid but the paper's 8x8, so
the paper protocol's annotation files are exactly what they were before grids
became an option (same content, same hash); :attr:`AnnotatedSampleSet.grid`
reads both.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor

from .artifacts import load_artifact, save_artifact
from .errors import AnnotationError, ConfigError, DataError

KINDS = ("image", "text", "features")
DEFAULT_MAX_VARIABLES = 16

#: the paper protocol (SPEC section 2): 224x224 images, an 8x8 grid of 28x28 patches, variables from the central 6x6
IMAGE_SIZE = 224
GRID = 8
PATCH = IMAGE_SIZE // GRID  # 28
REGION = 6


def check_num_variables(n: int, max_variables: int = DEFAULT_MAX_VARIABLES) -> int:
    """Validate ``n`` against the cap; the message gives the cost ``2**n`` (bad input, issue 2)."""
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
        return 1 << self.n

    def content(self) -> dict[str, Any]:
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
        from .artifacts import content_hash

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

    def masker(self, device: torch.device | str | None = None):
        """The masker for this sample set, with its tensors on ``device``."""
        from .maskers import masker_for

        return masker_for(self, device)


# ----------------------------------------------------------------- builders


def build_feature_sample_set(
    x: Tensor, labels: Sequence[int] | Tensor, baseline: Tensor, variables: Sequence[int] | None = None,
    *, groups: Sequence[Sequence[int]] | None = None, max_variables: int = DEFAULT_MAX_VARIABLES,
    meta: dict | None = None,
) -> AnnotatedSampleSet:
    """Tabular / vector samples ``x[sample, feature]`` with a baseline ``[feature]``.

    ``variables`` lists the features that are input variables, one each (default: all);
    ``groups`` instead makes each group of features one variable (``groups=[[0, 1], [2], [5, 6, 7]]``:
    variable 0 keeps or masks features 0 and 1 together). Features in no variable are always kept."""
    x = torch.as_tensor(x)
    if x.dim() != 2:
        raise DataError(f"x has shape {tuple(x.shape)}; expected x[sample, feature]")
    d = x.shape[1]
    if groups is not None and variables is not None:
        raise ConfigError(
            "pass either variables=[feature, ...] (one feature per variable) or groups=[[feature, ...], ...], not both"
        )
    if groups is None:
        variables = list(range(d)) if variables is None else [int(v) for v in variables]
        _check_variables(variables, d, "features")
        members = [[f] for f in variables]
        info: dict[str, Any] = {"variables": variables}
    else:
        members = _check_groups(groups, d)
        info = {"groups": members}
    n = check_num_variables(len(members), max_variables)
    unit = torch.full((d,), -1, dtype=torch.long)
    for i, group in enumerate(members):
        unit[group] = i
    baseline = torch.as_tensor(baseline, dtype=x.dtype)
    if baseline.shape != (d,):
        raise DataError(f"baseline has shape {tuple(baseline.shape)}; expected [{d}] (one value per feature)")
    return AnnotatedSampleSet(
        "features", {"x": x}, torch.as_tensor(labels), unit.expand(x.shape[0], d).clone(), baseline, n,
        {**info, **(meta or {})},
    )


def _check_groups(groups: Sequence[Sequence[int]], num_features: int) -> list[list[int]]:
    """``groups`` as lists of ints; each non-empty, in range, and no feature in two groups."""
    if isinstance(groups, (str, bytes)) or not all(isinstance(g, Sequence) and not isinstance(g, str) for g in groups):
        raise ConfigError(
            f"groups={groups!r} must be a list of feature index lists, e.g. groups=[[0, 1], [2], [5, 6, 7]]"
        )
    members = [[int(f) for f in g] for g in groups]
    if not members or any(not g for g in members):
        raise ConfigError(f"groups={members} must be a non-empty list of non-empty feature lists")
    flat = [f for g in members for f in g]
    bad = sorted({f for f in flat if not 0 <= f < num_features})
    if bad:
        raise ConfigError(f"groups name features {bad}, out of range 0..{num_features - 1}")
    twice = sorted({f for f in flat if flat.count(f) > 1})
    if twice:
        raise ConfigError(
            f"groups put feature(s) {twice} in more than one group (or twice in one); "
            "each feature may belong to one variable"
        )
    return members


def _check_variables(variables: Sequence[int], limit: int, what: str) -> None:
    if len(set(variables)) != len(variables):
        raise ConfigError(f"variables {list(variables)} repeat an index; each {what} may be one variable only once")
    bad = [v for v in variables if not 0 <= v < limit]
    if bad:
        raise ConfigError(f"variables {bad} are out of range 0..{limit - 1} for {what}")


def patch_grid(grid: int | Sequence[int]) -> tuple[int, int]:
    """``(rows, cols)`` of a patch grid given as one int (square) or a pair; :class:`ConfigError` otherwise."""
    if isinstance(grid, int) and not isinstance(grid, bool):
        rows = cols = grid
    elif isinstance(grid, Sequence) and not isinstance(grid, str) and len(grid) == 2 and all(
            isinstance(g, int) and not isinstance(g, bool) for g in grid):
        rows, cols = int(grid[0]), int(grid[1])
    else:
        raise ConfigError(f"grid={grid!r} must be patches per side (e.g. grid=4) or [rows, cols] (e.g. grid=[4, 8])")
    if rows < 1 or cols < 1:
        raise ConfigError(f"grid={grid!r} must have at least one patch per side")
    return rows, cols


def central_patches(grid: int | Sequence[int] = GRID, central: int | Sequence[int] = REGION) -> list[int]:
    """Patch indices (``row * cols + col``) of the central ``central`` block of a ``grid`` (ints: square;
    pairs: ``(rows, cols)``). An odd margin leaves the extra row / column at the bottom / right."""
    rows, cols = patch_grid(grid)
    if isinstance(central, int) and not isinstance(central, bool):
        height = width = central
    else:
        try:
            height, width = patch_grid(central)
        except ConfigError:
            raise ConfigError(
                f"region={central!r} must be patches per side (e.g. region=2) or [rows, cols] (e.g. region=[2, 4])"
            ) from None
    if not (1 <= height <= rows and 1 <= width <= cols):
        raise ConfigError(
            f"region={central!r} does not fit the {rows}x{cols} patch grid; use a block of at most {rows}x{cols} "
            f"patches (e.g. region=[{rows}, {cols}] for the whole grid)"
        )
    top, left = (rows - height) // 2, (cols - width) // 2
    return [r * cols + c for r in range(top, top + height) for c in range(left, left + width)]


def image_candidates(
    grid: int | Sequence[int] = GRID, region: int | Sequence[int] | None = None,
    candidates: Sequence[int] | None = None,
) -> list[int]:
    """The patches the variables are drawn from: ``candidates`` (patch indices) when given, else the central
    ``region`` block; ``region=None`` is the paper's central 6x6 on the 8x8 grid and the whole grid on any other."""
    rows, cols = patch_grid(grid)
    if candidates is not None:
        if region is not None:
            raise ConfigError("pass either region (a central block of patches) or candidates (patch indices), not both")
        if isinstance(candidates, (str, bytes)) or not isinstance(candidates, Sequence):
            raise ConfigError(f"candidates={candidates!r} must be a list of patch indices (row * cols + col)")
        chosen = [int(p) for p in candidates]
        if not chosen:
            raise ConfigError("candidates is empty; list the patch indices (row * cols + col) to draw variables from")
        _check_variables(chosen, rows * cols, f"the patches of a {rows}x{cols} grid")
        return chosen
    if region is None:
        region = REGION if (rows, cols) == (GRID, GRID) else (rows, cols)
    return central_patches((rows, cols), region)


def check_image_options(
    grid: int | Sequence[int] | None = None, region: int | Sequence[int] | None = None,
    candidates: Sequence[int] | None = None, n: int | None = None,
) -> list[int]:
    """Validate the image options of a sample set before any image is read; return the candidate patches.
    ``n`` (when given) must not exceed their number."""
    found = image_candidates(GRID if grid is None else grid, region, candidates)
    if n is not None and n > len(found):
        rows, cols = patch_grid(GRID if grid is None else grid)
        where = ("candidates" if candidates is not None
                 else "the default region" if region is None else f"region={region!r}")
        raise ConfigError(
            f"n={n} variables but only {len(found)} candidate patches on the {rows}x{cols} grid ({where}); "
            "use a smaller n, a larger region or more candidates"
        )
    return found


def build_image_sample_set(
    images: Tensor, labels: Sequence[int] | Tensor, baseline: Tensor | str = "zeros", *, n: int = 12, seed: int = 0,
    background: str = "keep", patches: Sequence[Sequence[int]] | None = None, grid: int | Sequence[int] = GRID,
    region: int | Sequence[int] | None = None, candidates: Sequence[int] | None = None,
    max_variables: int = DEFAULT_MAX_VARIABLES, meta: dict | None = None,
) -> AnnotatedSampleSet:
    """Images ``[sample, C, H, W]`` cut into a ``grid`` of equal patches; each variable is one patch.

    Default: the paper protocol (D.1), 224x224 images on an 8x8 grid of 28x28 patches, ``n = 12``
    per sample drawn with ``seed`` from the central 6x6. Any ``C x H x W`` works when the grid
    tiles it (``H % rows == W % cols == 0``), e.g. CIFAR-10 32x32 with ``grid=4`` (8x8 patches)
    or MNIST 1x28x28 with ``grid=4`` (7x7 patches). The variables are drawn from the central
    ``region`` block of patches (default: the central 6x6 on the 8x8 grid, the whole grid on any
    other) or from the listed ``candidates`` (patch indices ``row * cols + col``), or given as
    ``patches[sample] = [patch index, ...]``. ``baseline`` is a mean image ``[C, H, W]`` (see
    :func:`mean_image`) or ``"zeros"``. The other patches are kept (``background="keep"``, so
    ``x_N = x``) or set to the baseline (``background="baseline"``).
    """
    rows, cols = patch_grid(grid)
    images = torch.as_tensor(images)
    if images.dim() != 4:
        raise DataError(
            f"images have shape {tuple(images.shape)}, expected [sample, C, H, W] (add the channel axis to "
            "single-channel images, e.g. images.unsqueeze(1))"
        )
    height, width = images.shape[-2:]
    if height % rows or width % cols:
        raise DataError(
            f"images of {height}x{width} cannot be cut into a {rows}x{cols} grid of equal patches; pass a grid "
            f"whose sides divide the image (grid=[rows, cols] with {height} % rows == 0 and {width} % cols == 0) or "
            "resize the images (the paper protocol: torchvision.transforms.Resize((224, 224)) with the default grid=8)"
        )
    if background not in ("keep", "baseline"):
        raise ConfigError(f"background={background!r} must be 'keep' (default) or 'baseline'")
    n = check_num_variables(n, max_variables)
    shape = tuple(images.shape[1:])
    if isinstance(baseline, str):
        if baseline != "zeros":
            raise ConfigError(f"baseline={baseline!r}: pass a mean image tensor {list(shape)} or 'zeros'")
        baseline = torch.zeros(shape, dtype=images.dtype)
    if tuple(baseline.shape) != shape:
        raise DataError(f"baseline image has shape {tuple(baseline.shape)}, expected {list(shape)} (one image)")
    s = images.shape[0]
    if patches is None:
        pool = image_candidates((rows, cols), region, candidates)
        if n > len(pool):
            raise ConfigError(
                f"n={n} is more than the {len(pool)} candidate patches to choose from on the {rows}x{cols} grid; "
                "use a smaller n, a larger region or more candidates"
            )
        rng = random.Random(seed)
        patches = [sorted(rng.sample(pool, n)) for _ in range(s)]
    else:
        pool = None
    patches = [[int(p) for p in row] for row in patches]
    if len(patches) != s:
        raise ConfigError(f"patches has {len(patches)} rows for {s} images")
    fill = -1 if background == "keep" else -2
    unit = torch.full((s, rows * cols), fill, dtype=torch.long)
    for i, row in enumerate(patches):
        if len(row) != n:
            raise ConfigError(f"patches[{i}] has {len(row)} patches, expected n={n}")
        _check_variables(row, rows * cols, "image patches")
        for j, p in enumerate(row):
            unit[i, p] = j
    info: dict[str, Any] = {"seed": seed, "background": background, "patches": patches}
    if (rows, cols) != (GRID, GRID):  # the paper grid is left implicit: its files stay as they were
        info["grid"] = [rows, cols]
    if pool is not None and pool != central_patches():
        info["candidates"] = pool
    return AnnotatedSampleSet(
        "image", {"pixels": images}, torch.as_tensor(labels), unit, baseline.to(images.dtype), n,
        {**info, **(meta or {})},
    )


def mean_image(images, max_images: int = 1000) -> Tensor:
    """Mean image ``[C, H, W]`` over at most ``max_images`` images of an iterable of
    ``[C, H, W]`` tensors or ``(tensor, label)`` pairs (the paper's baseline, D.1)."""
    total, count = None, 0
    for item in images:
        img = item[0] if isinstance(item, (tuple, list)) else item
        img = torch.as_tensor(img, dtype=torch.float64)
        total = img.clone() if total is None else total + img
        count += 1
        if count >= max_images:
            break
    if count == 0:
        raise DataError("mean_image got no images; the training split is empty")
    return (total / count).to(torch.float32)


def split_words(sentence: str) -> list[str]:
    """The input variables of a sentence: its whitespace tokens (SPEC section 2)."""
    return sentence.split()


def build_text_sample_set(
    sentences: Sequence[str], labels: Sequence[int] | Tensor, tokenizer, *, n: int = 10,
    max_variables: int = DEFAULT_MAX_VARIABLES, meta: dict | None = None,
) -> AnnotatedSampleSet:
    """Sentences of exactly ``n`` whitespace words; each word is one variable (all its
    sub-word tokens); the baseline is the tokenizer's mask token; special tokens and
    padding are never masked. Works with any Hugging Face tokenizer."""
    n = check_num_variables(n, max_variables)
    if tokenizer.mask_token_id is None:
        raise ConfigError(f"tokenizer {type(tokenizer).__name__} has no mask token; word masking needs one")
    rows, word_rows = [], []
    for i, sentence in enumerate(sentences):
        words = split_words(sentence)
        if len(words) != n:
            raise DataError(
                f"sentence {i} has {len(words)} words, expected n={n}: {sentence!r}; "
                "choose sentences with exactly n whitespace-separated words"
            )
        ids, owner = _tokenize_words(tokenizer, words)
        rows.append((ids, owner))
        word_rows.append(words)
    length = max((len(ids) for ids, _ in rows), default=0)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    s = len(rows)
    input_ids = torch.full((s, length), pad, dtype=torch.long)
    attention = torch.zeros((s, length), dtype=torch.long)
    unit = torch.full((s, length), -1, dtype=torch.long)
    for i, (ids, owner) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        attention[i, : len(ids)] = 1
        unit[i, : len(ids)] = torch.tensor(owner)
    inputs = {"input_ids": input_ids, "attention_mask": attention}
    if "token_type_ids" in getattr(tokenizer, "model_input_names", []):
        inputs["token_type_ids"] = torch.zeros_like(input_ids)
    return AnnotatedSampleSet(
        "text", inputs, torch.as_tensor(labels), unit, torch.tensor(tokenizer.mask_token_id), n,
        {"words": word_rows, "tokenizer": getattr(tokenizer, "name_or_path", type(tokenizer).__name__), **(meta or {})},
    )


def _tokenize_words(tokenizer, words: list[str]) -> tuple[list[int], list[int]]:
    """Token ids of a sentence with special tokens, and ``owner[token]`` = word index or -1.

    Uses the tokenizer's own word alignment (``is_split_into_words`` + ``word_ids()``) where it
    has one (every fast / ``tokenizers``-backed tokenizer, all of them in transformers 5), else
    tokenises word by word and adds the special tokens with ``build_inputs_with_special_tokens``."""
    name = getattr(tokenizer, "name_or_path", type(tokenizer).__name__)
    owner = None
    try:
        enc = tokenizer(list(words), is_split_into_words=True, add_special_tokens=True)
        word_ids = enc.word_ids()
        full = [int(t) for t in enc["input_ids"]]
        owner = [-1 if w is None else int(w) for w in word_ids]
    except (ValueError, TypeError, AttributeError, NotImplementedError):
        owner = None
    if owner is None:
        word_ids = [tokenizer.encode(w, add_special_tokens=False) for w in words]
        flat = [t for ids in word_ids for t in ids]
        flat_owner = [j for j, ids in enumerate(word_ids) for _ in ids]
        full = tokenizer.build_inputs_with_special_tokens(flat)
        mask = tokenizer.get_special_tokens_mask(full, already_has_special_tokens=True)
        owner, k = [], 0
        for special in mask:
            if special:
                owner.append(-1)
            else:
                owner.append(flat_owner[k])
                k += 1
        if k != len(flat):
            raise DataError("tokenizer added or dropped tokens between words; cannot map words to tokens")
    present = set(owner)
    for j, w in enumerate(words):
        if j not in present:
            raise DataError(f"word {w!r} has no tokens under tokenizer {name}; choose another sentence")
    return full, owner


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


def build_sample_set(
    pool: TextPool | ImagePool, *, n: int | None = None, num_samples: int | None = None, per_class: int | None = None,
    seed: int = 0, baseline: str = "mean", background: str = "keep", mean_images: int = 1000,
    max_variables: int = DEFAULT_MAX_VARIABLES, grid: int | Sequence[int] | None = None,
    region: int | Sequence[int] | None = None, candidates: Sequence[int] | None = None,
) -> AnnotatedSampleSet:
    """Draw an annotated sample set from a pool with ``seed`` (SPEC section 2 defaults:
    text: 50 sentences of exactly ``n = 10`` words; images: 2 per class, ``n = 12`` patches,
    mean-image baseline over at most ``mean_images`` training images).

    Images only: ``grid`` (patches per side, or ``[rows, cols]``; default 8), ``region`` (the central
    block the variables are drawn from) or ``candidates`` (patch indices), as in
    :func:`build_image_sample_set`; they are checked before any image is read."""
    rng = random.Random(seed)
    if isinstance(pool, TextPool) and (grid, region, candidates) != (None, None, None):
        raise ConfigError(
            f"grid / region / candidates apply to image pools only, but the {pool.name} pool is text; drop them"
        )
    if isinstance(pool, TextPool):
        n = 10 if n is None else n
        check_num_variables(n, max_variables)
        num_samples = 50 if num_samples is None else num_samples
        eligible = [i for i, s in enumerate(pool.sentences) if len(split_words(s)) == n]
        if len(eligible) < num_samples:
            raise DataError(
                f"the {pool.name} pool has {len(eligible)} sentences of exactly n={n} words, fewer than "
                f"num_samples={num_samples}; lower num_samples or use another split"
            )
        chosen = sorted(rng.sample(eligible, num_samples))
        return build_text_sample_set(
            [pool.sentences[i] for i in chosen], [int(pool.labels[i]) for i in chosen], pool.tokenizer, n=n,
            max_variables=max_variables, meta={"sample_ids": chosen, "seed": seed, "pool": pool.name},
        )
    if isinstance(pool, ImagePool):
        n = 12 if n is None else n
        check_num_variables(n, max_variables)
        grid = GRID if grid is None else grid
        check_image_options(grid, region, candidates, n)
        by_class: dict[int, list[int]] = {}
        labels = [int(lbl) for _, lbl in _iter_labels(pool.images)]
        for i, lbl in enumerate(labels):
            by_class.setdefault(lbl, []).append(i)
        if num_samples is None:
            per_class = 2 if per_class is None else per_class
            chosen = []
            for c in sorted(by_class):
                ids = by_class[c]
                chosen += rng.sample(ids, min(per_class, len(ids)))
        else:
            if num_samples > len(labels):
                raise DataError(f"num_samples={num_samples} but the {pool.name} pool has {len(labels)} images")
            chosen = rng.sample(range(len(labels)), num_samples)
        chosen = sorted(chosen)
        images = torch.stack([torch.as_tensor(pool.images[i][0]) for i in chosen]).float()
        if baseline == "mean":
            if pool.train_images is None:
                raise ConfigError("baseline='mean' needs training images in the pool; use baseline='zeros'")
            base: Tensor | str = mean_image(pool.train_images, mean_images)
        elif baseline == "zeros":
            base = "zeros"
        else:
            raise ConfigError(f"baseline={baseline!r} must be 'mean' (paper) or 'zeros'")
        return build_image_sample_set(
            images, [labels[i] for i in chosen], base, n=n, seed=seed, background=background, grid=grid,
            region=region, candidates=candidates, max_variables=max_variables,
            meta={"sample_ids": chosen, "pool": pool.name, "baseline": baseline, "mean_images": mean_images},
        )
    raise ConfigError(f"cannot build a sample set from a {type(pool).__name__}; expected TextPool or ImagePool")


def _iter_labels(dataset):
    targets = getattr(dataset, "targets", None)
    if targets is not None:
        return [(None, t) for t in targets]
    return [(None, dataset[i][1]) for i in range(len(dataset))]
