"""The lora and partial kinds of regime (docs/training.md#lora-and-partial-fine-tuning): what each trains and
freezes, where it starts, its option checks (without building a network), the missing-peft error, the backbones it
takes and refuses, and its regime files."""
from __future__ import annotations

import functools
import importlib
import sys

import pytest
import pytorch_lightning as pl
import torch
import yaml

from harsanyi_lightning.cli import main
from harsanyi_lightning.datamodules import TinyTextDataModule
from harsanyi_lightning.interactions.errors import ConfigError
from harsanyi_lightning.lightning_modules import (
    REGIME_KINDS,
    FinetuneClassifier,
    HarsanyiClassifier,
    LoraClassifier,
    PartialClassifier,
    tiny_pretrained,
)
from tests.shared_data import ROOT

#: the matrices LoRA adapts by default in each layer of a BERT-like encoder
BERT_MATRICES = {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                 "intermediate.dense", "output.dense"}
TOKENS = {"input_ids": torch.tensor([[101, 2204, 3185, 102], [101, 2919, 3185, 102]]),
          "attention_mask": torch.ones(2, 4, dtype=torch.long), "token_type_ids": torch.zeros(2, 4, dtype=torch.long)}


def state_copy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def fit_a_few_steps(module: HarsanyiClassifier, quick_trainer, steps: int = 3) -> None:
    quick_trainer(max_steps=steps, limit_val_batches=0).fit(module, datamodule=TinyTextDataModule(num_train=48,
                                                                                                  batch_size=16))


def test_the_two_kinds_are_registered_with_the_finetune_role():
    for name, cls in (("lora", LoraClassifier), ("partial", PartialClassifier)):
        kind = REGIME_KINDS[name]
        module, _, attribute = kind.module.rpartition(".")
        assert getattr(importlib.import_module(module), attribute) is cls
        assert (kind.role, cls.regime) == ("finetune", name)
    for kind in REGIME_KINDS.values():  # every kind's module records that kind as its regime
        module, _, attribute = kind.module.rpartition(".")
        assert getattr(importlib.import_module(module), attribute).regime == kind.name


# ------------------------------------------------------------------------------------------------------ lora


def test_lora_adapts_every_attention_and_mlp_matrix_and_trains_the_head_in_full():
    module = LoraClassifier(backbone="tiny-bert", rank=4)
    adapted = module.net.model
    assert type(adapted).__name__ == "PeftModel"
    config = adapted.peft_config["default"]
    assert (config.r, config.lora_alpha, config.lora_dropout) == (4, 8, 0.05)  # alpha defaults to 2 * rank
    assert set(config.target_modules) == BERT_MATRICES and config.modules_to_save == ["classifier"]
    trainable = [name for name, p in module.named_parameters() if p.requires_grad]
    adapters = [name for name in trainable if ".lora_" in name]
    assert len(adapters) == 2 * 6 * 2  # A and B of 6 matrices in each of 2 layers
    assert sorted(set(trainable) - set(adapters)) == [
        "net.model.base_model.model.classifier.modules_to_save.default.bias",
        "net.model.base_model.model.classifier.modules_to_save.default.weight"]
    assert module(TOKENS).shape == (2, 2)


def test_lora_starts_from_the_pretrained_model_with_the_finetune_head():
    """B = 0 at the start: the adapted model predicts what the fine-tuned one does before training."""
    pl.seed_everything(0, verbose=False)
    lora = LoraClassifier(backbone="tiny-bert").eval()
    pl.seed_everything(0, verbose=False)
    finetune = FinetuneClassifier(backbone="tiny-bert").eval()
    with torch.no_grad():
        assert torch.allclose(lora(TOKENS), finetune(TOKENS), atol=1e-6)


def test_lora_training_moves_the_adapters_and_the_head_only_and_resumes_from_its_state(quick_trainer):
    pl.seed_everything(0, verbose=False)
    module = LoraClassifier(backbone="tiny-bert", rank=2, optimizer=functools.partial(torch.optim.AdamW, lr=1e-2))
    before = state_copy(module)
    fit_a_few_steps(module, quick_trainer)
    after = module.state_dict()
    changed = {key for key in before if not torch.equal(before[key], after[key])}
    trained = {f"{name}" for name, p in module.named_parameters() if p.requires_grad}
    assert changed and changed <= trained
    assert any("lora_B" in key for key in changed) and any("modules_to_save" in key for key in changed)
    # a checkpoint's state loads into a module rebuilt from its hyper-parameters (resume, load_from_checkpoint)
    rebuilt = LoraClassifier(**module.hparams)
    rebuilt.load_state_dict(after)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(TOKENS), module.eval()(TOKENS))


def test_lora_on_the_packaged_minilm_adapts_its_six_layers():
    module = LoraClassifier(backbone="minilm-l6")
    adapted = module.net.model
    names = {name.rpartition(".lora_A")[0] for name, _ in adapted.named_parameters() if ".lora_A." in name}
    assert len(names) == 6 * 6
    assert {name.split(".layer.")[1].split(".", 1)[1] for name in names} == BERT_MATRICES
    assert adapted.peft_config["default"].modules_to_save == ["classifier"]  # the checkpoint holds the pooler


def test_a_distilbert_folder_gets_its_new_pre_classifier_trained_and_its_own_matrices_adapted(tmp_path):
    """A checkpoint without DistilBERT's ``pre_classifier`` (a plain encoder): LoRA trains it in full with the
    classifier rather than freezing it at random values; partial freezes DistilBERT's embeddings and first layer."""
    from transformers import DistilBertConfig, DistilBertModel

    DistilBertModel(DistilBertConfig(vocab_size=200, dim=32, n_layers=2, n_heads=2, hidden_dim=64)).save_pretrained(
        tmp_path)
    lora = LoraClassifier(backbone=str(tmp_path), rank=2)
    config = lora.net.model.peft_config["default"]
    assert config.modules_to_save == ["classifier", "pre_classifier"]
    assert set(config.target_modules) == {"attention.q_lin", "attention.k_lin", "attention.v_lin",
                                          "attention.out_lin", "ffn.lin1", "ffn.lin2"}
    ids = {"input_ids": torch.tensor([[1, 5, 7, 2]]), "attention_mask": torch.ones(1, 4, dtype=torch.long)}
    assert lora(ids).shape == (1, 2)
    partial = PartialClassifier(backbone=str(tmp_path), frozen_layers=1)
    frozen = {name for name, p in partial.named_parameters() if not p.requires_grad}
    first = ("net.model.distilbert.embeddings.", "net.model.distilbert.transformer.layer.0.")
    assert frozen == {name for name, _ in partial.named_parameters() if name.startswith(first)}


def test_lora_on_a_vit_and_refused_for_a_cnn():
    module = LoraClassifier(backbone="tiny-vit", num_classes=3, rank=2)
    trainable = [name for name, p in module.named_parameters() if p.requires_grad and ".lora_" not in name]
    assert trainable == ["net.base_model.model.head.modules_to_save.default.weight",
                         "net.base_model.model.head.modules_to_save.default.bias"]
    assert set(module.net.peft_config["default"].target_modules) == {"attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"}
    assert module(torch.rand(2, 3, 224, 224)).shape == (2, 3)
    with pytest.raises(ConfigError, match="backbone 'tiny-cnn' has no Transformer encoder.*kind finetune"):
        LoraClassifier(backbone="tiny-cnn", num_classes=3)


def test_lora_target_modules_the_backbone_lacks_name_its_matrices():
    with pytest.raises(ConfigError, match=r"target_modules=\['q_lin'\] cannot adapt backbone 'tiny-bert'.*"
                                          r"attention\.self\.query"):
        LoraClassifier(backbone="tiny-bert", target_modules=["q_lin"])
    module = LoraClassifier(backbone="tiny-bert", target_modules=["query", "value"])
    adapted = {name.split(".layer.")[1] for name, _ in module.named_parameters() if ".lora_A." in name}
    assert len(adapted) == 4 and all(".attention.self.query." in n or ".attention.self.value." in n for n in adapted)


@pytest.mark.parametrize(("option", "value", "message"), [
    ("rank", 0, "rank=0 must be an integer >= 1"),
    ("rank", 2.5, "rank=2.5 must be an integer >= 1"),
    ("rank", True, "rank=True must be an integer >= 1"),
    ("alpha", 0, "alpha=0 must be a number > 0"),
    ("alpha", "16", "alpha='16' must be a number > 0"),
    ("dropout", 1.0, r"dropout=1.0 must be a number in \[0, 1\)"),
    ("dropout", -0.1, r"dropout=-0.1 must be a number in \[0, 1\)"),
    ("target_modules", [], "target_modules=\\[\\] must be a non-empty list"),
    ("target_modules", "query", "target_modules='query' must be a non-empty list"),
    ("target_modules", ["query", ""], r"target_modules=\['query', ''\] must be a non-empty list of module names"),
])
def test_lora_options_are_checked_without_building_a_network(option, value, message, monkeypatch):
    monkeypatch.setattr(LoraClassifier, "build_net", lambda self: pytest.fail("built a network"))
    with pytest.raises(ConfigError, match=f"model.init_args.{message}"):
        LoraClassifier.check_init_args({option: value})
    with pytest.raises(ConfigError, match=f"model.init_args.{message}"):
        LoraClassifier(backbone="tiny-bert", **{option: value})


def test_good_options_pass_every_kinds_check():
    LoraClassifier.check_init_args({"rank": 16, "alpha": 32.0, "dropout": 0.0, "target_modules": ["query"],
                                    "backbone": "minilm-l6"})
    LoraClassifier.check_init_args({})  # every option left at its default
    PartialClassifier.check_init_args({"frozen_layers": 0})
    for cls in (HarsanyiClassifier, FinetuneClassifier):  # nothing to check
        cls.check_init_args({"anything": object()})


def test_without_peft_the_lora_kind_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # `import peft` fails as if it were not installed
    extra = 'pip install "harsanyi-lightning\\[lora\\]"'
    with pytest.raises(ConfigError, match=f"lora needs the package peft.*{extra}"):
        LoraClassifier.check_init_args({"rank": 4})
    with pytest.raises(ConfigError, match=f"lora needs the package peft.*{extra}"):
        LoraClassifier(backbone="tiny-bert")
    PartialClassifier.check_init_args({"frozen_layers": 1})  # the other kind needs no peft


# ---------------------------------------------------------------------------------------------------- partial


@pytest.mark.parametrize("frozen_layers", [0, 1, 2])
def test_partial_freezes_the_embeddings_and_the_first_layers(frozen_layers):
    module = PartialClassifier(backbone="tiny-bert", frozen_layers=frozen_layers)
    frozen = {name for name, p in module.named_parameters() if not p.requires_grad}
    prefix = "net.model.bert."
    expected = {name for name, _ in module.named_parameters() if name.startswith(prefix + "embeddings.")
                or any(name.startswith(f"{prefix}encoder.layer.{i}.") for i in range(frozen_layers))}
    assert frozen == expected and len(expected) > 0
    assert all(p.requires_grad for name, p in module.named_parameters()
               if name.startswith(("net.model.classifier.", prefix + "pooler.")))


def test_partial_training_keeps_the_frozen_part_at_the_pretrained_weights(quick_trainer):
    pl.seed_everything(0, verbose=False)
    module = PartialClassifier(backbone="tiny-bert", frozen_layers=1,
                               optimizer=functools.partial(torch.optim.AdamW, lr=1e-2, weight_decay=0.1))
    fit_a_few_steps(module, quick_trainer)
    bert = module.net.model.bert.state_dict()
    pretrained = tiny_pretrained("tiny-bert").state_dict()
    for key, value in pretrained.items():
        if key.startswith(("embeddings.", "encoder.layer.0.")):
            assert torch.equal(bert[key], value), key  # frozen: exactly the pre-trained weight
    trained = [k for k in pretrained if k.startswith(("encoder.layer.1.", "pooler."))]
    assert all(not torch.equal(bert[k], pretrained[k]) for k in trained)


def test_partial_on_a_vit_freezes_its_patch_and_position_embeddings():
    module = PartialClassifier(backbone="tiny-vit", num_classes=3, frozen_layers=1)
    frozen = {name for name, p in module.named_parameters() if not p.requires_grad}
    assert {"net.cls_token", "net.pos_embed", "net.patch_embed.proj.weight", "net.blocks.0.attn.qkv.weight"} <= frozen
    assert not any(name.startswith(("net.blocks.1.", "net.head.", "net.norm.")) for name in frozen)


def test_partial_options_are_checked_before_building_and_against_the_depth():
    for value in (-1, 1.5, "3", None, False):
        with pytest.raises(ConfigError, match="model.init_args.frozen_layers=.* must be an integer >= 0"):
            PartialClassifier.check_init_args({"frozen_layers": value})
    with pytest.raises(ConfigError, match="frozen_layers=3 but backbone 'tiny-bert' has 2 layers; give at most 2"):
        PartialClassifier(backbone="tiny-bert", frozen_layers=3)
    with pytest.raises(ConfigError, match="backbone 'tiny-cnn' has no Transformer encoder"):
        PartialClassifier(backbone="tiny-cnn", num_classes=3, frozen_layers=1)


# ------------------------------------------------------------------------------------------------ regime files


@pytest.mark.parametrize(("regime", "options"), [
    ("lora", {"rank": 8, "alpha": None, "dropout": 0.05, "target_modules": None}),
    ("partial", {"frozen_layers": 3}),
])
def test_the_regime_files_parse_on_the_minilm_recipe(regime, options, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["fit", "--config", str(ROOT / "configs/recipes/minilm.yaml"),
              "--config", str(ROOT / f"configs/regimes/{regime}.yaml"), "--print_config"])
    assert info.value.code in (0, None)
    model = yaml.safe_load(capsys.readouterr().out)["model"]
    cls = {"lora": LoraClassifier, "partial": PartialClassifier}[regime]
    assert model["class_path"] == f"harsanyi_lightning.lightning_modules.{cls.__name__}"
    assert {key: model["init_args"][key] for key in options} == options
    assert model["init_args"]["backbone"] == "minilm-l6"
    cls.check_init_args(model["init_args"])  # what a study checks before any training
