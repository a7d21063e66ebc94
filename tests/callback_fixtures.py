"""A tiny image task for the InteractionCallback tests (no code of the project's own modules).

``ToyImageDataModule`` makes seeded 224x224 images whose label is the sign of the
mean of a few central patches; ``ToyModule`` is a small classifier with a frozen
submodule kept in eval mode (like a probe's backbone). Run as a script, it fits
once, with weights that drift each epoch independently of the data (``--devices 2``
gives a 2-process CPU DDP run with ``strategy="ddp"``), and writes the interactions
into ``--out``.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from harsanyi_lightning.interactions import ImagePool


def toy_images(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(count, 3, 224, 224, generator=g) * 0.5
    signal = x[:, :, 84:140, 84:140].mean(dim=(1, 2, 3))
    return x, (signal > 0).long()


class ToyImageDataModule(pl.LightningDataModule):
    """Seeded toy images; ``annotation_pool(split)`` returns an :class:`harsanyi_lightning.interactions.ImagePool`."""

    def __init__(self, num_train: int = 16, num_val: int = 8, batch_size: int = 8, seed: int = 0):
        super().__init__()
        self.num_train, self.num_val, self.batch_size, self.seed = num_train, num_val, batch_size, seed
        self.train_x, self.train_y = toy_images(num_train, seed)
        self.val_x, self.val_y = toy_images(num_val, seed + 1)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.train_x, self.train_y), batch_size=self.batch_size, shuffle=False)

    def annotation_pool(self, split: str) -> ImagePool:
        x, y = (self.train_x, self.train_y) if split == "train" else (self.val_x, self.val_y)
        pairs = [(x[i], int(y[i])) for i in range(len(y))]
        train = [(self.train_x[i], int(self.train_y[i])) for i in range(len(self.train_y))]
        return ImagePool(images=pairs, train_images=train, num_classes=2, name=f"toy-{split}")


class ToyModule(pl.LightningModule):
    """``forward(pixels[batch, 3, 224, 224]) -> logits[batch, 2]``; ``frozen`` stays in eval mode."""

    backbone = "toy-cnn"

    def __init__(self, lr: float = 0.05, regime: str = "finetune", init_seed: int = 0, drift: float = 0.0):
        super().__init__()
        self.lr, self.regime, self.drift = lr, regime, drift
        torch.manual_seed(init_seed)
        self.pool = nn.AvgPool2d(28)  # 8x8 grid: one number per patch and channel
        self.frozen = nn.Sequential(nn.Flatten(), nn.Linear(192, 192), nn.Dropout(0.5))
        for p in self.frozen.parameters():
            p.requires_grad_(False)
        self.frozen.eval()
        self.head = nn.Sequential(nn.Linear(192, 32), nn.Tanh(), nn.Dropout(0.0), nn.Linear(32, 2))
        self.train_steps = 0
        self.eval_forward_state: list[tuple] = []  # (matmul precision, autocast on) seen in eval-mode forwards

    def train(self, mode: bool = True) -> "ToyModule":
        super().train(mode)
        self.frozen.eval()  # a frozen backbone is never put in train mode
        return self

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        if not self.training:
            self.eval_forward_state.append(
                (torch.get_float32_matmul_precision(), torch.is_autocast_enabled("cpu"), self.frozen.training)
            )
        return self.head(self.frozen(self.pool(pixels) * 4.0) + self.pool(pixels).flatten(1))

    def on_train_epoch_start(self) -> None:
        """With ``drift``: move the head's weights by a fixed, data-independent step each epoch."""
        if self.drift:
            with torch.no_grad():
                for p in self.head.parameters():
                    p.add_(self.drift * torch.cos(torch.arange(p.numel(), dtype=p.dtype).view_as(p) + self.current_epoch))

    def training_step(self, batch, batch_idx):
        x, y = batch
        self.train_steps += 1
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train/loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)


class NetOnlyTabularClassifier(pl.LightningModule):
    """A module of 'another project' that keeps its network in ``self.net`` and defines no ``forward``."""

    def __init__(self, features: int = 6, num_classes: int = 3, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Linear(features, 16), nn.ReLU(), nn.Linear(16, num_classes))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train/loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


def tabular_task(folder: Path, seed: int = 0) -> tuple[DataLoader, Path]:
    """64 seeded rows of 6 features (3 classes) and a saved 4-sample feature sample set (6 variables):
    the training loader and the annotation file's path."""
    from harsanyi_lightning.interactions import build_feature_sample_set

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 6, generator=g)
    y = (x[:, 0] * x[:, 1] > 0).long() + (x[:, 2] > 1).long()
    path = Path(folder) / "annotation.pt"
    build_feature_sample_set(x[:4], y[:4], baseline=x.mean(0)).save(path)
    return DataLoader(TensorDataset(x, y), batch_size=16), path


def make_trainer(root: Path, *, max_epochs: int, callbacks: list, **kwargs) -> pl.Trainer:
    """A quiet CPU trainer logging to TensorBoard under ``root``."""
    from pytorch_lightning.loggers import TensorBoardLogger

    options = dict(
        accelerator="cpu", devices=1, max_epochs=max_epochs, logger=TensorBoardLogger(str(root), name="logs"),
        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False, num_sanity_val_steps=0,
        log_every_n_steps=1,
    )
    options.update(kwargs)
    return pl.Trainer(default_root_dir=str(root), callbacks=callbacks, **options)


def main(argv: list[str] | None = None) -> None:
    """Fit the toy task once with the callback (used by the DDP test)."""
    from harsanyi_lightning.callbacks import InteractionCallback

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--num-samples", type=int, default=5)
    parser.add_argument("--and-or", default=None, choices=["lp", "gradient"], help="also AND-OR with this solver")
    args = parser.parse_args(argv)
    pl.seed_everything(0, verbose=False)
    out = Path(args.out)
    cb = InteractionCallback(n=4, num_samples=args.num_samples, output_dir=str(out / "interactions"), progress=False,
                             figures=False, batch_size=7, and_or=args.and_or is not None,
                             and_or_solver=args.and_or or "lp")
    strategy = "ddp" if args.devices > 1 else "auto"
    trainer = make_trainer(out, max_epochs=args.epochs, callbacks=[cb], devices=args.devices, strategy=strategy)
    dm = ToyImageDataModule(num_val=8, batch_size=8 // args.devices)  # same global batch
    # lr=0 plus a data-independent drift: the weights change every epoch but not with how data is sharded
    trainer.fit(ToyModule(lr=0.0, drift=0.05), datamodule=dm)
    if trainer.is_global_zero:
        (out / f"done_rank0_world{trainer.world_size}").write_text(str(sorted(cb.history)))


if __name__ == "__main__":
    os.environ.setdefault("PL_DISABLE_FORK", "1")
    main()
