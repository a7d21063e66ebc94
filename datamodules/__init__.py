"""LightningDataModules with one interface: ``num_classes``, train/val/test loaders of ``(inputs, labels)``,
and ``annotation_pool(split)`` for the interaction sample set (docs/method.md#the-annotated-sample-set)."""
from .base import HarsanyiDataModule, default_data_dir
from .cifar10 import CIFAR10DataModule
from .cub200 import CUB200DataModule
from .stanford_cars import StanfordCarsDataModule
from .text import SST2DataModule, TextDataModule, TinyTextDataModule, read_glue_tsv
from .tiny_images import TinyImageDataModule
from .vision import ImageDataModule

__all__ = [
    "CIFAR10DataModule",
    "CUB200DataModule",
    "HarsanyiDataModule",
    "ImageDataModule",
    "SST2DataModule",
    "StanfordCarsDataModule",
    "TextDataModule",
    "TinyImageDataModule",
    "TinyTextDataModule",
    "default_data_dir",
    "read_glue_tsv",
]
