"""LightningModules for the kinds of regime (probe, finetune, scratch: docs/method.md#the-three-regimes; lora,
partial: docs/training.md#lora-and-partial-fine-tuning; all: docs/training.md#regime-kinds), the backbones they are
built from (docs/training.md) and the rank of a fine-tuning update (docs/training.md#the-rank-of-an-update)."""
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
from .encoder_layout import EncoderLayout, encoder_layout
from .heads import find_head
from .lora import LoraClassifier
from .partial import PartialClassifier
from .regime_kinds import REGIME_KINDS, ROLES, RegimeKind, regime_kind
from .hf_backbones import TEXT_POOLINGS, HFPooledFeatures
from .schedules import LinearWarmupDecay
from .tiny_networks import register_tiny_backbone, tiny_pretrained, unregister_tiny_backbone
from .update_rank import MatrixUpdate, effective_rank, update_ranks
from .vision_backbones import image_normalization

__all__ = [
    "BackboneInfo",
    "EncoderLayout",
    "FinetuneClassifier",
    "FrozenModule",
    "HFPooledFeatures",
    "HarsanyiClassifier",
    "LinearWarmupDecay",
    "LoraClassifier",
    "MatrixUpdate",
    "PartialClassifier",
    "ProbeClassifier",
    "ProbeNet",
    "REGIME_KINDS",
    "ROLES",
    "RegimeKind",
    "ScratchClassifier",
    "TEXT_POOLINGS",
    "build_classifier",
    "build_feature_extractor",
    "effective_rank",
    "encoder_layout",
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
    "update_ranks",
]
