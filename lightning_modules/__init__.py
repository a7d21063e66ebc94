"""LightningModules for the three regimes (probe, finetune, scratch; docs/method.md#the-three-regimes)
and the backbones they are built from (docs/training.md)."""
from .backbone_factory import build_classifier, build_feature_extractor, load_tokenizer, pretrained_reference
from .backbone_registry import BackboneInfo, known_backbones, resolve_backbone
from .base import (
    REGIMES,
    FinetuneClassifier,
    FrozenModule,
    HarsanyiClassifier,
    ProbeClassifier,
    ProbeNet,
    ScratchClassifier,
)
from .heads import find_head
from .hf_backbones import TEXT_POOLINGS, HFPooledFeatures
from .schedules import LinearWarmupDecay
from .tiny_networks import register_tiny_backbone, tiny_pretrained, unregister_tiny_backbone
from .vision_backbones import image_normalization

__all__ = [
    "REGIMES",
    "TEXT_POOLINGS",
    "BackboneInfo",
    "FinetuneClassifier",
    "FrozenModule",
    "HFPooledFeatures",
    "HarsanyiClassifier",
    "LinearWarmupDecay",
    "ProbeClassifier",
    "ProbeNet",
    "ScratchClassifier",
    "build_classifier",
    "build_feature_extractor",
    "find_head",
    "image_normalization",
    "known_backbones",
    "load_tokenizer",
    "pretrained_reference",
    "register_tiny_backbone",
    "resolve_backbone",
    "tiny_pretrained",
    "unregister_tiny_backbone",
]
