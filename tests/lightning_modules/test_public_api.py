"""The backbone modules of harsanyi_lightning.lightning_modules, split by concern, and the backbone registry,
loaders and tiny networks working together (tests/test_public_api.py checks the ``__all__`` of every package)."""
from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest

import harsanyi_lightning.lightning_modules as package
from harsanyi_lightning.interactions.errors import ConfigError

PACKAGE_DIR = Path(package.__file__).parent
MODULES = sorted(m.name for m in pkgutil.iter_modules([str(PACKAGE_DIR)]))


def test_the_backbone_modules_are_split_by_concern():
    assert {"backbone_registry", "backbone_factory", "heads", "hf_backbones", "vision_backbones",
            "tiny_networks"} <= set(MODULES)
    assert "backbones" not in MODULES


def test_the_registry_and_the_tiny_networks_share_one_list_of_names():
    import torch
    from torch import nn

    def builder(num_classes: int) -> nn.Module:  # a final nn.Sequential "classifier", as in VGG
        net = nn.Module()
        net.classifier = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, num_classes))
        net.forward = lambda pixels: net.classifier(pixels[:, :, :8, :8])
        return net

    assert "tiny-api-test" not in package.known_backbones()
    package.register_tiny_backbone("tiny-api-test", "image", builder)
    try:
        assert "tiny-api-test" in package.known_backbones()
        info = package.resolve_backbone("tiny-api-test")
        assert (info.source, info.modality) == ("tiny", "image")
        pixels = torch.rand(2, 3, 224, 224)
        net = package.build_classifier("tiny-api-test", 4, pretrained=True)
        assert net.classifier[-1].out_features == 4 and net(pixels).shape == (2, 4)
        assert package.find_head(net)[2] is net.classifier[-1]
        features, dim = package.build_feature_extractor("tiny-api-test")
        assert dim == 3 * 8 * 8 and isinstance(features.classifier[-1], nn.Identity)
        assert features(pixels).shape == (2, dim)
    finally:
        package.unregister_tiny_backbone("tiny-api-test")
    assert "tiny-api-test" not in package.known_backbones()
    with pytest.raises(ConfigError, match="unknown backbone 'tiny-api-test'"):
        package.resolve_backbone("tiny-api-test")
