"""The public API of harsanyi_lightning.lightning_modules: a literal ``__all__`` that names exactly the
expected objects (no submodules), explicit ``__all__`` in every module, no module importing another
module's private names, and the backbone registry, loaders and tiny networks working together."""
from __future__ import annotations

import ast
import importlib
import pkgutil
import types
from pathlib import Path

import pytest

import harsanyi_lightning.lightning_modules as package
from harsanyi_lightning.interactions.errors import ConfigError

EXPECTED = [
    "REGIMES",
    "TEXT_POOLINGS",
    "BackboneInfo",
    "FinetuneClassifier",
    "FrozenModule",
    "HFPooledFeatures",
    "HarsanyiClassifier",
    "LinearWarmupDecay",
    "ProbeClassifier",
    "ProbeNet",
    "ScratchClassifier",
    "build_classifier",
    "build_feature_extractor",
    "find_head",
    "image_normalization",
    "known_backbones",
    "load_tokenizer",
    "pretrained_reference",
    "register_tiny_backbone",
    "resolve_backbone",
    "tiny_pretrained",
    "unregister_tiny_backbone",
]
PACKAGE_DIR = Path(package.__file__).parent
MODULES = sorted(m.name for m in pkgutil.iter_modules([str(PACKAGE_DIR)]))


def literal_all(path: Path) -> list[str]:
    """The ``__all__`` of a source file, which must be a literal list of strings."""
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            assert isinstance(node.value, ast.List), f"{path.name}: __all__ is not a literal list"
            assert all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.value.elts)
            return [e.value for e in node.value.elts]
    raise AssertionError(f"{path.name} has no __all__")


def test_all_is_the_expected_literal_list():
    assert literal_all(PACKAGE_DIR / "__init__.py") == EXPECTED
    assert package.__all__ == EXPECTED


def test_every_exported_name_resolves_and_none_is_a_module():
    for name in EXPECTED:
        obj = getattr(package, name)
        assert not isinstance(obj, types.ModuleType), name
    namespace: dict = {}
    exec("from harsanyi_lightning.lightning_modules import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(EXPECTED)


def test_the_backbone_modules_are_split_by_concern():
    assert {"backbone_registry", "backbone_factory", "heads", "hf_backbones", "vision_backbones",
            "tiny_networks"} <= set(MODULES)
    assert "backbones" not in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_every_module_has_an_explicit_all_that_resolves(module):
    names = literal_all(PACKAGE_DIR / f"{module}.py")
    mod = importlib.import_module(f"{package.__name__}.{module}")
    for name in names:
        assert hasattr(mod, name), f"{module}.__all__ names {name!r}, which it does not define"


@pytest.mark.parametrize("module", ["__init__", *MODULES])
def test_no_module_imports_private_names(module):
    tree = ast.parse((PACKAGE_DIR / f"{module}.py").read_text())
    private = [
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name.startswith("_") and node.module not in ("__future__",)
    ]
    assert private == []


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
        assert (info.source, info.kind) == ("tiny", "image")
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
