"""Corrupt artifacts: a truncated or edited epoch file, annotation file or reference is caught by its
hash and named (AnnotationError, "corrupt"); it is never silently recomputed on another annotation."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from harsanyi_lightning.callbacks import InteractionCallback
from harsanyi_lightning.interactions import AnnotatedSampleSet, build_feature_sample_set
from harsanyi_lightning.interactions.artifacts import load_artifact, save_artifact
from harsanyi_lightning.interactions.errors import AnnotationError


def annotation(tmp_path: Path) -> Path:
    x = torch.tensor([[1.0, 2.0, 3.0], [0.5, 1.5, 7.0]])
    path = tmp_path / "annotation.pt"
    build_feature_sample_set(x, [1, 0], baseline=torch.zeros(3)).save(path)
    return path


def epoch_file(tmp_path: Path, annotation_hash: str = "a" * 64) -> Path:
    path = tmp_path / "interactions" / "epoch_003.pt"
    save_artifact(path, "interactions", {"values": torch.randn(2, 8, dtype=torch.float64),
                                         "dividends": torch.randn(2, 8, dtype=torch.float64), "epoch": 3,
                                         "annotation_hash": annotation_hash, "model": "tiny-bert",
                                         "dataset": "TinyTextDataModule"})
    return path


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def edit_tensor(path: Path) -> None:
    """Change one number inside the stored content and write a readable torch file again (the stored
    hash is left as it was: what a hand edit or a bit flip does)."""
    blob = torch.load(path, weights_only=True)
    content = blob["content"]
    key = next(k for k in ("values", "baseline") if k in content)
    content[key] = content[key].clone()
    content[key].view(-1)[0] += 1.0
    buf = io.BytesIO()
    torch.save(blob, buf)
    path.write_bytes(buf.getvalue())


@pytest.mark.parametrize("damage", [truncate, edit_tensor])
def test_damaged_epoch_file_is_named_as_corrupt(tmp_path, damage):
    path = epoch_file(tmp_path)
    damage(path)
    with pytest.raises(AnnotationError, match="corrupt") as err:
        load_artifact(path, "interactions")
    assert str(path) in str(err.value)


@pytest.mark.parametrize("damage", [truncate, edit_tensor])
def test_damaged_annotation_file_is_named_as_corrupt(tmp_path, damage):
    path = annotation(tmp_path)
    damage(path)
    with pytest.raises(AnnotationError, match="corrupt") as err:
        AnnotatedSampleSet.load(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("damage", [truncate, edit_tensor])
def test_damaged_reference_fails_at_setup_naming_it(tmp_path, damage, quick_trainer):
    anno = annotation(tmp_path)
    ref = epoch_file(tmp_path, AnnotatedSampleSet.load(anno).hash)
    damage(ref)
    cb = InteractionCallback(sample_set=str(anno), references={"pretrain": str(ref)},
                             output_dir=str(tmp_path / "out"), figures=False, progress=False)
    with pytest.raises(AnnotationError, match="corrupt") as err:
        cb.setup(quick_trainer(), torch.nn.Identity(), "fit")  # any module with a forward
    assert str(ref) in str(err.value)


def test_damaged_annotation_is_not_rebuilt_by_the_callback(tmp_path, quick_trainer):
    """A corrupt sample_set file stops the callback; it does not build a new sample set over it."""
    anno = annotation(tmp_path)
    truncate(anno)
    before = anno.read_bytes()
    cb = InteractionCallback(sample_set=str(anno), output_dir=str(tmp_path / "out"), figures=False, progress=False)
    with pytest.raises(AnnotationError, match="corrupt"):
        cb.setup(quick_trainer(), torch.nn.Identity(), "fit")  # any module with a forward
    assert anno.read_bytes() == before and not (tmp_path / "out" / "annotation.pt").exists()
