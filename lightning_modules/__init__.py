"""LightningModules for the three regimes of SPEC section 3 (probe, finetune, scratch) and their backbone factory."""
from .backbones import (
    TEXT_POOLINGS,
    BackboneInfo,
    HFPooledFeatures,
    build_classifier,
    build_feature_extractor,
    find_head,
    image_normalization,
    known_backbones,
    load_tokenizer,
    register_tiny_backbone,
    resolve_backbone,
    tiny_pretrained,
    unregister_tiny_backbone,
)
from .base import (
    REGIMES,
    FinetuneClassifier,
    FrozenModule,
    HarsanyiClassifier,
    ProbeClassifier,
    ProbeNet,
    ScratchClassifier,
)
from .schedules import LinearWarmupDecay

__all__ = [name for name in dir() if not name.startswith("_")]
