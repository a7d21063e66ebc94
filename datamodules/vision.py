"""Image data modules: CIFAR-10, CUB-200-2011, Stanford Cars, and a tiny generated set for tests.

Batches are ``(pixels[batch, 3, 224, 224], labels[batch])``: every image is
resized to 224x224 (SPEC section 2) and normalised with the mean/std the
backbone was pre-trained with (ImageNet statistics; 0.5/0.5 for the timm ViTs).
CIFAR-10, CUB-200-2011 and Stanford Cars have no separate validation split:
``val`` is the official test split (the held-out data the paper evaluates and
draws its samples from), and ``test`` is the same split.
"""
from __future__ import annotations

import functools
import random
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from harsanyi_lightning.interactions.errors import ConfigError, DataError, OfflineError
from harsanyi_lightning.interactions.sample_set import ImagePool

from .base import HarsanyiDataModule, default_data_dir, download_missing

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
        data_dir: folder with the data set (default: ``../shared/data/<name>`` when present, else
            ``~/.cache/harsanyi_lightning/data/<name>``, where downloads go).
        backbone: the model whose normalisation to use (linked from the model by the CLI).
        augment: random horizontal flips on the training split.
        download: fetch the data set when it is missing and a download exists.
    """

    name = "images"
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

        from harsanyi_lightning.lightning_modules.backbones import image_normalization

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
        for split, ds in self.raw_splits(stage).items():
            self.raw.setdefault(split, ds)
        for split, ds in self.raw.items():
            if split not in self.datasets:
                self.datasets[split] = Transformed(ds, self.transform(train=split == "train"))

    def annotation_pool(self, split: str = "val") -> ImagePool:
        """Held-out images of ``split`` and the training images (both without augmentation), for
        drawing samples and the mean-image baseline (SPEC section 2)."""
        self._dataset(split)
        if "train" not in self.raw:
            self.setup("fit")
        eval_t = self.transform(train=False)
        return ImagePool(Transformed(self.raw[split], eval_t), Transformed(self.raw["train"], eval_t),
                         self.num_classes, name=f"{self.name}/{split}")


# ----------------------------------------------------------------- tiny synthetic images


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
    def __init__(self, images: list[Tensor], labels: list[int]):
        self.images, self.targets = images, [int(x) for x in labels]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.images[i], self.targets[i]


class TinyImageDataModule(ImageDataModule):
    """Tests only: a few dozen generated 224x224 images of coloured shapes (square, disc, triangle)."""

    name = "tiny-images"
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


# ----------------------------------------------------------------- CIFAR-10


class CIFAR10DataModule(ImageDataModule):
    """CIFAR-10 via torchvision (``<data_dir>/cifar-10-batches-py``), resized to 224x224."""

    name = "cifar10"
    resize_mode = "stretch"
    URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"

    @property
    def num_classes(self) -> int:
        return 10

    def _load(self, train: bool):
        from torchvision.datasets import CIFAR10

        return CIFAR10(str(self.data_dir), train=train, download=False)

    def _present(self) -> bool:
        try:
            self._load(train=False)
            return True
        except RuntimeError:
            return False

    def _missing_message(self) -> str:
        return (
            f"CIFAR-10 not found in {self.data_dir}: expected cifar-10-batches-py/ with data_batch_1..5, test_batch "
            f"and batches.meta (the python version from {self.URL}). Pass data.init_args.data_dir=<folder holding "
            "cifar-10-batches-py>"
        )

    def prepare_data(self) -> None:
        if self._present():
            return
        if not self.download:
            raise DataError(self._missing_message())
        from torchvision.datasets import CIFAR10

        try:
            CIFAR10(str(self.data_dir), train=True, download=True)
        except OSError as err:
            raise OfflineError(f"{self._missing_message()}; the download failed ({err})") from None

    def raw_splits(self, stage: str | None) -> dict[str, Dataset]:
        if not self._present():
            raise DataError(self._missing_message())
        out = {}
        if "train" not in self.raw and stage in ("fit", None):
            out["train"] = self._load(train=True)
        if "val" not in self.raw:
            out["val"] = self._load(train=False)
        if "test" not in self.raw and stage in ("test", None):
            out["test"] = out.get("val") or self.raw.get("val") or self._load(train=False)
        return out


# ----------------------------------------------------------------- CUB-200-2011


def _read_pairs(path: Path, what: str) -> dict[int, str]:
    """``id -> value`` from a CUB index file of ``<id> <value>`` lines; errors name file and line."""
    out: dict[int, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text (byte {err.start}: {err.reason}); save the file as UTF-8") from None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not parts[0].isdigit():
            raise DataError(f"{path}:{lineno}: expected '<image id> <{what}>', got {line[:80]!r}")
        out[int(parts[0])] = parts[1].strip()
    if not out:
        raise DataError(f"{path} is empty")
    return out


class CUB200DataModule(ImageDataModule):
    """CUB-200-2011 in its official layout: ``CUB_200_2011/{images.txt, train_test_split.txt,
    image_class_labels.txt, images/}`` under ``data_dir`` (or ``data_dir`` itself is that folder)."""

    name = "cub200"
    URL = "https://data.caltech.edu/records/65de6-vhp40/files/CUB_200_2011.tgz?download=1"
    FILES = ("images.txt", "train_test_split.txt", "image_class_labels.txt", "images")

    @property
    def num_classes(self) -> int:
        return 200

    def root(self) -> Path:
        inner = self.data_dir / "CUB_200_2011"
        return inner if inner.is_dir() or not (self.data_dir / "images.txt").exists() else self.data_dir

    def _missing(self) -> list[str]:
        return [f for f in self.FILES if not (self.root() / f).exists()]

    def _missing_message(self, missing: Sequence[str]) -> str:
        return (
            f"CUB-200-2011 not found: {', '.join(missing)} missing in {self.root()} (official CUB_200_2011 layout: "
            "images.txt, train_test_split.txt, image_class_labels.txt, images/). Pass data.init_args.data_dir="
            "<folder holding CUB_200_2011>"
        )

    def prepare_data(self) -> None:
        missing = self._missing()
        if not missing:
            return
        download_missing(self._missing_message(missing), self.download, self.URL, self.data_dir, "CUB-200-2011",
                         timeout=60)

    def raw_splits(self, stage: str | None) -> dict[str, Dataset]:
        missing = self._missing()
        if missing:
            raise DataError(self._missing_message(missing))
        root = self.root()
        paths = _read_pairs(root / "images.txt", "relative image path")
        is_train = _read_pairs(root / "train_test_split.txt", "1 for train, 0 for test")
        classes = _read_pairs(root / "image_class_labels.txt", "class id 1..200")
        train, test = [], []
        for image_id, rel in paths.items():
            for table, fname in ((is_train, "train_test_split.txt"), (classes, "image_class_labels.txt")):
                if image_id not in table:
                    raise DataError(f"{root / fname} has no line for image id {image_id} ({rel})")
            label = int(classes[image_id]) - 1 if classes[image_id].isdigit() else -1
            if not 0 <= label < 200:
                raise DataError(f"{root / 'image_class_labels.txt'}: image {image_id} has class "
                                f"{classes[image_id]!r}, expected 1..200")
            path = root / "images" / rel
            if not path.is_file():
                raise DataError(f"image file {path} (listed in images.txt, id {image_id}) is missing")
            (train if is_train[image_id] == "1" else test).append((path, label))
        if not train or not test:
            raise DataError(f"{root / 'train_test_split.txt'} puts no image in the {'train' if not train else 'test'} split")
        held_out = ImageFileDataset(test)
        return {"train": ImageFileDataset(train), "val": held_out, "test": held_out}


# ----------------------------------------------------------------- Stanford Cars


class StanfordCarsDataModule(ImageDataModule):
    """Stanford Cars in torchvision's layout: ``<data_dir>/stanford_cars/{devkit/cars_meta.mat,
    devkit/cars_train_annos.mat, cars_test_annos_withlabels.mat, cars_train/, cars_test/}``
    (``data_dir`` may also be the ``stanford_cars`` folder itself). The original download URL is
    gone, so the files must be fetched by hand (torchvision cannot download them either)."""

    name = "stanford_cars"
    FILES = ("devkit/cars_meta.mat", "devkit/cars_train_annos.mat", "cars_test_annos_withlabels.mat",
             "cars_train", "cars_test")

    @property
    def num_classes(self) -> int:
        return 196

    def base(self) -> Path:
        return self.data_dir if self.data_dir.name == "stanford_cars" else self.data_dir / "stanford_cars"

    def _missing(self) -> list[str]:
        return [f for f in self.FILES if not (self.base() / f).exists()]

    def _missing_message(self, missing: Sequence[str]) -> str:
        return (
            f"Stanford Cars not found: {', '.join(missing)} missing in {self.base()} (torchvision StanfordCars "
            "layout; its original download URL no longer works, so fetch the files by hand, e.g. from a mirror). "
            "Pass data.init_args.data_dir=<folder holding stanford_cars>"
        )

    def prepare_data(self) -> None:
        missing = self._missing()
        if missing:
            raise DataError(self._missing_message(missing))

    def raw_splits(self, stage: str | None) -> dict[str, Dataset]:
        missing = self._missing()
        if missing:
            raise DataError(self._missing_message(missing))
        from torchvision.datasets import StanfordCars

        root = str(self.base().parent)
        out = {}
        for split, tv_split in (("train", "train"), ("val", "test")):
            if split not in self.raw:
                ds = StanfordCars(root, split=tv_split, download=False)
                ds.targets = [int(t) for _, t in ds._samples]
                out[split] = ds
        out["test"] = out.get("val") or self.raw["val"]
        return out
