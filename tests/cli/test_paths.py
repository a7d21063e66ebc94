"""``--trainer.default_root_dir`` moves everything a ``fit`` writes (docs/training.md#where-a-run-writes): every
relative path a run writes to (the recipes' logger ``save_dir: runs``, an ``InteractionCallback``'s files, a
``ModelCheckpoint``'s folder) is taken from it, and Lightning's checkpoints sit beside the logs. Run from an empty
working folder, which must stay empty."""
from __future__ import annotations

import pytest
from jsonargparse import Namespace

from harsanyi_lightning.cli import paths_below_root_dir, run_from_command_line
from tests.shared_data import ROOT

pytestmark = pytest.mark.filterwarnings("ignore:LightningCLI's args parameter:UserWarning")

#: the recipes' common settings (a TensorBoard logger) on the tiny probe regime, one short epoch
FIT = ["fit", "--config", str(ROOT / "configs" / "recipes" / "common.yaml"),
       "--config", str(ROOT / "configs" / "tiny" / "regimes" / "probe.yaml"),
       "--trainer.logger.init_args.name", "tiny/probe", "--trainer.max_epochs", "1",
       "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1"]


def files_below(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


#: an InteractionCallback with relative paths, as the sst2_minilm regime files give it
CALLBACK = """\
trainer.callbacks:
  - class_path: harsanyi_lightning.callbacks.InteractionCallback
    init_args: {sample_set: runs/tiny/annotation.pt, output_dir: runs/tiny/probe/interactions, n: 5, num_samples: 2,
                progress: false, figures: false}
"""


def test_default_root_dir_moves_everything_a_fit_writes(tmp_path, monkeypatch):
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    (tmp_path / "callback.yaml").write_text(CALLBACK)
    monkeypatch.chdir(work)
    args = [*FIT, "--config", str(tmp_path / "callback.yaml"), "--trainer.default_root_dir", str(elsewhere)]
    assert run_from_command_line(args) == 0
    assert files_below(work) == []  # no runs/, no lightning_logs/ in the working folder
    written = files_below(elsewhere)
    assert "runs/tiny/annotation.pt" in written and "runs/tiny/probe/interactions/final.json" in written, written
    assert any(f.startswith("runs/tiny/probe/version_0/events.out.tfevents") for f in written), written
    assert any(f.startswith("runs/tiny/probe/version_0/checkpoints/") and f.endswith(".ckpt") for f in written), written


def test_without_default_root_dir_a_fit_writes_into_the_recipes_runs_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_from_command_line(FIT) == 0
    written = files_below(tmp_path)
    assert written and all(f.startswith("runs/tiny/probe/version_0/") for f in written), written


def test_relative_output_paths_are_taken_from_default_root_dir_and_absolute_ones_are_kept(tmp_path):
    def config(root):
        return Namespace(trainer=Namespace(default_root_dir=root, logger=[
            Namespace(class_path="pytorch_lightning.loggers.TensorBoardLogger", init_args=Namespace(save_dir="runs")),
            Namespace(class_path="pytorch_lightning.loggers.CSVLogger", init_args=Namespace(save_dir=str(tmp_path))),
        ], callbacks=[
            Namespace(class_path="harsanyi_lightning.callbacks.InteractionCallback", init_args=Namespace(
                sample_set="runs/a.pt", output_dir=None, references={"pretrain": "runs/probe/interactions"})),
            Namespace(class_path="pytorch_lightning.callbacks.ModelCheckpoint", init_args=Namespace(dirpath="ckpt")),
            Namespace(class_path="pytorch_lightning.callbacks.EarlyStopping", init_args=Namespace(monitor="val/loss")),
        ]))

    moved = config("out")
    assert paths_below_root_dir(moved) == ["trainer.logger.save_dir", "InteractionCallback.sample_set",
                                           "InteractionCallback.references", "ModelCheckpoint.dirpath"]
    assert [lg.init_args.save_dir for lg in moved.trainer.logger] == ["out/runs", str(tmp_path)]  # absolute: pinned
    interactions, checkpoint, _ = moved.trainer.callbacks
    assert interactions.init_args.sample_set == "out/runs/a.pt" and interactions.init_args.output_dir is None
    assert interactions.init_args.references == {"pretrain": "out/runs/probe/interactions"}
    assert checkpoint.init_args.dirpath == "out/ckpt"
    inside = config("runs")  # a relative path already inside the relative root is kept, not nested twice
    assert paths_below_root_dir(inside) == ["ModelCheckpoint.dirpath"]
    assert inside.trainer.logger[0].init_args.save_dir == "runs" and inside.trainer.callbacks[1].init_args.dirpath == "runs/ckpt"
    assert inside.trainer.callbacks[0].init_args.sample_set == "runs/a.pt"
    unset = config(None)  # no default_root_dir: the working folder, as in Lightning
    assert paths_below_root_dir(unset) == [] and unset.trainer.logger[0].init_args.save_dir == "runs"
