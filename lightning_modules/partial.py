"""The ``partial`` kind of regime: the pre-trained backbone with its embeddings and first ``frozen_layers`` encoder
layers frozen, the layers above them and a new head trained (docs/training.md#lora-and-partial-fine-tuning).

A frozen parameter has ``requires_grad=False``, so the optimiser never sees it: it keeps its pre-trained value
exactly. Frozen layers still run in train mode (their dropout is active): Transformer layers have no BatchNorm
statistics to keep.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from harsanyi_lightning.interactions.errors import ConfigError

from .backbone_factory import build_classifier
from .base import HarsanyiClassifier
from .encoder_layout import encoder_layout

if TYPE_CHECKING:
    from torch import nn

__all__ = ["PartialClassifier"]


class PartialClassifier(HarsanyiClassifier):
    """The pre-trained backbone with the embeddings and the first ``frozen_layers`` encoder layers frozen; the other
    layers (and, for BERT-like models, the pooler) and a new head trained.

    Args:
        frozen_layers: how many encoder layers, counted from the embeddings, are frozen with them: an integer from
            0 (the embeddings alone) to the number of layers (only what comes after the encoder is trained).
            Required: it depends on the backbone's depth (MiniLM-L6 and DistilBERT have 6 layers, BERT-base 12).
        **kwargs: the arguments of :class:`HarsanyiClassifier`; the backbone must be a Transformer encoder (text:
            BERT-like or DistilBERT; images: a timm ViT, whose patch embedding, class token and position embedding
            are its embeddings).

    Raises:
        ConfigError: ``frozen_layers`` not an integer >= 0 or above the number of layers, or a backbone without a
            Transformer encoder.

    Example::

        model = PartialClassifier(frozen_layers=3, backbone="minilm-l6")  # the bottom half of its 6 layers
    """

    regime = "partial"

    def __init__(self, frozen_layers: int, **kwargs: Any):
        self.check_init_args({"frozen_layers": frozen_layers})
        super().__init__(**kwargs)

    @classmethod
    def check_init_args(cls, init_args: Mapping[str, Any]) -> None:
        """``frozen_layers`` an integer >= 0; a :class:`ConfigError` naming it otherwise (its upper bound, the
        backbone's number of layers, is checked when the network is built)."""
        frozen = init_args.get("frozen_layers", 0)  # left out: the parser reports the required option missing
        if not isinstance(frozen, int) or isinstance(frozen, bool) or frozen < 0:
            raise ConfigError(f"model.init_args.frozen_layers={frozen!r} must be an integer >= 0: how many encoder "
                              "layers to freeze with the embeddings, e.g. 3")

    def build_net(self) -> nn.Module:
        net = build_classifier(self.backbone, self.num_classes, pretrained=True, weights=self.hparams.weights)
        layout = encoder_layout(net, self.backbone)
        frozen_layers = self.hparams.frozen_layers
        if frozen_layers > layout.num_layers:
            raise ConfigError(f"model.init_args.frozen_layers={frozen_layers} but backbone {self.backbone!r} has "
                              f"{layout.num_layers} layers; give at most {layout.num_layers}")
        frozen = (*layout.embeddings, *layout.layer_prefixes(0, frozen_layers))
        for name, parameter in net.named_parameters():
            if any(name == part or name.startswith(part + ".") for part in frozen):
                parameter.requires_grad_(False)
        return net
