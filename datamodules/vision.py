"""The generic image data module and its dataset wrappers (docs/training.md#pointing-a-data-set-at-a-local-folder).

Batches are ``(pixels[batch, 3, 224, 224], labels[batch])``: every image is
resized to 224x224 (docs/method.md#the-annotated-sample-set) and normalised with the mean/std the
backbone was pre-trained with (ImageNet statistics; 0.5/0.5 for the timm ViTs). The data sets
themselves are :mod:`~harsanyi_lightning.datamodules.cifar10`,
:mod:`~harsanyi_lightning.datamodules.cub200`, :mod:`~harsanyi_lightning.datamodules.stanford_cars`
and, for tests, :mod:`~harsanyi_lightning.datamodules.tiny_images`.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch
from torch.utils.data import Dataset

from harsanyi_lightning.interactions.errors import DataError
from harsanyi_lightning.interactions.sample_set import ImagePool

from .base import HarsanyiDataModule, announce_data_dir, default_data_dir

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["IMAGE_SIZE", "ImageDataModule", "ImageFileDataset", "Transformed"]

IMAGE_SIZE = 224


class Transformed(Dataset):
    """``(transform(image), label)`` over a dataset of ``(image, label)``; keeps ``targets``."""

    def __init__(self, dataset: Dataset, transform: Callable[[Any], Tensor]):
        self.dataset = dataset
        self.transform = transform

    @property
    def targets(self) -> list[int]:
        t = getattr(self.dataset, "targets", None)
        if t is None:
            t = [int(self.dataset[i][1]) for i in range(len(self.dataset))]
        return [int(x) for x in t]

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        image, label = self.dataset[i]
        return self.transform(image), int(label)


class ImageFileDataset(Dataset):
    """``(PIL RGB image, label)`` from ``items[i] = (path, label)``."""

    def __init__(self, items: Sequence[tuple[Path, int]]):
        self.items = list(items)
        self.targets = [int(y) for _, y in self.items]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        from PIL import Image

        path, label = self.items[i]
        try:
            with Image.open(path) as img:
                return img.convert("RGB"), label
        except OSError as err:
            raise DataError(f"cannot read image {path}: {err}") from None


class ImageDataModule(HarsanyiDataModule):
    """Base of the image data modules.

    Args:
        data_dir: folder with the data set (default: ``$HARSANYI_DATA/<name>`` when ``HARSANYI_DATA`` is set,
            else ``../shared/data/<name>`` beside the repository when present, else
            ``~/.cache/harsanyi_lightning/data/<name>``, where downloads go). Setup prints the folder used, once.
        backbone: the model whose normalisation to use (linked from the model by the CLI).
        augment: random horizontal flips on the training split.
        download: fetch the data set when it is missing and a download exists.
    """

    name = "images"
    #: whether the images are read from ``data_dir`` (generated test images are not: no folder to name)
    from_files = True
    #: "stretch": Resize((224, 224)); "crop": Resize(256) then CenterCrop(224)
    resize_mode = "crop"

    def __init__(self, data_dir: str | None = None, backbone: str | None = None, batch_size: int = 32,
                 eval_batch_size: int | None = None, num_workers: int = 0, augment: bool = True,
                 download: bool = True):
        super().__init__(backbone, batch_size, eval_batch_size, num_workers)
        self.data_dir = Path(data_dir).expanduser() if data_dir else default_data_dir(self.name)
        self.augment = augment
        self.download = download
        self.raw: dict[str, Dataset] = {}

    def transform(self, train: bool) -> Callable[[Any], Tensor]:
        """PIL image or tensor ``[3, H, W]`` -> normalised ``pixels[3, 224, 224]``."""
        from torchvision.transforms import v2 as T

        from harsanyi_lightning.lightning_modules.vision_backbones import image_normalization

        mean, std = image_normalization(self.resolve_backbone_name())
        if self.resize_mode == "stretch":
            resize = [T.Resize((IMAGE_SIZE, IMAGE_SIZE), antialias=True)]
        else:
            resize = [T.Resize(256, antialias=True), T.CenterCrop(IMAGE_SIZE)]
        steps = [T.ToImage(), *resize]
        if train and self.augment:
            steps.append(T.RandomHorizontalFlip())
        steps += [T.ToDtype(torch.float32, scale=True), T.Normalize(mean, std), T.ToPureTensor()]
        return T.Compose(steps)

    def raw_splits(self, stage: str | None) -> dict[str, Dataset]:  # pragma: no cover - overridden
        """``split -> dataset of (PIL image or tensor, label)`` with a ``targets`` list."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.from_files:
            announce_data_dir(self.name, self.data_dir)
        for split, ds in self.raw_splits(stage).items():
            self.raw.setdefault(split, ds)
        for split, ds in self.raw.items():
            if split not in self.datasets:
                self.datasets[split] = Transformed(ds, self.transform(train=split == "train"))

    def annotation_pool(self, split: str = "val") -> ImagePool:
        """Held-out images of ``split`` and the training images (both without augmentation), for
        drawing samples and the mean-image baseline (docs/method.md#the-annotated-sample-set)."""
        self._dataset(split)
        if "train" not in self.raw:
            self.setup("fit")
        eval_t = self.transform(train=False)
        return ImagePool(Transformed(self.raw[split], eval_t), Transformed(self.raw["train"], eval_t),
                         self.num_classes, name=f"{self.name}/{split}")

