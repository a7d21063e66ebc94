"""The callback in projects on either Lightning package.

- ``fit --config`` of a LightningCLI on ``lightning.pytorch`` and on ``pytorch_lightning``, each project
  with its own LightningModule / DataModule and the callback by class path in YAML: artifacts,
  scalars, figures and the custom-scalars dashboard in TensorBoard, the same scalars in CSV.
- Event files: every callback scalar of epoch ``e >= 1`` sits at the step where Lightning logged that
  epoch's epoch-end loss, epoch 0 at step 0 (also under gradient accumulation and manual optimisation
  with two optimizers, where ``global_step`` counts optimizer steps, not logging steps).
- Either package alone is enough (the other made unimportable in a subprocess).
"""
from __future__ import annotations

import csv
import importlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from harsanyi_lightning.callbacks import InteractionCallback
from harsanyi_lightning.callbacks.dashboard import DASHBOARD_PAPER
from harsanyi_lightning.interactions import AnnotatedSampleSet, ConfigError, ImagePool, load_artifact
from tests.shared_data import ROOT
PACKAGES = ["lightning.pytorch", "pytorch_lightning"]
N = 3


def strokes(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``images[count, 1, 28, 28]``; label 1 when the central 14x14 is brighter than the rest."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(count, 1, 28, 28, generator=g) * 0.3
    y = torch.randint(0, 2, (count,), generator=g)
    x[:, :, 7:21, 7:21] += (y.float() * 2 - 1).view(-1, 1, 1, 1) * 0.5
    return x, y


def make_project(package: str, *, manual: bool = False):
    """A LightningModule and a DataModule of ``package``, written as another project would.
    ``manual``: manual optimisation with two optimizers (``global_step`` then counts both)."""
    L = importlib.import_module(package)

    class TinyData(L.LightningDataModule):
        def __init__(self, num_train: int = 16, num_val: int = 8, batch_size: int = 4):
            super().__init__()
            self.batch_size = batch_size
            self.train = strokes(num_train, 0)
            self.val = strokes(num_val, 1)

        def train_dataloader(self):
            return DataLoader(TensorDataset(*self.train), batch_size=self.batch_size)

        def val_dataloader(self):
            return DataLoader(TensorDataset(*self.val), batch_size=self.batch_size)

        def annotation_pool(self, split: str) -> ImagePool:
            x, y = self.val if split == "val" else self.train
            return ImagePool([(x[i], int(y[i])) for i in range(len(y))],
                             [(self.train[0][i], 0) for i in range(len(self.train[1]))], 2, name=f"tiny-{split}")

    class TinyNet(L.LightningModule):
        def __init__(self, lr: float = 0.1):
            super().__init__()
            self.lr = lr
            torch.manual_seed(0)
            self.body = nn.Sequential(nn.AvgPool2d(7), nn.Flatten(), nn.Linear(16, 8), nn.Tanh())
            self.head = nn.Linear(8, 2)
            self.automatic_optimization = not manual

        def forward(self, x):
            return self.head(self.body(x))

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = nn.functional.cross_entropy(self(x), y)
            if manual:
                for opt in self.optimizers():
                    opt.zero_grad()
                self.manual_backward(loss)
                for opt in self.optimizers():
                    opt.step()
            self.log("train/loss", loss, on_step=False, on_epoch=True)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val/loss", nn.functional.cross_entropy(self(x), y))

        def configure_optimizers(self):
            if manual:
                return [torch.optim.SGD(part.parameters(), lr=self.lr) for part in (self.body, self.head)]
            return torch.optim.SGD(self.parameters(), lr=self.lr)

    return TinyNet, TinyData


def events(log_dir: Path) -> EventAccumulator:
    ea = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    ea.Reload()
    return ea


def scalar_steps(ea: EventAccumulator) -> dict[str, dict[int, float]]:
    return {tag: {e.step: e.value for e in ea.Scalars(tag)} for tag in ea.Tags()["scalars"]}


def dashboard(ea: EventAccumulator) -> dict[str, dict[str, list[str]]]:
    """The custom-scalars layout of a run: ``{category: {chart title: [tag regex, ...]}}``."""
    from tensorboard.plugins.custom_scalar import layout_pb2

    (event,) = ea.Tensors("custom_scalars__config__")
    layout = layout_pb2.Layout.FromString(event.tensor_proto.string_val[0])
    return {c.title: {chart.title: list(chart.multiline.tag) for chart in c.chart} for c in layout.category}


def callback_tags(tags) -> list[str]:
    return sorted(t for t in tags if t.startswith(("interactions/", "knowledge/")))


def check_steps_beside_the_loss(ea: EventAccumulator, out: Path, epochs: int) -> dict[int, int]:
    """Every callback scalar of epoch e >= 1 at the step of that epoch's epoch-end ``train/loss``, epoch 0 at 0;
    returns ``{epoch: step}``."""
    tags = scalar_steps(ea)
    loss_steps = sorted(tags["train/loss"])  # on_epoch=True: one point per epoch, at its epoch-end step
    assert len(loss_steps) == epochs
    step = {0: 0, **{e: loss_steps[e - 1] for e in range(1, epochs + 1)}}
    for epoch in range(epochs + 1):
        assert load_artifact(out / f"epoch_{epoch:03d}.pt", "interactions")[0]["log_step"] == step[epoch]
    assert sorted(tags["interactions/epoch"].items()) == [(s, float(e)) for e, s in step.items()]
    for tag in callback_tags(tags):
        if tag != "interactions/audit_rel_l1":
            assert sorted(tags[tag]) == sorted(step.values()), tag
    return step


@pytest.fixture(scope="module")
def reference_dir(tmp_path_factory) -> Path:
    """A one-epoch run's interactions folder: the pretrain / finetune references of the CLI runs."""
    import lightning.pytorch as L

    root = tmp_path_factory.mktemp("reference")
    TinyNet, TinyData = make_project("lightning.pytorch")
    cb = InteractionCallback(grid=4, n=N, per_class=2, progress=False, figures=False, output_dir=str(root / "out"))
    L.Trainer(max_epochs=1, accelerator="cpu", logger=False, callbacks=[cb], enable_progress_bar=False,
              enable_model_summary=False, enable_checkpointing=False, default_root_dir=str(root)).fit(
        TinyNet(lr=0.0), datamodule=TinyData())
    return root / "out"


@pytest.mark.parametrize("package", PACKAGES)
def test_lightning_cli_yaml_fit_gives_artifacts_scalars_figures_and_dashboard(package, tmp_path, reference_dir,
                                                                              monkeypatch):
    monkeypatch.setattr(sys, "argv", ["main.py"])  # the CLI reads args=..., not pytest's command line
    cli_module = importlib.import_module(f"{package}.cli")
    L = importlib.import_module(package)
    TinyNet, TinyData = make_project(package)
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""\
        seed_everything: 0
        trainer:
          max_epochs: 2
          accelerator: cpu
          devices: 1
          log_every_n_steps: 1
          enable_checkpointing: false
          enable_progress_bar: false
          enable_model_summary: false
          logger:
            - class_path: {package}.loggers.TensorBoardLogger
              init_args: {{save_dir: {tmp_path}, name: tb, version: 0}}
            - class_path: {package}.loggers.CSVLogger
              init_args: {{save_dir: {tmp_path}, name: csv, version: 0}}
          callbacks:
            - class_path: harsanyi_lightning.callbacks.InteractionCallback
              init_args:
                grid: 4
                n: {N}
                per_class: 2
                progress: false
                references:
                  pretrain: {reference_dir}
                  finetune: {reference_dir / "epoch_000.pt"}
        model:
          lr: 0.1
        """))
    cli = cli_module.LightningCLI(TinyNet, TinyData, args=["fit", "--config", str(config)],
                                  save_config_kwargs={"overwrite": True})
    assert isinstance(cli.trainer, L.Trainer)
    (cb,) = [c for c in cli.trainer.callbacks if isinstance(c, InteractionCallback)]
    assert isinstance(cb, L.Callback)

    # artifacts: native 28x28x1 images on the 4x4 grid
    out = tmp_path / "tb" / "version_0" / "interactions"
    assert sorted(p.name for p in out.glob("epoch_*.pt")) == ["epoch_000.pt", "epoch_001.pt", "epoch_002.pt"]
    anno = AnnotatedSampleSet.load(out / "annotation.pt")
    assert anno.grid == (4, 4) and anno.inputs["pixels"].shape == (4, 1, 28, 28) and anno.n == N
    jac = json.loads((out / "jaccard.json").read_text())
    assert jac["epochs"] == [0, 1, 2] and jac["final_epoch"] == 2
    assert json.loads((out / "final.json").read_text())["file"] == "epoch_002.pt"

    # TensorBoard: scalars beside the loss, figures, dashboard
    ea = events(tmp_path / "tb" / "version_0")
    step = check_steps_beside_the_loss(ea, out, epochs=2)
    assert step == {0: 0, 1: 3, 2: 7}  # 4 batches per epoch
    tags = scalar_steps(ea)
    for tag in ("knowledge/preserve/total", "knowledge/discard/total", "knowledge/new/total", "knowledge/ratio",
                "knowledge/ratio_weighted", "knowledge/jaccard_to_final", f"interactions/strength/order_{N}"):
        assert tag in tags, tag
    assert [tags["knowledge/jaccard_to_final"][step[e]] for e in (0, 1, 2)] == pytest.approx(jac["jaccard"], rel=1e-6)
    assert {"interactions/strength_by_order", "knowledge/by_order"} <= set(ea.Tags()["images"])
    assert [img.step for img in ea.Images("interactions/strength_by_order")] == [0, 3, 7]
    charts = dashboard(ea)[DASHBOARD_PAPER]
    totals, ratio, jaccard = (next(v for k, v in charts.items() if key in k) for key in ("totals", "ratio", "Jaccard"))
    assert totals == ["knowledge/preserve/total$", "knowledge/discard/total$", "knowledge/new/total$"]
    assert ratio == ["knowledge/ratio$", "knowledge/ratio_weighted$"] and jaccard == ["knowledge/jaccard_to_final$"]
    for regexes in (totals, ratio, jaccard):  # TensorBoard matches each regex from the start of a tag
        assert all(any(re.match(r, t) for t in tags) for r in regexes)

    # CSV: the same scalars at the same steps
    with open(tmp_path / "csv" / "version_0" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    for tag in callback_tags(tags):
        in_csv = {int(r["step"]): float(r[tag]) for r in rows if r.get(tag) not in (None, "")}
        assert sorted(in_csv) == sorted(tags[tag]), tag
        for s, value in tags[tag].items():
            assert in_csv[s] == pytest.approx(value, rel=1e-6, abs=1e-12), (tag, s)


@pytest.mark.parametrize("package, kind", [
    ("pytorch_lightning", "validation"), ("lightning.pytorch", "accumulate"), ("lightning.pytorch", "manual"),
])
def test_scalars_sit_at_the_epoch_end_loss_step(package, kind, tmp_path):
    """Python form ``Trainer(callbacks=[InteractionCallback(...)])``; 5 batches per epoch, 3 epochs."""
    L = importlib.import_module(package)
    loggers = importlib.import_module(f"{package}.loggers")
    TinyNet, TinyData = make_project(package, manual=kind == "manual")
    cb = InteractionCallback(grid=4, n=2, per_class=1, progress=False, output_dir=str(tmp_path / "out"))
    trainer = L.Trainer(
        max_epochs=3, accelerator="cpu", callbacks=[cb], logger=loggers.TensorBoardLogger(str(tmp_path), name="tb"),
        accumulate_grad_batches=2 if kind == "accumulate" else 1, log_every_n_steps=1, enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False, limit_val_batches=1.0 if kind == "validation" else 0,
    )
    trainer.fit(TinyNet(), datamodule=TinyData(num_train=20, batch_size=4))
    ea = events(Path(trainer.log_dir))
    step = check_steps_beside_the_loss(ea, tmp_path / "out", epochs=3)
    if kind == "validation":
        assert sorted(scalar_steps(ea)["val/loss"]) == [step[1], step[2], step[3]] == [4, 9, 14]
    elif kind == "accumulate":
        assert step == {0: 0, 1: 2, 2: 5, 3: 8}  # 3 optimizer steps per epoch (2 + 2 + 1 batches)
    else:  # two optimizers: global_step counts 10 per epoch, Lightning's logging step 5
        final = load_artifact(tmp_path / "out" / "epoch_003.pt", "interactions")[0]
        assert final["global_step"] == 30 and step == {0: 0, 1: 4, 2: 9, 3: 14}


def test_a_loaded_sample_set_must_have_the_asked_grid(tmp_path, reference_dir):
    import lightning.pytorch as L

    TinyNet, TinyData = make_project("lightning.pytorch")
    cb = InteractionCallback(sample_set=str(reference_dir / "annotation.pt"), grid=[4, 2], progress=False)
    module = TinyNet()
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=False, callbacks=[cb], enable_progress_bar=False,
                        enable_checkpointing=False, default_root_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=r"has a 4x4 patch grid but grid=\[4, 2\] was asked"):
        trainer.fit(module, datamodule=TinyData())
    assert trainer.global_step == 0


@pytest.mark.parametrize("kwargs, match", [
    (dict(grid=5, region=6), "does not fit the 5x5"),
    (dict(grid=4, region=2), "n=12 variables but only 4 candidate patches"),
    (dict(grid=4, candidates=[0, 17], n=2), "out of range"),
    (dict(grid="big"), "patches per side"),
])
def test_bad_image_options_are_refused_at_construction(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        InteractionCallback(**kwargs)


ALONE = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == {blocked!r} or name.startswith({blocked!r} + "."):
            raise ImportError("blocked for the test: " + name)
sys.meta_path.insert(0, Block())
import torch
from tests.integration.test_callback_packages import make_project
from harsanyi_lightning.callbacks import InteractionCallback
from harsanyi_lightning.callbacks.lightning_compat import INSTALLED
L = importlib.import_module({used!r})
loggers = importlib.import_module({used!r} + ".loggers")
assert INSTALLED == ({used!r},), INSTALLED
assert {blocked!r} not in sys.modules
TinyNet, TinyData = make_project({used!r})
cb = InteractionCallback(grid=4, n=2, per_class=1, progress=False, output_dir={out!r})
trainer = L.Trainer(max_epochs=1, accelerator="cpu", callbacks=[cb], logger=loggers.TensorBoardLogger({out!r}, name="tb"),
                    enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
trainer.fit(TinyNet(), datamodule=TinyData())
print("LOG_DIR", trainer.log_dir)
"""


@pytest.mark.slow
@pytest.mark.parametrize("blocked, used", [("pytorch_lightning", "lightning.pytorch"), ("lightning", "pytorch_lightning")])
def test_either_package_alone_is_enough(blocked, used, tmp_path):
    out = tmp_path / "out"
    script = ALONE.format(blocked=blocked, used=used, out=str(out))
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in out.glob("epoch_*.pt")) == ["epoch_000.pt", "epoch_001.pt"]
    log_dir = proc.stdout.split("LOG_DIR")[-1].strip()
    ea = events(Path(log_dir))
    assert "interactions/strength_by_order" in ea.Tags()["images"]
    assert "custom_scalars__config__" in ea.Tags()["tensors"]
