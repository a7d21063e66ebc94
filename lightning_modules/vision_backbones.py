"""Image backbones from ``torchvision`` and ``timm``, and the normalisation each was pre-trained with
(docs/training.md).

Pre-trained weights come from the library's cache or download, or from a local file
(``weights=``); weights that are neither cached nor downloadable raise :class:`OfflineError`
naming the file and how to pass a local copy. Every network maps ``pixels[batch, 3, 224, 224]``
to ``logits[batch, class]`` (or ``features[batch, dim]`` once its head is stripped).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from harsanyi_lightning.interactions.errors import ConfigError, OfflineError

from .backbone_registry import IMAGE, resolve_backbone

if TYPE_CHECKING:
    from torch import Tensor, nn

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "TORCHVISION_WEIGHTS",
    "build_torchvision_scratch",
    "create_timm",
    "image_normalization",
    "load_torchvision_pretrained",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: torchvision model name -> its ImageNet-1k weights enum
TORCHVISION_WEIGHTS = {"vgg16": "VGG16_Weights.IMAGENET1K_V1", "resnet50": "ResNet50_Weights.IMAGENET1K_V1"}


def image_normalization(name: str | None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(mean, std)`` the backbone was pre-trained with (timm ViTs: 0.5/0.5; others: ImageNet)."""
    if name is None:
        return IMAGENET_MEAN, IMAGENET_STD
    info = resolve_backbone(name)
    if info.modality != IMAGE:
        raise ConfigError(f"backbone {name!r} is a text model; an image data set needs an image backbone")
    if info.source == "timm":
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(info.target)
        if cfg is not None and cfg.mean and cfg.std:
            return tuple(cfg.mean), tuple(cfg.std)
    return IMAGENET_MEAN, IMAGENET_STD


def _load_local_state(path: str) -> dict[str, Tensor]:
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"weights={path!r}: no such file; pass the path of a saved state_dict (.pth/.pt/.safetensors)")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(p))
    state = torch.load(str(p), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return state


def load_torchvision_pretrained(target: str, weights: str | None) -> nn.Module:
    """torchvision ``target`` with its ImageNet-1k weights (or the state dict in the file ``weights``)."""
    import torchvision

    model = torchvision.models.get_model(target, weights=None)
    if weights is not None:
        model.load_state_dict(_load_local_state(weights))
        return model
    enum = torchvision.models.get_weight(TORCHVISION_WEIGHTS[target])
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(enum.url)
    try:
        state = enum.get_state_dict(progress=False, check_hash=False)
    except OSError as err:  # URLError, HTTPError, socket errors
        raise OfflineError(
            f"torchvision {target} ImageNet-1k weights are not cached at {cached} and could not be downloaded "
            f"from {enum.url} ({err}). Put that file there, or pass a local copy: model.init_args.weights=/path/to/"
            f"{os.path.basename(enum.url)}"
        ) from None
    model.load_state_dict(state)
    return model


def build_torchvision_scratch(target: str, num_classes: int) -> nn.Module:
    """torchvision ``target`` with ``num_classes`` outputs, randomly initialised, nothing loaded."""
    import torchvision

    return torchvision.models.get_model(target, weights=None, num_classes=num_classes)


def create_timm(target: str, pretrained: bool, num_classes: int, weights: str | None) -> nn.Module:
    """``timm.create_model(target)`` with ``num_classes`` outputs (0: the pre-logits features); pre-trained
    weights from timm's cache or download, or from the checkpoint file ``weights``."""
    import timm

    if not pretrained:
        return timm.create_model(target, pretrained=False, num_classes=num_classes)
    kwargs: dict[str, Any] = {}
    if weights is not None:
        if not Path(weights).expanduser().is_file():
            raise ConfigError(f"weights={weights!r}: no such file; pass the path of the timm checkpoint file")
        kwargs["pretrained_cfg_overlay"] = {"file": str(Path(weights).expanduser())}
    try:
        return timm.create_model(target, pretrained=True, num_classes=num_classes, **kwargs)
    except (OSError, RuntimeError) as err:
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(target)
        where = getattr(cfg, "hf_hub_id", None) or getattr(cfg, "url", None) or target
        raise OfflineError(
            f"timm {target} pre-trained weights (Hugging Face hub id / url: {where}) are not cached and could "
            f"not be downloaded ({str(err).splitlines()[0] if str(err) else type(err).__name__}). Download the file on "
            "a machine with internet and pass it: model.init_args.weights=/path/to/model.safetensors"
        ) from None
