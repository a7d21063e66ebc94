"""Bad data: each malformed input raises DataError naming the file and line (or the image path)."""
from __future__ import annotations

from pathlib import Path

import pytest

from harsanyi_lightning.datamodules import CUB200DataModule
from harsanyi_lightning.datamodules.text import read_glue_tsv
from harsanyi_lightning.datamodules.vision import ImageFileDataset
from harsanyi_lightning.interactions.errors import DataError


def tsv(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "train.tsv"
    p.write_text(text)
    return p


def test_tsv_line_without_a_tab_names_file_and_line(tmp_path):
    p = tsv(tmp_path, "sentence\tlabel\na fine film\t1\nno tab on this line 0\n")
    with pytest.raises(DataError, match=r"train\.tsv:3: expected 2 tab-separated fields") as err:
        read_glue_tsv(p)
    assert str(p) in str(err.value)


def test_tsv_label_that_is_not_an_integer_names_file_and_line(tmp_path):
    p = tsv(tmp_path, "sentence\tlabel\ngood\t1\nbad\tpositive\n")
    with pytest.raises(DataError, match=r"train\.tsv:3: label 'positive' is not an integer"):
        read_glue_tsv(p)


def test_tsv_label_outside_the_classes_names_file_and_line(tmp_path):
    p = tsv(tmp_path, "sentence\tlabel\ngood\t1\nbad\t7\n")
    with pytest.raises(DataError, match=r"train\.tsv:3: label 7 is outside 0\.\.1"):
        read_glue_tsv(p)


def test_empty_split_is_named(tmp_path):
    with pytest.raises(DataError, match="has a header but no samples"):
        read_glue_tsv(tsv(tmp_path, "sentence\tlabel\n\n"))
    with pytest.raises(DataError, match=r"is empty"):
        read_glue_tsv(tsv(tmp_path, ""))


def test_tsv_that_is_not_utf8_names_file_and_line(tmp_path):
    p = tmp_path / "dev.tsv"
    p.write_bytes(b"sentence\tlabel\ngood\t1\nbad \xff\xfe film\t0\n")
    with pytest.raises(DataError, match=r"dev\.tsv:3: not UTF-8"):
        read_glue_tsv(p)


def test_image_that_cannot_be_decoded_names_the_image(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    with pytest.raises(DataError, match="cannot read image") as err:
        ImageFileDataset([(bad, 0)])[0]
    assert str(bad) in str(err.value)


def make_cub(root: Path, images: int = 2) -> Path:
    """A minimal CUB_200_2011 folder: ``images.txt``, ``image_class_labels.txt``, ``train_test_split.txt``."""
    from PIL import Image

    cub = root / "CUB_200_2011"
    (cub / "images" / "001.Bird").mkdir(parents=True)
    lines = []
    for i in range(1, images + 1):
        rel = f"001.Bird/img_{i}.jpg"
        Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(cub / "images" / rel)
        lines.append(f"{i} {rel}")
    (cub / "images.txt").write_text("\n".join(lines) + "\n")
    (cub / "image_class_labels.txt").write_text("".join(f"{i} 1\n" for i in range(1, images + 1)))
    (cub / "train_test_split.txt").write_text("".join(f"{i} {i % 2}\n" for i in range(1, images + 1)))
    return cub


def test_cub_index_file_missing_is_named(tmp_path):
    cub = make_cub(tmp_path)
    (cub / "train_test_split.txt").unlink()
    dm = CUB200DataModule(data_dir=str(tmp_path), backbone="tiny-cnn", download=False)
    with pytest.raises(DataError, match="train_test_split.txt"):
        dm.setup("fit")


def test_cub_class_folder_missing_names_the_image_path(tmp_path):
    cub = make_cub(tmp_path)
    for p in (cub / "images" / "001.Bird").iterdir():
        p.unlink()
    (cub / "images" / "001.Bird").rmdir()
    dm = CUB200DataModule(data_dir=str(tmp_path), backbone="tiny-cnn", download=False)
    with pytest.raises(DataError, match=r"image file .*001\.Bird/img_1\.jpg .* is missing"):
        dm.setup("fit")


def test_cub_malformed_index_line_names_file_and_line(tmp_path):
    cub = make_cub(tmp_path)
    (cub / "image_class_labels.txt").write_text("1 1\ntwo 1\n")
    dm = CUB200DataModule(data_dir=str(tmp_path), backbone="tiny-cnn", download=False)
    with pytest.raises(DataError, match=r"image_class_labels\.txt:2: expected"):
        dm.setup("fit")
