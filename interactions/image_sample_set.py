"""Image sample sets: images ``pixels[sample, C, H, W]`` cut into a grid of equal patches, one
variable per patch (docs/method.md#the-annotated-sample-set).

The paper protocol (224x224 images, an 8x8 grid of 28x28 patches, n = 12 drawn
from the central 6x6) is the default of :func:`build_image_sample_set`; any ``C x H x W``
and any grid whose patches tile the image are options (``grid``, ``region``,
``candidates``). Patch indices are row-major on the ``rows x cols`` grid:
``patch = row * cols + col``. ``meta["grid"]`` records every grid but the paper's 8x8,
so the paper protocol's annotation files are exactly what they were before grids
became an option (same content, same hash).
"""
from __future__ import annotations

import random
from typing import Any, Iterable, Sequence

import torch
from torch import Tensor

from .errors import ConfigError, DataError
from .sample_set import DEFAULT_MAX_VARIABLES, AnnotatedSampleSet, check_num_variables, check_variable_indices

#: the paper protocol: 224x224 images, an 8x8 grid of 28x28 patches, variables from the central 6x6
IMAGE_SIZE = 224
GRID = 8
PATCH = IMAGE_SIZE // GRID  # 28
REGION = 6


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
        check_variable_indices(chosen, rows * cols, f"the patches of a {rows}x{cols} grid")
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
        check_variable_indices(row, rows * cols, "image patches")
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


def mean_image(images: Iterable[Any], max_images: int = 1000) -> Tensor:
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


__all__ = [
    "GRID",
    "IMAGE_SIZE",
    "PATCH",
    "REGION",
    "build_image_sample_set",
    "central_patches",
    "check_image_options",
    "image_candidates",
    "mean_image",
    "patch_grid",
]
