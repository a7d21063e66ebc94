"""Data modules: one interface, inputs in the model's form, annotation pools, clear errors on bad data."""
from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

from harsanyi_lightning.datamodules import (
    CIFAR10DataModule,
    CUB200DataModule,
    SST2DataModule,
    StanfordCarsDataModule,
    TinyImageDataModule,
    TinyTextDataModule,
)
from harsanyi_lightning.interactions import ImagePool, TextPool, build_sample_set
from harsanyi_lightning.interactions.errors import ConfigError, DataError, OfflineError
from harsanyi_lightning.lightning_modules import image_normalization


def test_tiny_images_are_normalised_224_batches_and_make_an_image_sample_set():
    dm = TinyImageDataModule(backbone="tiny-cnn", num_classes=3)
    dm.setup("fit")
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (8, 3, 224, 224) and x.dtype == torch.float32
    assert y.dtype == torch.long and set(y.tolist()) <= {0, 1, 2}
    assert -3 < float(x.mean()) < 3 and float(x.std()) > 0.2  # normalised, not raw [0, 1]
    pool = dm.annotation_pool("val")
    assert isinstance(pool, ImagePool) and pool.num_classes == 3
    sample_set = build_sample_set(pool, n=4, per_class=1, seed=0)
    assert sample_set.inputs["pixels"].shape == (3, 3, 224, 224)
    assert sorted(sample_set.labels.tolist()) == [0, 1, 2]
    # pools carry the eval transform of the same images the val loader yields
    vx, _ = next(iter(dm.val_dataloader()))
    assert torch.equal(pool.images[0][0], vx[0])


def test_image_normalisation_follows_the_backbone():
    assert image_normalization("vit_small_patch16_224") == ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert image_normalization("resnet50")[0] == pytest.approx((0.485, 0.456, 0.406))
    a = TinyImageDataModule(backbone="tiny-cnn")
    b = TinyImageDataModule(backbone="vit_base_patch16_224")
    a.setup("fit")
    b.setup("fit")
    assert not torch.equal(a.datasets["train"][0][0], b.datasets["train"][0][0])
    with pytest.raises(ConfigError, match="text model"):
        TinyImageDataModule(backbone="tiny-bert").setup("fit")


def test_tiny_text_batches_are_token_dicts_and_make_a_text_sample_set():
    dm = TinyTextDataModule(backbone="tiny-bert")
    dm.setup("fit")
    inputs, y = next(iter(dm.train_dataloader()))
    assert {"input_ids", "attention_mask"} <= set(inputs)
    assert inputs["input_ids"].shape[0] == 16 and y.shape == (16,)
    pool = dm.annotation_pool("val")
    assert isinstance(pool, TextPool) and all(len(s.split()) == 10 for s in pool.sentences)
    sample_set = build_sample_set(pool, n=10, num_samples=4, seed=0)
    assert sample_set.n == 10 and len(sample_set) == 4


def test_text_datamodule_without_a_backbone_says_how_to_give_one():
    with pytest.raises(ConfigError, match="backbone"):
        TinyTextDataModule().setup("fit")


# ----------------------------------------------------------------- SST-2


def write_tsv(path: Path, rows: list[str], header: str = "sentence\tlabel") -> None:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


@pytest.fixture
def small_sst2(tmp_path) -> Path:
    words = "a fine and moving film that never loses its way".split()
    write_tsv(tmp_path / "train.tsv", [f"{' '.join(words[: 3 + i % 7])}\t{i % 2}" for i in range(40)])
    write_tsv(tmp_path / "dev.tsv", [f"{' '.join(words)}\t{i % 2}" for i in range(10)])
    write_tsv(tmp_path / "test_labeled.tsv", [f"{' '.join(words)}\t1" for _ in range(6)])
    return tmp_path


def test_sst2_reads_glue_tsv_with_a_seeded_train_subset(small_sst2):
    dm = SST2DataModule(data_dir=str(small_sst2), backbone="tiny-bert", train_subset=12, batch_size=4)
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.datasets["train"]) == 12 and len(dm.datasets["val"]) == 10
    again = SST2DataModule(data_dir=str(small_sst2), backbone="tiny-bert", train_subset=12)
    again.setup("fit")
    assert again.datasets["train"].sentences == dm.datasets["train"].sentences
    dm.setup("test")
    assert len(dm.test_dataloader().dataset) == 6
    pool = dm.annotation_pool("val")
    assert len(pool.sentences) == 10 and pool.labels[:2] == [0, 1]
    inputs, labels = next(iter(dm.val_dataloader()))
    assert inputs["input_ids"].shape[0] == 4 and labels.tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize(
    "row, message",
    [
        ("no tab on this line", r"dev.tsv:3: expected 2 tab-separated fields"),
        ("a sentence\tpositive", r"dev.tsv:3: label 'positive' is not an integer"),
        ("a sentence\t4", r"dev.tsv:3: label 4 is outside 0..1"),
    ],
)
def test_sst2_parse_errors_name_file_and_line(small_sst2, row, message):
    write_tsv(small_sst2 / "dev.tsv", ["fine\t1", row])
    with pytest.raises(DataError, match=message):
        SST2DataModule(data_dir=str(small_sst2), backbone="tiny-bert").setup("fit")


def test_sst2_empty_split_and_bad_header(small_sst2):
    write_tsv(small_sst2 / "dev.tsv", [])
    with pytest.raises(DataError, match="dev.tsv has a header but no samples"):
        SST2DataModule(data_dir=str(small_sst2), backbone="tiny-bert").setup("fit")
    write_tsv(small_sst2 / "dev.tsv", ["x\t1"], header="text\ty")
    with pytest.raises(DataError, match="dev.tsv:1: header"):
        SST2DataModule(data_dir=str(small_sst2), backbone="tiny-bert").setup("fit")


def test_sst2_missing_folder_names_the_folder_and_files(tmp_path, monkeypatch):
    folder = tmp_path / "nowhere"
    dm = SST2DataModule(data_dir=str(folder), backbone="tiny-bert", download=False)
    with pytest.raises(DataError, match=f"train.tsv, dev.tsv missing in {folder}"):
        dm.prepare_data()
    with pytest.raises(DataError, match="train.tsv, dev.tsv missing"):
        dm.setup("fit")

    def offline(*args, **kwargs):  # the network, not the code under test
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(OfflineError, match=rf"missing in {folder}.*SST-2.zip"):
        SST2DataModule(data_dir=str(folder), backbone="tiny-bert").prepare_data()


def test_sst2_says_once_which_folder_it_reads(small_sst2, capsys):
    from harsanyi_lightning.datamodules import base

    base._ANNOUNCED.clear()  # another test of this process may have read the same folder
    for _ in range(2):  # a study's regimes each set up their own data module
        dm = SST2DataModule(data_dir=str(small_sst2), backbone="tiny-bert")
        dm.setup("fit")
        dm.setup("test")
    out = capsys.readouterr().out
    assert out.count("[data] SST-2 from") == 1 and f"[data] SST-2 from {small_sst2}\n" in out
    other = small_sst2 / "copy"
    other.mkdir()
    for name in ("train.tsv", "dev.tsv"):
        (other / name).write_bytes((small_sst2 / name).read_bytes())
    SST2DataModule(data_dir=str(other), backbone="tiny-bert").setup("fit")
    assert f"[data] SST-2 from {other}\n" in capsys.readouterr().out  # another folder is named too


def test_generated_data_names_no_folder(capsys):
    TinyTextDataModule(backbone="tiny-bert").setup("fit")
    TinyImageDataModule(backbone="tiny-cnn").setup("fit")
    assert "[data]" not in capsys.readouterr().out


def test_sst2_test_split_needs_labels(small_sst2):
    (small_sst2 / "test_labeled.tsv").unlink()
    dm = SST2DataModule(data_dir=str(small_sst2), backbone="tiny-bert")
    with pytest.raises(DataError, match="test_labeled.tsv missing"):
        dm.setup("test")


def test_sst2_shared_copy(sst2_dir, monkeypatch):
    monkeypatch.delenv("HARSANYI_DATA", raising=False)  # else that folder comes first
    dm = SST2DataModule(backbone="minilm-l6", train_subset=2000)
    assert dm.data_dir == sst2_dir
    dm.setup("fit")
    assert len(dm.datasets["train"]) == 2000 and len(dm.datasets["val"]) == 872
    assert dm.num_classes == 2
    pool = dm.annotation_pool("val")
    assert sum(len(s.split()) == 10 for s in pool.sentences) >= 8


# ----------------------------------------------------------------- image data sets on disk


def make_cub(root: Path, images_per_split: int = 2) -> Path:
    from PIL import Image

    cub = root / "CUB_200_2011"
    (cub / "images" / "001.Bird").mkdir(parents=True)
    lines, split, labels = [], [], []
    for i in range(1, 2 * images_per_split + 1):
        rel = f"001.Bird/img_{i}.jpg"
        Image.new("RGB", (60 + i, 40), (i * 20, 100, 50)).save(cub / "images" / rel)
        lines.append(f"{i} {rel}")
        split.append(f"{i} {int(i <= images_per_split)}")
        labels.append(f"{i} {1 + i % 2}")
    (cub / "images.txt").write_text("\n".join(lines) + "\n")
    (cub / "train_test_split.txt").write_text("\n".join(split) + "\n")
    (cub / "image_class_labels.txt").write_text("\n".join(labels) + "\n")
    return cub


def test_cub_reads_the_official_layout(tmp_path):
    make_cub(tmp_path)
    dm = CUB200DataModule(data_dir=str(tmp_path), backbone="tiny-cnn", batch_size=2, download=False)
    dm.prepare_data()
    dm.setup("fit")
    assert dm.num_classes == 200
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (2, 3, 224, 224) and set(y.tolist()) <= {0, 1}
    pool = dm.annotation_pool("val")
    assert len(pool.images) == 2 and pool.images[0][0].shape == (3, 224, 224)


def test_cub_missing_or_malformed_files_are_named(tmp_path):
    cub = make_cub(tmp_path)
    (cub / "image_class_labels.txt").unlink()
    dm = CUB200DataModule(data_dir=str(tmp_path), backbone="tiny-cnn", download=False)
    with pytest.raises(DataError, match="image_class_labels.txt missing in .*CUB_200_2011"):
        dm.prepare_data()
    (cub / "image_class_labels.txt").write_text("1 1\nbroken-line\n")
    with pytest.raises(DataError, match=r"image_class_labels.txt:2: expected"):
        dm.setup("fit")
    (cub / "image_class_labels.txt").write_text("1 1\n2 2\n3 1\n4 2\n")
    (cub / "images" / "001.Bird" / "img_3.jpg").unlink()
    with pytest.raises(DataError, match="img_3.jpg .* is missing"):
        dm.setup("fit")


def test_cifar10_and_cars_missing_name_what_they_need(tmp_path):
    with pytest.raises(DataError, match=f"CIFAR-10 not found in {tmp_path}.*cifar-10-batches-py"):
        CIFAR10DataModule(data_dir=str(tmp_path), backbone="tiny-cnn", download=False).prepare_data()
    with pytest.raises(DataError, match="devkit/cars_meta.mat.*missing in .*stanford_cars"):
        StanfordCarsDataModule(data_dir=str(tmp_path), backbone="tiny-cnn").setup("fit")
    assert CIFAR10DataModule(data_dir=str(tmp_path)).num_classes == 10
    assert StanfordCarsDataModule(data_dir=str(tmp_path)).num_classes == 196
