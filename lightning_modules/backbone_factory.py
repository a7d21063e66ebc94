"""Build the network a regime needs from a backbone name (docs/training.md; paper D.2/D.3).

:func:`build_classifier` gives finetune (pre-trained, new head) and scratch (same architecture,
random weights) their network; :func:`build_feature_extractor` gives probe its frozen part.
Every network maps ``inputs`` (an image batch ``pixels[batch, 3, 224, 224]`` or a dict of Hugging
Face tensors ``input_ids[batch, token]``, ...) to ``logits[batch, class]`` (or ``features[batch,
dim]`` for a probe's frozen part). The names are those of
:mod:`~harsanyi_lightning.lightning_modules.backbone_registry`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harsanyi_lightning.interactions.errors import ConfigError

from .backbone_registry import IMAGE, TEXT, check_num_classes, resolve_backbone
from .heads import replace_head, strip_head
from .hf_backbones import load_hf_classifier, load_hf_features, load_hf_tokenizer
from .tiny_networks import build_tiny_classifier, build_tiny_features, tiny_tokenizer
from .vision_backbones import build_torchvision_scratch, create_timm, load_torchvision_pretrained

if TYPE_CHECKING:
    from torch import Tensor, nn

__all__ = ["build_classifier", "build_feature_extractor", "load_tokenizer", "pretrained_reference"]


def load_tokenizer(name: str) -> Any:
    """The tokenizer of a text backbone (``tiny-bert`` uses the packaged MiniLM one)."""
    info = resolve_backbone(name)
    if info.modality != TEXT:
        raise ConfigError(f"backbone {name!r} is an image model; a text data set needs a text backbone")
    if info.source == "tiny":
        return tiny_tokenizer()
    return load_hf_tokenizer(info.target)


def build_classifier(name: str, num_classes: int, *, pretrained: bool, weights: str | None = None) -> nn.Module:
    """Full classifier ``forward(inputs) -> logits[batch, num_classes]`` with a new head.

    ``pretrained=True``: pre-trained weights everywhere but the head (finetune);
    ``False``: the same architecture from its config, randomly initialised, nothing loaded (scratch)."""
    info = resolve_backbone(name)
    check_num_classes(num_classes)
    if info.source == "hf":
        return load_hf_classifier(weights or info.target, num_classes, pretrained=pretrained)
    if info.source == "tiny":
        return build_tiny_classifier(info, num_classes, pretrained=pretrained)
    if info.source == "torchvision":
        if pretrained:
            return replace_head(load_torchvision_pretrained(info.target, weights), num_classes, name)
        return build_torchvision_scratch(info.target, num_classes)
    if info.source == "timm":
        return create_timm(info.target, pretrained, num_classes, weights)
    raise ConfigError(f"backbone {name!r}: unsupported source {info.source!r}")  # pragma: no cover


def build_feature_extractor(name: str, *, weights: str | None = None, pooling: str | None = None) -> tuple[nn.Module, int]:
    """Pre-trained network up to its penultimate layer: ``(module, dim)`` with
    ``module(inputs) -> features[batch, dim]`` (paper D.2).

    Images: the input of the final ``nn.Linear`` (ResNet ``fc``, VGG ``classifier[6]``, ViT ``head``).
    Text: the last layer's states of the pre-trained encoder, pooled by ``pooling`` (``"cls"``,
    the default, or ``"mean"`` over the real tokens; see
    :class:`~harsanyi_lightning.lightning_modules.hf_backbones.HFPooledFeatures`). Layers a
    checkpoint does not hold, such as DistilBERT's ``pre_classifier``, are never part of the features."""
    info = resolve_backbone(name)
    if info.modality == IMAGE and pooling is not None:
        raise ConfigError(f"pooling={pooling!r} applies to text backbones; {name!r} is an image model: leave pooling unset")
    pooling = pooling or "cls"
    if info.source == "hf":
        return load_hf_features(weights or info.target, pooling, name)
    if info.source == "tiny":
        return build_tiny_features(info, pooling)
    if info.source == "torchvision":
        return strip_head(load_torchvision_pretrained(info.target, weights), name)
    if info.source == "timm":
        model = create_timm(info.target, True, 0, weights)  # num_classes=0: timm returns the pre-logits features
        return model, int(model.num_features)
    raise ConfigError(f"backbone {name!r}: unsupported source {info.source!r}")  # pragma: no cover


def pretrained_reference(name: str, weights: str | None = None) -> dict[str, Tensor]:
    """The pre-trained weights of the feature part (for tests/audits), keyed as in
    :func:`build_feature_extractor`'s module."""
    module, _ = build_feature_extractor(name, weights=weights)
    return {k: v.detach().clone() for k, v in module.state_dict().items()}
