"""LightningModules for the kinds of regime (probe, finetune, scratch; docs/method.md#the-three-regimes,
docs/training.md#regime-kinds) and the backbones they are built from (docs/training.md)."""
from .backbone_factory import build_classifier, build_feature_extractor, load_tokenizer, pretrained_reference
from .backbone_registry import BackboneInfo, known_backbones, resolve_backbone
from .base import (
    FinetuneClassifier,
    FrozenModule,
    HarsanyiClassifier,
    ProbeClassifier,
    ProbeNet,
    ScratchClassifier,
)
from .heads import find_head
from .regime_kinds import REGIME_KINDS, ROLES, RegimeKind, regime_kind
from .hf_backbones import TEXT_POOLINGS, HFPooledFeatures
from .schedules import LinearWarmupDecay
from .tiny_networks import register_tiny_backbone, tiny_pretrained, unregister_tiny_backbone
from .vision_backbones import image_normalization

__all__ = [
    "BackboneInfo",
    "FinetuneClassifier",
    "FrozenModule",
    "HFPooledFeatures",
    "HarsanyiClassifier",
    "LinearWarmupDecay",
    "ProbeClassifier",
    "ProbeNet",
    "REGIME_KINDS",
    "ROLES",
    "RegimeKind",
    "ScratchClassifier",
    "TEXT_POOLINGS",
    "build_classifier",
    "build_feature_extractor",
    "find_head",
    "image_normalization",
    "known_backbones",
    "load_tokenizer",
    "pretrained_reference",
    "regime_kind",
    "register_tiny_backbone",
    "resolve_backbone",
    "tiny_pretrained",
    "unregister_tiny_backbone",
]
