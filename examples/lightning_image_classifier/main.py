"""A small image classifier on the unified ``lightning`` package, analysed by ``InteractionCallback``.

Everything here is what any Lightning project has: its own LightningModule, its own DataModule
and a LightningCLI whose YAML (``config.yaml``) adds the callback under ``trainer.callbacks``.
The images are synthetic 28x28x1 strokes (no download) and are analysed at their native
resolution on a 4x4 grid of 7x7 patches. With the package installed (``pip install -e ".[dev]"``),
run from the repository root::

    python examples/lightning_image_classifier/main.py fit --config examples/lightning_image_classifier/config.yaml
    tensorboard --logdir runs/examples
"""
from __future__ import annotations

import math

import lightning as L
import torch
from lightning.pytorch.cli import LightningCLI
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from harsanyi_lightning.interactions import ImagePool  # the installed package (pip install -e ".[dev]")

CLASSES = ("horizontal", "vertical", "diagonal", "anti-diagonal")
SIZE = 28


def strokes(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``images[count, 1, 28, 28]`` (normalised) and ``labels[count]``: one straight stroke per image,
    its direction the label, at a random offset and width, with pixel noise (seeded)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, len(CLASSES), (count,), generator=g)
    offset = torch.randint(-6, 7, (count, 1, 1), generator=g).float()
    width = 0.8 + 0.8 * torch.rand(count, 1, 1, generator=g)
    yy, xx = torch.meshgrid(torch.arange(SIZE).float(), torch.arange(SIZE).float(), indexing="ij")
    centre = (SIZE - 1) / 2
    distance = torch.stack([
        (yy - centre).expand(count, -1, -1) - offset,                       # horizontal
        (xx - centre).expand(count, -1, -1) - offset,                       # vertical
        ((yy - xx).expand(count, -1, -1) - offset) / math.sqrt(2),          # diagonal
        ((yy + xx - 2 * centre).expand(count, -1, -1) - offset) / math.sqrt(2),  # anti-diagonal
    ], dim=1)[torch.arange(count), labels]
    images = (distance.abs() < width).float() + 0.25 * torch.randn(count, SIZE, SIZE, generator=g)
    return ((images - 0.15) / 0.4).unsqueeze(1), labels


class StrokesDataModule(L.LightningDataModule):
    """Seeded synthetic strokes; ``annotation_pool(split)`` lets the callback draw its sample set."""

    def __init__(self, num_train: int = 512, num_val: int = 128, batch_size: int = 64, seed: int = 0):
        super().__init__()
        self.batch_size = batch_size
        self.train_x, self.train_y = strokes(num_train, seed)
        self.val_x, self.val_y = strokes(num_val, seed + 1)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.train_x, self.train_y), batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.val_x, self.val_y), batch_size=self.batch_size)

    def annotation_pool(self, split: str) -> ImagePool:
        """Held-out images in the model's input form, and training images for the mean-image baseline."""
        x, y = (self.train_x, self.train_y) if split == "train" else (self.val_x, self.val_y)
        return ImagePool(
            images=[(x[i], int(y[i])) for i in range(len(y))],
            train_images=[(self.train_x[i], int(self.train_y[i])) for i in range(len(self.train_y))],
            num_classes=len(CLASSES), name=f"strokes-{split}",
        )


class StrokesClassifier(L.LightningModule):
    """``forward(images[batch, 1, 28, 28]) -> logits[batch, 4]``: two conv layers and a linear head."""

    def __init__(self, lr: float = 0.01, channels: int = 16):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(channels, channels, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(channels, len(CLASSES)),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train/loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val/loss", nn.functional.cross_entropy(logits, y))
        self.log("val/acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def main(args: list[str] | None = None) -> LightningCLI:
    return LightningCLI(StrokesClassifier, StrokesDataModule, args=args, save_config_kwargs={"overwrite": True})


if __name__ == "__main__":
    main()
