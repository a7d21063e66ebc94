"""Where a Transformer encoder keeps its parts: the embeddings, the stack of layers, and the weight matrices of each
layer's attention and MLP blocks, by type (docs/training.md#lora-and-partial-fine-tuning).

The ``lora`` and ``partial`` kinds and the rank of an update (:mod:`~.update_rank`) read an encoder through one
:class:`EncoderLayout`, found by :func:`encoder_layout` from the modules a network holds, whatever wraps it (a
Hugging Face classifier, a PEFT model, a probe's frozen feature). Three families of layer are known, each
with its matrix types (left of ``=``) and the path of their ``nn.Linear`` inside one layer (right):

- ``bert`` (BERT, MiniLM, RoBERTa, ...): ``attention.query`` = ``attention.self.query`` (``key``, ``value`` alike),
  ``attention.output`` = ``attention.output.dense``, ``mlp.intermediate`` = ``intermediate.dense``,
  ``mlp.output`` = ``output.dense``; embeddings ``embeddings``;
- ``distilbert``: ``attention.query`` = ``attention.q_lin`` (``k_lin``, ``v_lin``), ``attention.output`` =
  ``attention.out_lin``, ``mlp.intermediate`` = ``ffn.lin1``, ``mlp.output`` = ``ffn.lin2``; embeddings ``embeddings``;
- ``vit`` (timm): ``attention.qkv`` = ``attn.qkv`` (query, key and value fused in one matrix), ``attention.output`` =
  ``attn.proj``, ``mlp.intermediate`` = ``mlp.fc1``, ``mlp.output`` = ``mlp.fc2``; embeddings ``patch_embed``,
  ``cls_token``, ``reg_token``, ``pos_embed``, ``norm_pre`` (those it has).

A network with none of them (a CNN) has no layout.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Mapping

from torch import nn

from harsanyi_lightning.interactions.errors import ConfigError

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["ENCODER_FAMILIES", "EncoderFamily", "EncoderLayout", "encoder_layout"]


@dataclass(frozen=True)
class EncoderFamily:
    """One family of Transformer layer: the path of each weight matrix inside a layer, by matrix type, and the names
    of the embedding parts held by the nearest module above the stack of layers."""

    matrices: Mapping[str, str]
    embeddings: tuple[str, ...]


#: the known families of encoder layer, by name (the table of this module's docstring)
ENCODER_FAMILIES: dict[str, EncoderFamily] = {
    "bert": EncoderFamily(
        {"attention.query": "attention.self.query", "attention.key": "attention.self.key",
         "attention.value": "attention.self.value", "attention.output": "attention.output.dense",
         "mlp.intermediate": "intermediate.dense", "mlp.output": "output.dense"},
        ("embeddings",)),
    "distilbert": EncoderFamily(
        {"attention.query": "attention.q_lin", "attention.key": "attention.k_lin", "attention.value": "attention.v_lin",
         "attention.output": "attention.out_lin", "mlp.intermediate": "ffn.lin1", "mlp.output": "ffn.lin2"},
        ("embeddings",)),
    "vit": EncoderFamily(
        {"attention.qkv": "attn.qkv", "attention.output": "attn.proj", "mlp.intermediate": "mlp.fc1",
         "mlp.output": "mlp.fc2"},
        ("patch_embed", "cls_token", "reg_token", "pos_embed", "norm_pre")),
}


def _submodule(module: nn.Module, path: str) -> nn.Module | None:
    for part in path.split("."):
        module = getattr(module, part, None)
        if not isinstance(module, nn.Module):
            return None
    return module


def _qualified(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


@dataclass(frozen=True)
class EncoderLayout:
    """A Transformer encoder inside a network, as names relative to that network.

    Attributes:
        family: the key of its :data:`ENCODER_FAMILIES` entry.
        layers: the name of the stack of layers (``bert.encoder.layer``, ``blocks``).
        num_layers: how many layers it holds.
        embeddings: the names of the modules and parameters before the first layer (``bert.embeddings``;
            ``patch_embed``, ``cls_token``, ``pos_embed`` of a ViT).
        matrices: matrix type -> the path of its ``nn.Linear`` inside a layer.
    """

    family: str
    layers: str
    num_layers: int
    embeddings: tuple[str, ...]
    matrices: Mapping[str, str]

    def layer_prefixes(self, first: int = 0, stop: int | None = None) -> list[str]:
        """The names of layers ``first .. stop - 1`` (all by default), e.g. ``bert.encoder.layer.0``."""
        return [f"{self.layers}.{i}" for i in range(first, self.num_layers if stop is None else stop)]

    def matrix_names(self) -> Iterator[tuple[str, int, str]]:
        """``(matrix type, layer, module name)`` of every attention and MLP matrix, layer by layer."""
        for layer, prefix in enumerate(self.layer_prefixes()):
            for matrix, path in self.matrices.items():
                yield matrix, layer, f"{prefix}.{path}"

    def matrix_modules(self, network: nn.Module) -> Iterator[tuple[str, int, str, nn.Module]]:
        """``(matrix type, layer, module name, module)`` of every attention and MLP matrix of ``network`` (the network
        this layout was found in), layer by layer; an adapted matrix is its adapter's wrapper."""
        modules = dict(network.named_modules())
        for matrix, layer, name in self.matrix_names():
            yield matrix, layer, name, modules[name]

    def matrix_weights(self, network: nn.Module) -> Iterator[tuple[str, int, Tensor]]:
        """``(matrix type, layer, weight[out, in])`` of every attention and MLP matrix of ``network`` (the network
        this layout was found in); a matrix wrapped by an adapter gives its base weight."""
        for matrix, layer, name, module in self.matrix_modules(network):
            weight = getattr(module, "weight", None)
            if weight is None:  # pragma: no cover - every known family's matrices are nn.Linear
                raise ConfigError(f"{name} has no weight matrix")
            yield matrix, layer, weight


def encoder_layout(network: nn.Module, backbone: str = "model") -> EncoderLayout:
    """The layout of the Transformer encoder in ``network``: the first ``nn.ModuleList`` (or ``nn.Sequential``, as in
    timm) whose first layer holds the matrices of a family of :data:`ENCODER_FAMILIES`.

    Raises:
        ConfigError: ``network`` holds no such encoder (a CNN such as ResNet or VGG), naming ``backbone``.
    """
    modules = dict(network.named_modules())
    for name, module in modules.items():
        if not isinstance(module, (nn.ModuleList, nn.Sequential)) or len(module) == 0:
            continue
        for family_name, family in ENCODER_FAMILIES.items():
            if all(_submodule(module[0], path) is not None for path in family.matrices.values()):
                embeddings = _embeddings(modules, name, family)
                return EncoderLayout(family_name, name, len(module), embeddings, family.matrices)
    raise ConfigError(
        f"backbone {backbone!r} has no Transformer encoder this project knows (layers of BERT-like models, DistilBERT "
        f"or timm ViTs: docs/training.md#lora-and-partial-fine-tuning); the kinds lora and partial adapt or freeze "
        f"such layers: use a Transformer backbone (minilm-l6, bert-base, distilbert, vit_small_patch16_224, ...) "
        f"or the kind finetune"
    )


def _embeddings(modules: dict[str, nn.Module], layers: str, family: EncoderFamily) -> tuple[str, ...]:
    """The names of ``family``'s embedding parts held by the nearest module above ``layers``."""
    parts = layers.split(".")
    for depth in range(len(parts) - 1, -1, -1):
        owner_name = ".".join(parts[:depth])
        owner = modules[owner_name]
        found = tuple(_qualified(owner_name, part) for part in family.embeddings
                      if getattr(owner, part, None) is not None)
        if found:
            return found
    return ()
