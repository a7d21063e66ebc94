"""Stanford Cars (docs/training.md#pointing-a-data-set-at-a-local-folder).

Stanford Cars has no separate validation split: ``val`` is the official test split (the held-out
data the paper evaluates and draws its samples from), and ``test`` is the same split.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from harsanyi_lightning.interactions.errors import DataError

from .base import data_dir_fix
from .vision import ImageDataModule

if TYPE_CHECKING:
    from pathlib import Path

    from torch.utils.data import Dataset

__all__ = ["StanfordCarsDataModule"]


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
            + data_dir_fix(self.name, "folder holding stanford_cars")
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
