"""The rank of a fine-tuning update, Biderman et al.'s measure ("LoRA Learns Less and Forgets Less", TMLR 2024,
arXiv 2405.09673; docs/training.md#the-rank-of-an-update).

For each weight matrix ``W[out, in]`` of the attention and MLP blocks of the encoder
(:mod:`~.encoder_layout`), the update is ``ΔW = W_trained - W_pretrained`` (for LoRA the merged adapter
``(alpha / rank) · B · A``). With its singular values ``σ_1 ≥ σ_2 ≥ ...``, its **effective rank** is the
smallest ``k`` with ``Σ_{i≤k} σ_i² ≥ 0.9 · Σ_i σ_i²``: the number of directions that hold 90% of the update's
squared Frobenius norm. A regime's update rank per matrix type is the median of that number over the layers.

What each kind of regime gives (:meth:`HarsanyiClassifier.weight_updates
<harsanyi_lightning.lightning_modules.HarsanyiClassifier.weight_updates>`):

- ``finetune``, ``partial``: the difference from the pre-trained weights, rebuilt from the backbone (nothing is
  kept during training; frozen layers give 0);
- ``lora``: each adapter's merged update (matrices without an adapter are frozen: 0);
- ``probe``: 0 for every matrix type (its backbone is frozen, so it is not updated);
- ``scratch``: a :class:`ConfigError`: it does not start from the pre-trained weights, so it has no update from them.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from typing import TYPE_CHECKING, Iterator, NamedTuple

import torch

from harsanyi_lightning.interactions.errors import ConfigError

from .backbone_factory import build_feature_extractor
from .encoder_layout import encoder_layout

if TYPE_CHECKING:
    from torch import Tensor, nn

    from .base import HarsanyiClassifier

__all__ = ["UPDATE_ENERGY", "MatrixUpdate", "effective_rank", "update_ranks", "updates_from_pretrained"]

#: the share of the squared Frobenius norm the effective rank keeps (Biderman et al. 2024)
UPDATE_ENERGY = 0.9


class MatrixUpdate(NamedTuple):
    """The update ``delta[out, in]`` of one attention or MLP matrix of type ``matrix`` in layer ``layer``."""

    matrix: str
    layer: int
    delta: Tensor


def effective_rank(delta: Tensor, energy: float = UPDATE_ENERGY) -> int:
    """The smallest ``k`` whose ``k`` largest singular values of ``delta[out, in]`` hold at least ``energy`` of its
    squared Frobenius norm (``Σ_{i≤k} σ_i² ≥ energy · Σ_i σ_i²``); 0 for a zero matrix. Computed in float64.

    Raises:
        ConfigError: ``delta`` is not a matrix, or ``energy`` is not in (0, 1].
    """
    if not 0.0 < energy <= 1.0:
        raise ConfigError(f"energy={energy!r} must be in (0, 1]: the share of the squared norm to keep, e.g. 0.9")
    if delta.dim() != 2:
        raise ConfigError(f"effective_rank takes a matrix delta[out, in]; got a tensor of shape {tuple(delta.shape)}")
    if not bool(delta.any()):
        return 0
    squares = torch.linalg.svdvals(delta.detach().to(torch.float64)) ** 2
    total = float(squares.sum())  # > 0: delta has a non-zero entry, and its square does not underflow in float64
    kept = torch.cumsum(squares, 0)
    # relative tolerance: equal singular values must not miss the boundary by a rounding error
    return int(torch.searchsorted(kept, torch.tensor(energy * total * (1 - 1e-12), dtype=torch.float64))) + 1


def update_ranks(module: HarsanyiClassifier, energy: float = UPDATE_ENERGY) -> dict[str, float]:
    """The median over layers of the :func:`effective_rank` of ``module``'s update of each matrix type
    (``attention.query``, ..., ``mlp.output``: :mod:`~.encoder_layout`), from :meth:`weight_updates
    <harsanyi_lightning.lightning_modules.HarsanyiClassifier.weight_updates>` (this module's docstring says what
    each kind gives).

    Raises:
        ConfigError: a module with no update from the pre-trained weights (``scratch``), or a backbone with no
            Transformer encoder.
    """
    ranks: dict[str, list[int]] = defaultdict(list)
    for update in module.weight_updates():
        ranks[update.matrix].append(effective_rank(update.delta, energy))
    return {matrix: float(statistics.median(values)) for matrix, values in ranks.items()}


def updates_from_pretrained(network: nn.Module, backbone: str, weights: str | None = None) -> Iterator[MatrixUpdate]:
    """``W_trained - W_pretrained`` of every attention and MLP matrix of ``network`` (a fine-tuned network of
    ``backbone``), the pre-trained weights rebuilt from ``backbone`` (and ``weights``) as the probe builds them.
    One pre-trained encoder is held while the updates are read; the global random state is left as it was."""
    trained = encoder_layout(network, backbone)
    with torch.random.fork_rng(devices=[]):
        reference_network, _ = build_feature_extractor(backbone, weights=weights)
    reference = encoder_layout(reference_network, backbone)
    if (reference.family, reference.num_layers) != (trained.family, trained.num_layers):
        raise ConfigError(f"the network has {trained.num_layers} {trained.family} layers but backbone {backbone!r} "
                          f"has {reference.num_layers} {reference.family} layers; pass the backbone it was built from")
    with torch.no_grad():
        for (matrix, layer, weight), (_, _, pretrained) in zip(trained.matrix_weights(network),
                                                               reference.matrix_weights(reference_network)):
            yield MatrixUpdate(matrix, layer, weight.detach().float().cpu() - pretrained.detach().float().cpu())
