"""The ``lora`` kind of regime: low-rank adapters on the frozen pre-trained weights, through Hugging Face PEFT
(Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models", arXiv 2106.09685;
docs/training.md#lora-and-partial-fine-tuning).

Every adapted matrix ``W[out, in]`` computes ``W x + (alpha / rank) · B A x`` with ``A[rank, in]`` (random) and
``B[out, rank]`` (zero at the start, so training starts from the pre-trained model); ``W`` stays frozen. The new
classification head (the modules the checkpoint does not hold) is trained in full; every other weight is frozen.
The module's ``forward``, which the interaction callback evaluates, is the adapted model.

Defaults, after Biderman et al. 2024 ("LoRA Learns Less and Forgets Less", TMLR, arXiv 2405.09673), who compare
LoRA with full fine-tuning: adapters on every attention and MLP matrix (they find this beats adapting the attention
alone, Hu et al.'s ``W_q``, ``W_v``) and ``alpha = 2 · rank``, their recommendation; rank 8, Hu et al.'s rank for
RoBERTa on GLUE, an encoder of this size (Biderman et al. compare 16, 64 and 256 on a 7B model); ``dropout = 0.05``,
a common small value.

Needs the optional package ``peft``: ``pip install "harsanyi-lightning[lora]"``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Mapping, Optional

import torch

from harsanyi_lightning.interactions.errors import ConfigError

from .backbone_factory import build_classifier
from .base import HarsanyiClassifier
from .encoder_layout import encoder_layout
from .heads import find_head
from .hf_backbones import HFClassifierNet
from .update_rank import MatrixUpdate

if TYPE_CHECKING:
    from torch import nn

__all__ = ["LORA_EXTRA", "LoraClassifier", "require_peft"]

#: how to install what the ``lora`` kind needs
LORA_EXTRA = 'pip install "harsanyi-lightning[lora]"'


def require_peft() -> None:
    """Nothing when ``peft`` imports; a :class:`ConfigError` naming the extra to install otherwise."""
    try:
        import peft  # noqa: F401
    except ImportError as err:
        raise ConfigError(f"the regime kind lora needs the package peft, which does not import ({err}); "
                          f"install it with: {LORA_EXTRA}") from None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class LoraClassifier(HarsanyiClassifier):
    """The pre-trained backbone with LoRA adapters (PEFT) on its attention and MLP matrices and a new head trained
    in full; every other weight frozen (this module's docstring).

    Args:
        rank: the rank ``r`` of every adapter (``A[r, in]``, ``B[out, r]``), an integer >= 1.
        alpha: the adapters' scale is ``alpha / rank``; ``None`` (default): ``2 · rank``, so the scale stays 2 at
            every rank (Biderman et al. 2024).
        dropout: dropout on an adapter's input during training, in [0, 1).
        target_modules: the ``nn.Linear`` modules to adapt, matched as PEFT matches them (a module is adapted
            when its name ends with one of them, e.g. ``["query", "value"]``); ``None`` (default): every attention
            and MLP matrix of the encoder (:mod:`~.encoder_layout`).
        **kwargs: the arguments of :class:`HarsanyiClassifier`; the backbone must be a Transformer encoder (text:
            BERT-like or DistilBERT; images: a timm ViT).

    Raises:
        ConfigError: a bad option, ``peft`` missing (naming the extra to install), a backbone without a Transformer
            encoder, or target modules the backbone does not have.

    Example::

        model = LoraClassifier(backbone="minilm-l6", rank=4,
                               optimizer=functools.partial(torch.optim.AdamW, lr=5e-4))
    """

    regime = "lora"

    def __init__(self, rank: int = 8, alpha: Optional[float] = None, dropout: float = 0.05,
                 target_modules: Optional[list[str]] = None, **kwargs: Any):
        self.check_init_args({"rank": rank, "alpha": alpha, "dropout": dropout, "target_modules": target_modules})
        super().__init__(**kwargs)

    @classmethod
    def check_init_args(cls, init_args: Mapping[str, Any]) -> None:
        """``peft`` importable, ``rank`` an integer >= 1, ``alpha`` > 0 or null, ``0 <= dropout < 1``,
        ``target_modules`` a non-empty list of names or null; a :class:`ConfigError` naming the option otherwise."""
        require_peft()
        # an option left out takes its default, which is valid: each check reads a valid stand-in for it
        rank = init_args.get("rank", 1)
        if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
            raise ConfigError(f"model.init_args.rank={rank!r} must be an integer >= 1 (the adapters' rank), e.g. 8")
        alpha = init_args.get("alpha")
        if alpha is not None and not (_is_number(alpha) and alpha > 0):
            raise ConfigError(f"model.init_args.alpha={alpha!r} must be a number > 0 (the adapters' scale is "
                              "alpha / rank), or null for 2 * rank")
        dropout = init_args.get("dropout", 0.0)
        if not (_is_number(dropout) and 0 <= dropout < 1):
            raise ConfigError(f"model.init_args.dropout={dropout!r} must be a number in [0, 1), e.g. 0.05")
        targets = init_args.get("target_modules")
        if targets is not None and (isinstance(targets, str) or not isinstance(targets, (list, tuple)) or not targets
                                    or not all(isinstance(t, str) and t for t in targets)):
            raise ConfigError(f"model.init_args.target_modules={targets!r} must be a non-empty list of module names "
                              "(e.g. [query, value]), or null for every attention and MLP matrix")

    def build_net(self) -> nn.Module:
        from peft import LoraConfig, get_peft_model

        net = build_classifier(self.backbone, self.num_classes, pretrained=True, weights=self.hparams.weights)
        model = net.model if isinstance(net, HFClassifierNet) else net
        layout = encoder_layout(model, self.backbone)
        targets = self.hparams.target_modules or sorted(set(layout.matrices.values()))
        rank = self.hparams.rank
        alpha = self.hparams.alpha if self.hparams.alpha is not None else 2 * rank
        config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=self.hparams.dropout,
                            target_modules=list(targets), modules_to_save=list(self._head_names(net, model)),
                            bias="none")
        try:
            adapted = get_peft_model(model, config)
        except ValueError as err:
            raise ConfigError(
                f"model.init_args.target_modules={list(targets)!r} cannot adapt backbone {self.backbone!r} "
                f"({str(err).splitlines()[0]}); its attention and MLP matrices are "
                f"{sorted(set(layout.matrices.values()))} "
                "inside each layer: name some of them, or leave target_modules null for all") from None
        return HFClassifierNet(adapted, net.new_modules) if isinstance(net, HFClassifierNet) else adapted

    def _head_names(self, net: nn.Module, model: nn.Module) -> tuple[str, ...]:
        """The new head's modules: those the Hugging Face checkpoint lacks, or an image model's final linear."""
        if isinstance(net, HFClassifierNet):
            return net.new_modules
        head = find_head(model, self.backbone)[2]
        return tuple(name for name, module in model.named_modules() if module is head)

    def weight_updates(self) -> Iterator[MatrixUpdate]:
        """The merged update ``(alpha / rank) · B · A`` of every adapted attention and MLP matrix
        (:mod:`~.update_rank`); 0 for a matrix without an adapter (it is frozen)."""
        layout = encoder_layout(self.net, self.backbone)
        with torch.no_grad():
            for matrix, layer, _, module in layout.matrix_modules(self.net):
                delta = torch.zeros_like(module.weight, device="cpu", dtype=torch.float32)
                for adapter in getattr(module, "active_adapters", ()):
                    if adapter in getattr(module, "lora_A", {}):
                        delta += module.get_delta_weight(adapter).detach().float().cpu()
                yield MatrixUpdate(matrix, layer, delta)
