"""CUB-200-2011 (docs/training.md#pointing-a-data-set-at-a-local-folder).

CUB-200-2011 has no separate validation split: ``val`` is the official test split (the held-out
data the paper evaluates and draws its samples from), and ``test`` is the same split.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from harsanyi_lightning.interactions.errors import DataError

from .base import data_dir_fix, download_missing
from .vision import ImageDataModule, ImageFileDataset

if TYPE_CHECKING:
    from pathlib import Path

    from torch.utils.data import Dataset

__all__ = ["CUB200DataModule"]


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
            "images.txt, train_test_split.txt, image_class_labels.txt, images/). "
            + data_dir_fix(self.name, "folder holding CUB_200_2011")
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
