"""LightningDataModules with one interface: ``num_classes``, train/val/test loaders of ``(inputs, labels)``,
and ``annotation_pool(split)`` for the interaction sample set (SPEC section 2)."""
from .base import HarsanyiDataModule, default_data_dir
from .text import SST2DataModule, TextDataModule, TinyTextDataModule, read_glue_tsv
from .vision import (
    CIFAR10DataModule,
    CUB200DataModule,
    ImageDataModule,
    StanfordCarsDataModule,
    TinyImageDataModule,
)

__all__ = [name for name in dir() if not name.startswith("_")]
