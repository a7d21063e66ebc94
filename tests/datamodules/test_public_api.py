"""The public API of harsanyi_lightning.datamodules: a literal ``__all__`` that names exactly the
expected objects (no submodules), explicit ``__all__`` in every module, no module importing another
module's private names, and the default data folder both in a checkout and in a wheel's layout."""
from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import shutil
import types
from pathlib import Path

import pytest

import harsanyi_lightning.datamodules as package
from harsanyi_lightning.datamodules import base

EXPECTED = [
    "CIFAR10DataModule",
    "CUB200DataModule",
    "HarsanyiDataModule",
    "ImageDataModule",
    "SST2DataModule",
    "StanfordCarsDataModule",
    "TextDataModule",
    "TinyImageDataModule",
    "TinyTextDataModule",
    "default_data_dir",
    "read_glue_tsv",
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
    exec("from harsanyi_lightning.datamodules import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(EXPECTED)


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


def test_every_image_module_has_its_own_file_under_400_lines():
    for module in MODULES:
        assert len((PACKAGE_DIR / f"{module}.py").read_text().splitlines()) <= 400, module
    assert package.CIFAR10DataModule.__module__.endswith(".cifar10")
    assert package.CUB200DataModule.__module__.endswith(".cub200")
    assert package.StanfordCarsDataModule.__module__.endswith(".stanford_cars")
    assert package.TinyImageDataModule.__module__.endswith(".tiny_images")
    assert package.ImageDataModule.__module__.endswith(".vision")


def copy_of_base(folder: Path) -> types.ModuleType:
    """``datamodules/base.py`` executed from ``folder/base.py`` (its relative imports resolve in the
    installed package), so ``__file__`` is that copy's path."""
    folder.mkdir(parents=True)
    shutil.copy(base.__file__, folder / "base.py")
    spec = importlib.util.spec_from_file_location(f"{package.__name__}.base_copy_for_tests", folder / "base.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_in_this_checkout_the_repository_root_is_found():
    assert base.REPO_ROOT is not None and (base.REPO_ROOT / "pyproject.toml").is_file()
    assert (base.REPO_ROOT / "datamodules" / "base.py").resolve() == Path(base.__file__).resolve()


def test_a_checkout_uses_the_shared_data_folder_beside_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HARSANYI_DATA", str(tmp_path / "cache"))
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    copy = copy_of_base(repo / "datamodules")
    assert copy.REPO_ROOT == repo.resolve()
    assert copy.checkout_root() == repo.resolve()
    assert copy.default_data_dir("sst2") == tmp_path / "cache" / "sst2"  # no shared folder yet
    (tmp_path / "shared" / "data" / "sst2").mkdir(parents=True)
    assert copy.default_data_dir("sst2") == repo.resolve().parent / "shared" / "data" / "sst2"


def test_a_wheel_install_has_no_checkout_and_uses_the_data_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HARSANYI_DATA", str(tmp_path / "cache"))
    site = tmp_path / "site-packages"
    copy = copy_of_base(site / "harsanyi_lightning" / "datamodules")
    (tmp_path / "shared" / "data" / "sst2").mkdir(parents=True)  # beside site-packages: never a data folder
    (site / "shared" / "data" / "sst2").mkdir(parents=True)
    assert copy.REPO_ROOT is None and copy.checkout_root() is None
    assert copy.default_data_dir("sst2") == tmp_path / "cache" / "sst2"
    monkeypatch.delenv("HARSANYI_DATA")
    assert copy.default_data_dir("sst2") == Path.home() / ".cache" / "harsanyi_lightning" / "data" / "sst2"
