"""Tests only: a tiny generated image set of coloured shapes (square, disc, triangle) on noise."""
from __future__ import annotations

import functools
import random
from typing import TYPE_CHECKING

import torch
from torch.utils.data import Dataset

from harsanyi_lightning.interactions.errors import ConfigError

from .vision import IMAGE_SIZE, ImageDataModule, Transformed

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["TINY_CELL", "TensorPairs", "TinyImageDataModule", "tiny_images"]

TINY_CELL = 4  # tiny images are drawn on a 56x56 grid of 4x4-pixel cells (cheap), then upsampled


@functools.lru_cache(maxsize=1)
def _grid(size: int) -> tuple[Tensor, Tensor]:
    return torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                          indexing="ij")


def _shape_mask(kind: int, cy: float, cx: float, r: float, size: int) -> Tensor:
    y, x = _grid(size)
    if kind == 0:  # square
        return ((y - cy).abs() <= r) & ((x - cx).abs() <= r)
    if kind == 1:  # disc
        return (y - cy) ** 2 + (x - cx) ** 2 <= r * r
    # triangle pointing up
    return (y <= cy + r) & (y >= cy - r) & ((x - cx).abs() <= (y - (cy - r)) / 2)


def tiny_images(count: int, num_classes: int, seed: int) -> tuple[list[Tensor], list[int]]:
    """``count`` images ``[3, 224, 224]`` in [0, 1]: a coloured shape (class = shape and colour) on noise."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    colours = [(0.9, 0.1, 0.1), (0.1, 0.8, 0.2), (0.1, 0.2, 0.9), (0.9, 0.8, 0.1), (0.7, 0.1, 0.8)]
    size = IMAGE_SIZE // TINY_CELL
    images, labels = [], []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: thread start-up would cost more than the work
    try:
        for i in range(count):
            label = i % num_classes
            img = torch.rand(3, size, size, generator=gen) * 0.3 + 0.35
            r = rng.uniform(size / 8, size / 4)
            cy, cx = rng.uniform(r, size - r), rng.uniform(r, size - r)
            mask = _shape_mask(label % 3, cy, cx, r, size)
            colour = torch.tensor(colours[label % len(colours)]).view(3, 1, 1)
            img = torch.where(mask, colour.expand_as(img), img)
            images.append(img.repeat_interleave(TINY_CELL, 1).repeat_interleave(TINY_CELL, 2).contiguous())
            labels.append(label)
    finally:
        torch.set_num_threads(threads)
    return images, labels


class TensorPairs(Dataset):
    """``(image, label)`` pairs held in memory; ``targets`` holds the labels."""

    def __init__(self, images: list[Tensor], labels: list[int]):
        self.images, self.targets = images, [int(x) for x in labels]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.images[i], self.targets[i]


class TinyImageDataModule(ImageDataModule):
    """Tests only: a few dozen generated 224x224 images of coloured shapes (square, disc, triangle).

    Args:
        num_classes: the classes (2 to 5), each a shape and a colour.
        num_train: generated training images.
        num_val: generated validation images (the sample set is drawn from them).
        num_test: generated test images.
        seed: the seed of the generated images.
    """

    name = "tiny-images"
    from_files = False
    resize_mode = "stretch"

    def __init__(self, backbone: str | None = None, num_classes: int = 3, num_train: int = 24, num_val: int = 12,
                 num_test: int = 12, seed: int = 0, batch_size: int = 8, eval_batch_size: int | None = None,
                 num_workers: int = 0):
        super().__init__(None, backbone, batch_size, eval_batch_size, num_workers, augment=False, download=False)
        if not 2 <= num_classes <= 5:
            raise ConfigError(f"num_classes={num_classes} must be in 2..5 for the tiny image set")
        self._num_classes = num_classes
        self.sizes = {"train": num_train, "val": num_val, "test": num_test}
        self.seed = seed

    @property
    def num_classes(self) -> int:
        return self._num_classes

    def raw_splits(self, stage: str | None) -> dict[str, Dataset]:
        return {
            split: TensorPairs(*tiny_images(n, self._num_classes, self.seed * 1000 + i))
            for i, (split, n) in enumerate(self.sizes.items()) if split not in self.raw
        }

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        for split, ds in self.datasets.items():  # no augmentation: transform each image once
            if isinstance(ds, Transformed):
                self.datasets[split] = TensorPairs([ds[i][0] for i in range(len(ds))], ds.targets)

