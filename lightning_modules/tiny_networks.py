"""Tiny backbones built from code, for tests and quick runs: ``tiny-bert``, ``tiny-cnn``, ``tiny-vit``
(docs/training.md).

Their "pre-trained" weights are a deterministic seeded initialisation plus seeded noise on every
tensor (:func:`tiny_pretrained`), so a fine-tuned model provably starts from them and a scratch
model provably does not. ``tiny-bert`` reuses the packaged MiniLM WordPiece tokenizer (no download).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import torch
from torch import nn

from harsanyi_lightning.interactions.errors import ConfigError

from .backbone_registry import IMAGE, KNOWN_BACKBONES, TEXT, minilm_path
from .heads import replace_head, strip_head
from .hf_backbones import HFClassifierNet, HFPooledFeatures, load_hf_tokenizer

if TYPE_CHECKING:
    from torch import Tensor

    from .backbone_registry import BackboneInfo

__all__ = [
    "TINY_BUILDERS",
    "TINY_PRETRAIN_CLASSES",
    "TINY_SEED",
    "TinyCNN",
    "build_tiny_classifier",
    "build_tiny_features",
    "register_tiny_backbone",
    "tiny_bert_config",
    "tiny_bert_encoder",
    "tiny_pretrained",
    "tiny_tokenizer",
    "tiny_vit",
    "unregister_tiny_backbone",
]


class TinyCNN(nn.Module):
    """A torchvision-style CNN with BatchNorm and a final ``fc`` (tests only)."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, kernel_size=7, stride=4, padding=3, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, kernel_size=3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.dropout = nn.Dropout(0.1)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, pixels: Tensor) -> Tensor:
        return self.fc(self.dropout(self.features(pixels)))


def tiny_tokenizer() -> Any:
    """tiny-bert's tokenizer: the packaged MiniLM WordPiece one (no download)."""
    return load_hf_tokenizer(minilm_path())


def tiny_bert_config(num_labels: int = 2) -> Any:
    """A two-layer, 32-wide ``BertConfig`` over the MiniLM vocabulary."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=tiny_tokenizer().vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, num_labels=num_labels,
    )


def tiny_vit(num_classes: int) -> nn.Module:
    """A two-block, 32-wide timm ``VisionTransformer`` on 28x28 patches."""
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(img_size=224, patch_size=28, embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0,
                             num_classes=num_classes)


def tiny_bert_encoder() -> nn.Module:
    """tiny-bert's encoder (``BertModel``), randomly initialised."""
    from transformers import BertModel

    return BertModel(tiny_bert_config())


#: name -> builder(num_classes) of the full classifier (image) or of the encoder (text)
TINY_BUILDERS: dict[str, Callable[[int], nn.Module]] = {
    "tiny-cnn": TinyCNN,
    "tiny-vit": tiny_vit,
    "tiny-bert": lambda num_classes: tiny_bert_encoder(),
}
TINY_PRETRAIN_CLASSES = 10
TINY_SEED = 20240601


def register_tiny_backbone(name: str, kind: str, builder: Callable[[int], nn.Module]) -> None:
    """Register a code-built image backbone ``builder(num_classes) -> nn.Module`` (tests, experiments)."""
    if kind != IMAGE:
        raise ConfigError(f"register_tiny_backbone supports kind='image' only, got {kind!r}")
    TINY_BUILDERS[name] = builder
    KNOWN_BACKBONES[name] = ("tiny", kind, name)


def unregister_tiny_backbone(name: str) -> None:
    """Forget a backbone added by :func:`register_tiny_backbone` (no error when it is unknown)."""
    TINY_BUILDERS.pop(name, None)
    KNOWN_BACKBONES.pop(name, None)


def tiny_pretrained(name: str) -> nn.Module:
    """The deterministic "pre-trained" tiny model: seeded init, then seeded noise on every float tensor
    (parameters and BatchNorm statistics), so no tensor equals a fresh initialisation."""
    if name not in TINY_BUILDERS:
        raise ConfigError(f"{name!r} is not a tiny backbone; tiny ones: {sorted(TINY_BUILDERS)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        model = TINY_BUILDERS[name](TINY_PRETRAIN_CLASSES)
    gen = torch.Generator().manual_seed(TINY_SEED + 1)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            noise = torch.randn(t.shape, generator=gen, dtype=t.dtype) * 0.05
            if key.endswith("running_var"):
                t.copy_(t.abs() + 0.5 + noise.abs())
            else:
                t.add_(noise)
    return model


def build_tiny_classifier(info: BackboneInfo, num_classes: int, *, pretrained: bool) -> nn.Module:
    """A tiny classifier with a new ``num_classes`` head, from :func:`tiny_pretrained` or from scratch."""
    if info.modality == TEXT:
        from transformers import BertForSequenceClassification

        model = BertForSequenceClassification(tiny_bert_config(num_classes))
        if pretrained:
            model.bert.load_state_dict(tiny_pretrained(info.target).state_dict())
        return HFClassifierNet(model, ("classifier",) if pretrained else ())
    if pretrained:
        return replace_head(tiny_pretrained(info.target), num_classes, info.name)
    return TINY_BUILDERS[info.target](num_classes)


def build_tiny_features(info: BackboneInfo, pooling: str) -> tuple[nn.Module, int]:
    """The "pre-trained" tiny network up to its penultimate layer: ``(module, dim)``."""
    if info.modality == TEXT:
        encoder = tiny_pretrained(info.target)
        return HFPooledFeatures(encoder, pooling), int(encoder.config.hidden_size)
    return strip_head(tiny_pretrained(info.target), info.name)
