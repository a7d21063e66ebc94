"""Bad configuration: each mistake fails with the documented error before the first training step
(``python cli.py fit`` in-process, with a step-counting callback and checkpointing on)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from harsanyi_lightning import cli
from harsanyi_lightning.interactions.artifacts import save_artifact
from harsanyi_lightning.interactions.errors import AnnotationError, ConfigError
from step_counter import StepCounter

pytestmark = pytest.mark.filterwarnings("ignore:LightningCLI's args parameter:UserWarning")


def fit_config(tmp_path: Path, model: dict | None = None, data: dict | None = None, callback: dict | None = None) -> Path:
    cb = {"class_path": "harsanyi_lightning.callbacks.InteractionCallback",
          "init_args": {"n": 5, "num_samples": 2, "output_dir": str(tmp_path / "interactions"), "figures": False,
                        "progress": False, **(callback or {})}}
    cfg = {
        "seed_everything": 0,
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "enable_progress_bar": False,
                    "enable_model_summary": False, "logger": False, "default_root_dir": str(tmp_path),
                    "callbacks": [{"class_path": "step_counter.StepCounter"}, cb]},
        "model": {"class_path": "harsanyi_lightning.lightning_modules.FinetuneClassifier",
                  "init_args": {"backbone": "tiny-bert",
                                "optimizer": {"class_path": "torch.optim.AdamW", "init_args": {"lr": 0.001}},
                                **(model or {})}},
        "data": {"class_path": "harsanyi_lightning.datamodules.TinyTextDataModule",
                 "init_args": {"num_train": 16, "num_val": 8, "num_test": 8, "batch_size": 8, "words": 5,
                               **(data or {})}},
    }
    path = tmp_path / "fit.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def fails_before_training(tmp_path: Path, error: type, *match: str, args: list[str] = (), **cfg) -> str:
    StepCounter.steps = 0
    with pytest.raises(Exception) as err:  # noqa: PT011 - jsonargparse may wrap it; user_error unwraps
        cli.main(["fit", "--config", str(fit_config(tmp_path, **cfg)), *args])
    found = cli.user_error(err.value)
    assert isinstance(found, error), err.value
    msg = str(found)
    for words in match:
        assert words in msg, (words, msg)
    assert StepCounter.steps == 0
    assert not list(tmp_path.rglob("*.ckpt")) and not list((tmp_path / "interactions").glob("epoch_*.pt"))
    return msg


def test_the_fixture_config_trains_when_nothing_is_wrong(tmp_path):
    StepCounter.steps = 0
    cli.main(["fit", "--config", str(fit_config(tmp_path))])
    assert StepCounter.steps == 2 and list(tmp_path.rglob("*.ckpt"))


def test_unknown_backbone(tmp_path):
    fails_before_training(tmp_path, ConfigError, "unknown backbone 'resnet-9000'", "known:", "tiny-bert",
                          model={"backbone": "resnet-9000"})


# the class paths go through the installed package: a bare ``callbacks.X`` would import the checkout's top-level
# folder a second time in this process, and every later test would see each class twice
@pytest.mark.parametrize("key, given, known", [
    ("--data.class_path", "harsanyi_lightning.datamodules.NoSuchDataModule", ["harsanyi_lightning.datamodules.SST2DataModule",
                                                           "harsanyi_lightning.datamodules.TinyTextDataModule"]),
    ("--model.class_path", "harsanyi_lightning.lightning_modules.NoSuchClassifier", ["harsanyi_lightning.lightning_modules.FinetuneClassifier",
                                                                  "harsanyi_lightning.lightning_modules.ProbeClassifier"]),
    ("--trainer.callbacks+", "harsanyi_lightning.callbacks.NoSuchCallback", ["harsanyi_lightning.callbacks.InteractionCallback",
                                                          "pytorch_lightning.callbacks.ModelCheckpoint"]),
])
def test_unknown_class_path_names_it_and_lists_the_known_classes(tmp_path, key, given, known):
    msg = fails_before_training(tmp_path, ConfigError, f"class_path {given!r} is not a known", "known:", *known,
                                args=[key, given])
    assert "Traceback" not in msg and "\n" not in msg


def test_n_too_large(tmp_path):
    fails_before_training(tmp_path, ConfigError, "n=30", "max_variables", callback={"n": 30})


def test_every_n_epochs_below_1(tmp_path):
    fails_before_training(tmp_path, ConfigError, "every_n_epochs=0", ">= 1", callback={"every_n_epochs": 0})


def test_batch_size_below_1(tmp_path):
    fails_before_training(tmp_path, ConfigError, "batch_size=0", ">= 1", data={"batch_size": 0})
    fails_before_training(tmp_path, ConfigError, "batch_size=0", "masked inputs per forward pass",
                          callback={"batch_size": 0})


def reference(tmp_path: Path, **changes) -> Path:
    """A valid reference artifact on this config's own annotation, from another model or data set."""
    from harsanyi_lightning.datamodules import TinyTextDataModule
    from harsanyi_lightning.interactions import build_sample_set

    dm = TinyTextDataModule(backbone="tiny-bert", num_train=16, num_val=8, num_test=8, batch_size=8, words=5)
    samples = build_sample_set(dm.annotation_pool("val"), n=5, num_samples=2)
    samples.save(tmp_path / "annotation.pt")
    content = {"estimator": "exact", "estimated": False, "values": torch.zeros(2, 32, dtype=torch.float64),
               "dividends": torch.zeros(2, 32, dtype=torch.float64),
               "n": 5, "epoch": 2, "annotation_hash": samples.hash, "model": "tiny-bert", "dataset": "TinyTextDataModule",
               **changes}
    path = tmp_path / "ref" / "epoch_002.pt"
    save_artifact(path, "interactions", content)
    return path


def test_reference_from_another_architecture(tmp_path):
    ref = reference(tmp_path, model="resnet50")
    fails_before_training(tmp_path, ConfigError, str(ref), "model 'resnet50'", "same architecture",
                          callback={"sample_set": str(tmp_path / "annotation.pt"), "references": {"pretrain": str(ref)}})


def test_reference_from_another_data_set(tmp_path):
    ref = reference(tmp_path, dataset="CIFAR10DataModule")
    fails_before_training(tmp_path, ConfigError, str(ref), "dataset 'CIFAR10DataModule'",
                          callback={"sample_set": str(tmp_path / "annotation.pt"), "references": {"pretrain": str(ref)}})


def test_reference_on_another_annotation(tmp_path):
    ref = reference(tmp_path, annotation_hash="f" * 64)
    fails_before_training(tmp_path, AnnotationError, str(ref), "another annotation",
                          callback={"sample_set": str(tmp_path / "annotation.pt"), "references": {"pretrain": str(ref)}})


def test_output_dir_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    fails_before_training(tmp_path, ConfigError, str(blocker / "interactions"), "not writable", "output_dir=",
                          callback={"output_dir": str(blocker / "interactions")})
