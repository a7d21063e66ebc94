"""The rank of a fine-tuning update (docs/training.md#the-rank-of-an-update; Biderman et al. 2024): the effective
rank on matrices of known rank, and the update ranks of each kind of regime on tiny-bert after a few optimizer
steps."""
from __future__ import annotations

import copy
import functools

import pytest
import pytorch_lightning as pl
import torch

from harsanyi_lightning.datamodules import TinyTextDataModule
from harsanyi_lightning.interactions.errors import ConfigError
from harsanyi_lightning.lightning_modules import (
    FinetuneClassifier,
    HarsanyiClassifier,
    LoraClassifier,
    PartialClassifier,
    ProbeClassifier,
    ScratchClassifier,
    effective_rank,
    update_ranks,
)

#: the matrix types of a BERT-like layer
BERT_TYPES = {"attention.query", "attention.key", "attention.value", "attention.output", "mlp.intermediate",
              "mlp.output"}


def with_singular_values(values: list[float], rows: int = 12, cols: int = 20, seed: int = 0) -> torch.Tensor:
    """``Σ_i values[i] · u_i v_iᵀ`` with orthonormal ``u_i``, ``v_i``: the singular values are ``values``."""
    gen = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(rows, len(values), generator=gen, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(cols, len(values), generator=gen, dtype=torch.float64))
    return u @ torch.diag(torch.tensor(values, dtype=torch.float64)) @ v.T


@pytest.mark.parametrize("rank", [1, 2, 3, 5, 9])
def test_equal_singular_values_give_the_rank(rank):
    """``r`` equal singular values: ``k`` of them hold ``k / r`` of the squared norm, ``>= 0.9`` first at ``k = r``
    for ``r <= 9``."""
    assert effective_rank(with_singular_values([2.0] * rank)) == rank
    assert effective_rank(with_singular_values([2.0] * rank).float()) == rank  # float32 too


def test_a_rank_one_matrix_and_a_zero_matrix():
    gen = torch.Generator().manual_seed(1)
    outer = torch.outer(torch.randn(30, generator=gen), torch.randn(50, generator=gen))
    assert effective_rank(outer) == 1
    assert effective_rank(torch.zeros(30, 50)) == 0


def test_the_boundary_of_the_energy():
    """Ten equal singular values: nine hold exactly 90% of the squared norm, so k = 9; asking for a hair more
    needs the tenth. Singular values 3 and 1: the first holds 9 / 10 exactly."""
    ten = with_singular_values([1.0] * 10)
    assert effective_rank(ten) == 9
    assert effective_rank(ten, energy=0.9 + 1e-6) == 10
    assert effective_rank(ten, energy=1.0) == 10
    assert effective_rank(with_singular_values([3.0, 1.0])) == 1
    assert effective_rank(with_singular_values([3.0, 1.01])) == 2
    # a long tail: 90% of the squared norm in the first 4 of 12 directions
    assert effective_rank(with_singular_values([3.0, 3.0, 3.0, 3.0] + [0.5] * 8)) == 4


def test_bad_input_is_a_config_error():
    with pytest.raises(ConfigError, match=r"energy=0 must be in \(0, 1\]"):
        effective_rank(torch.ones(2, 2), energy=0)
    with pytest.raises(ConfigError, match=r"a matrix delta\[out, in\]; got a tensor of shape \(2, 2, 2\)"):
        effective_rank(torch.ones(2, 2, 2))


def train_steps(module: HarsanyiClassifier, steps: int = 3, lr: float = 1e-2) -> HarsanyiClassifier:
    """``steps`` AdamW steps of ``module`` on tiny sentences (its trainable parameters only)."""
    pl.seed_everything(0, verbose=False)
    dm = TinyTextDataModule(backbone="tiny-bert", num_train=16 * steps, batch_size=16)
    dm.setup("fit")
    optimizer = torch.optim.AdamW(module.trainable_parameters(), lr=lr)
    module.train()
    for inputs, labels in dm.train_dataloader():
        optimizer.zero_grad()
        module.criterion(module(inputs), labels).backward()
        optimizer.step()
    return module


def test_a_lora_update_has_at_most_the_adapters_rank_and_is_the_merged_adapter():
    pl.seed_everything(0, verbose=False)
    module = train_steps(LoraClassifier(backbone="tiny-bert", rank=2))
    ranks = update_ranks(module)
    assert set(ranks) == BERT_TYPES
    assert all(0 < rank <= 2 for rank in ranks.values()), ranks
    # the update is W_merged - W: PEFT's merge of (alpha / rank) B A into the frozen weight
    merged = copy.deepcopy(module.net.model).merge_and_unload()
    base = module.net.model.get_base_model()
    updates = list(module.weight_updates())
    assert len(updates) == 6 * 2
    for update in updates:
        name = f"bert.encoder.layer.{update.layer}." + {
            "attention.query": "attention.self.query", "attention.key": "attention.self.key",
            "attention.value": "attention.self.value", "attention.output": "attention.output.dense",
            "mlp.intermediate": "intermediate.dense", "mlp.output": "output.dense"}[update.matrix]
        expected = merged.get_submodule(name).weight - base.get_submodule(name).base_layer.weight
        assert torch.allclose(update.delta, expected.detach(), atol=1e-6), name


def test_a_finetune_update_reaches_past_a_lora_rank_and_leaves_the_random_state_alone():
    pl.seed_everything(0, verbose=False)
    module = train_steps(FinetuneClassifier(backbone="tiny-bert"))
    state = torch.random.get_rng_state()
    ranks = update_ranks(module)
    assert torch.equal(torch.random.get_rng_state(), state)  # the pre-trained weights rebuilt under a forked state
    assert set(ranks) == BERT_TYPES
    assert all(rank > 2 for rank in ranks.values()), ranks  # three AdamW steps move every direction a little


def test_a_partial_update_is_zero_in_the_frozen_layers():
    pl.seed_everything(0, verbose=False)
    module = train_steps(PartialClassifier(backbone="tiny-bert", frozen_layers=1))
    by_layer = {(u.matrix, u.layer): u.delta for u in module.weight_updates()}
    assert all(not by_layer[(matrix, 0)].any() for matrix in BERT_TYPES)
    assert all(by_layer[(matrix, 1)].abs().max() > 0 for matrix in BERT_TYPES)
    ranks = update_ranks(module)  # the median of (0, rank of layer 1) over the two layers
    assert all(rank > 0 for rank in ranks.values()) and set(ranks) == BERT_TYPES


def test_a_probe_has_a_zero_update_and_scratch_has_none():
    assert update_ranks(ProbeClassifier(backbone="tiny-bert")) == {matrix: 0.0 for matrix in BERT_TYPES}
    with pytest.raises(ConfigError, match="'scratch' trains from random weights: it has no update"):
        update_ranks(ScratchClassifier(backbone="tiny-bert"))
