"""CIFAR-10 (docs/training.md#pointing-a-data-set-at-a-local-folder).

CIFAR-10 has no separate validation split: ``val`` is the official test split (the held-out data
the paper evaluates and draws its samples from), and ``test`` is the same split.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from harsanyi_lightning.interactions.errors import DataError, OfflineError

from .base import data_dir_fix
from .vision import ImageDataModule

if TYPE_CHECKING:
    from torch.utils.data import Dataset

__all__ = ["CIFAR10DataModule"]


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
            f"and batches.meta (the python version from {self.URL}). "
            + data_dir_fix(self.name, "folder holding cifar-10-batches-py")
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
