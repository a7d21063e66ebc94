"""Drawing an annotated sample set from a held-out pool (:class:`TextPool` / :class:`ImagePool`) with a
seed (docs/method.md#the-annotated-sample-set): the paper's defaults for each kind of pool.
"""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Sequence

import torch
from torch import Tensor

from .errors import ConfigError, DataError
from .image_sample_set import GRID, build_image_sample_set, check_image_options, mean_image
from .sample_set import DEFAULT_MAX_VARIABLES, ImagePool, TextPool, check_num_variables
from .text_sample_set import build_text_sample_set, split_words

if TYPE_CHECKING:
    from .sample_set import AnnotatedSampleSet


def build_sample_set(
    pool: TextPool | ImagePool, *, n: int | None = None, num_samples: int | None = None, per_class: int | None = None,
    seed: int = 0, baseline: str = "mean", background: str = "keep", mean_images: int = 1000,
    max_variables: int = DEFAULT_MAX_VARIABLES, grid: int | Sequence[int] | None = None,
    region: int | Sequence[int] | None = None, candidates: Sequence[int] | None = None,
) -> AnnotatedSampleSet:
    """Draw an annotated sample set from a pool with ``seed`` (defaults as in docs/method.md#the-annotated-sample-set:
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


def _iter_labels(dataset: Any) -> list[tuple[None, Any]]:
    """``(None, label)`` per item: the dataset's ``targets`` when it has them, else each item's label."""
    targets = getattr(dataset, "targets", None)
    if targets is not None:
        return [(None, t) for t in targets]
    return [(None, dataset[i][1]) for i in range(len(dataset))]


__all__ = ["build_sample_set"]
