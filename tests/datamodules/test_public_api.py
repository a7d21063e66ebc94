"""The modules of harsanyi_lightning.datamodules, one per data set, and the default data folder both in a checkout
and in a wheel's layout (tests/test_public_api.py checks the ``__all__`` of every package)."""
from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import shutil
import types
from pathlib import Path


import harsanyi_lightning.datamodules as package
from harsanyi_lightning.datamodules import base

PACKAGE_DIR = Path(package.__file__).parent
MODULES = sorted(m.name for m in pkgutil.iter_modules([str(PACKAGE_DIR)]))


def test_every_image_data_set_has_its_own_module():
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


def test_a_checkout_uses_the_shared_data_folder_beside_it_when_no_folder_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("HARSANYI_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    copy = copy_of_base(repo / "datamodules")
    assert copy.REPO_ROOT == repo.resolve()
    assert copy.checkout_root() == repo.resolve()
    cache = tmp_path / "home" / ".cache" / "harsanyi_lightning" / "data" / "sst2"
    assert copy.default_data_dir("sst2") == cache  # no shared folder yet
    (tmp_path / "shared" / "data" / "sst2").mkdir(parents=True)
    assert copy.default_data_dir("sst2") == repo.resolve().parent / "shared" / "data" / "sst2"


def test_harsanyi_data_wins_over_the_shared_folder_beside_the_checkout(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    copy = copy_of_base(repo / "datamodules")
    (tmp_path / "shared" / "data" / "sst2").mkdir(parents=True)
    empty = tmp_path / "my_data"
    empty.mkdir()  # named, even while it holds nothing: the user's choice is not second-guessed
    monkeypatch.setenv("HARSANYI_DATA", str(empty))
    assert copy.default_data_dir("sst2") == empty / "sst2"
    monkeypatch.setenv("HARSANYI_DATA", "")  # set but empty: as if not set
    assert copy.default_data_dir("sst2") == repo.resolve().parent / "shared" / "data" / "sst2"


def test_an_explicit_data_dir_wins_over_harsanyi_data(tmp_path, monkeypatch):
    from harsanyi_lightning.datamodules import CIFAR10DataModule, SST2DataModule

    monkeypatch.setenv("HARSANYI_DATA", str(tmp_path / "env"))
    assert SST2DataModule(data_dir=str(tmp_path / "mine")).data_dir == tmp_path / "mine"
    assert SST2DataModule().data_dir == tmp_path / "env" / "sst2"
    assert CIFAR10DataModule(data_dir=str(tmp_path / "mine")).data_dir == tmp_path / "mine"
    assert CIFAR10DataModule().data_dir == tmp_path / "env" / "cifar10"


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
