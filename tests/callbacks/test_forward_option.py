"""The ``forward`` option (docs/callback.md#forward): a module without ``forward`` fails at ``setup`` with the
fix, and a name (``forward: net``) points the callback at the attribute holding the network, in Python
and through LightningCLI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import yaml
from torch import nn

from harsanyi_lightning.callbacks import EvaluationOptions, InteractionCallback
from harsanyi_lightning.callbacks.model_forward import AttributeForward, resolve_forward
from harsanyi_lightning.cli import main
from harsanyi_lightning.interactions import AnnotatedSampleSet, ConfigError, harsanyi_interactions, load_artifact
from harsanyi_lightning.interactions.values import default_forward
from harsanyi_lightning.lightning_modules.tiny_networks import TinyCNN
from tests.callback_fixtures import NetOnlyTabularClassifier, ToyModule, tabular_task


class NetOnlyImageClassifier(pl.LightningModule):
    """An image classifier of 'another project' for the CLI: the network in ``self.net``, no ``forward``."""

    def __init__(self, num_classes: int = 3, backbone: str = "tiny-cnn"):
        super().__init__()
        self.backbone = backbone
        torch.manual_seed(0)
        self.net = TinyCNN(num_classes)
        self.train_steps = 0

    def training_step(self, batch, batch_idx):
        x, y = batch
        self.train_steps += 1
        return nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def quiet_trainer(root: Path, callback: InteractionCallback, epochs: int = 1) -> pl.Trainer:
    return pl.Trainer(max_epochs=epochs, callbacks=[callback], default_root_dir=str(root), accelerator="cpu",
                      enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False, logger=False)


def test_module_without_forward_fails_at_setup_with_the_fix(tmp_path):
    loader, annotation = tabular_task(tmp_path)
    out = tmp_path / "interactions"
    callback = InteractionCallback(sample_set=str(annotation), output_dir=str(out), progress=False)
    module = NetOnlyTabularClassifier()
    steps = []
    module.on_train_batch_start = lambda *args: steps.append(1)
    with pytest.raises(ConfigError) as info:
        quiet_trainer(tmp_path, callback).fit(module, loader)
    message = str(info.value)
    assert "NetOnlyTabularClassifier defines no forward()" in message
    assert "calls the module on the masked inputs" in message
    assert "def forward(self, x): return self.net(x)" in message  # the fix, with the module's own attribute
    assert "forward=fn" in message and "`forward: net`" in message
    assert not steps and not out.exists()  # before any work: no training step, no folder, no evaluation


def test_forward_by_attribute_name_matches_the_network(tmp_path):
    loader, annotation = tabular_task(tmp_path)
    callback = InteractionCallback(sample_set=str(annotation), forward="net", progress=False,
                                   output_dir=str(tmp_path / "interactions"))
    module = NetOnlyTabularClassifier()
    quiet_trainer(tmp_path, callback).fit(module, loader)
    final = load_artifact(tmp_path / "interactions" / "epoch_001.pt", "interactions")[0]
    expected = harsanyi_interactions(module.net, AnnotatedSampleSet.load(annotation))
    torch.testing.assert_close(final["dividends"], expected.dividends, rtol=0, atol=0)
    assert callback.forward == "net"  # the option keeps what the user wrote


def test_forward_names_resolve_by_the_documented_rule():
    outer = nn.Module()
    outer.model = nn.Module()
    outer.model.backbone = nn.Linear(3, 2)
    outer.scale = 2.0
    chain = resolve_forward(outer, "model.backbone")
    assert isinstance(chain, AttributeForward)
    x = torch.randn(5, 3)
    torch.testing.assert_close(chain(outer, x), outer.model.backbone(x))
    # a first part that is no attribute: an import path (dotted or with a colon)
    assert resolve_forward(outer, "harsanyi_lightning.interactions.values.default_forward") is default_forward
    assert resolve_forward(outer, "harsanyi_lightning.interactions.values:default_forward") is default_forward
    assert resolve_forward(ToyModule(), None) is default_forward  # a module with its own forward
    with pytest.raises(ConfigError, match="no attribute chain 'model.head'"):
        resolve_forward(outer, "model.head")
    with pytest.raises(ConfigError, match="is a float, not a torch.nn.Module"):
        resolve_forward(outer, "scale")
    with pytest.raises(ConfigError, match="neither an attribute of Module .*submodules: model.* nor an importable"):
        resolve_forward(outer, "nett")
    with pytest.raises(ConfigError, match="is not a name"):
        EvaluationOptions(forward="net work")
    with pytest.raises(ConfigError, match="must be a function"):
        EvaluationOptions(forward=3)


def cli_config(tmp_path: Path, forward: str | None) -> Path:
    callback = {"class_path": "harsanyi_lightning.callbacks.InteractionCallback",
                "init_args": {"n": 3, "per_class": 1, "progress": False, "output_dir": str(tmp_path / "interactions")}}
    if forward is not None:
        callback["init_args"]["forward"] = forward
    config = {
        "model": {"class_path": f"{__name__}.NetOnlyImageClassifier"},
        "data": {"class_path": "harsanyi_lightning.datamodules.TinyImageDataModule",
                 "init_args": {"num_train": 8, "num_val": 6, "batch_size": 8}},
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "enable_progress_bar": False,
                    "enable_checkpointing": False, "enable_model_summary": False, "logger": False,
                    "default_root_dir": str(tmp_path / "runs"), "callbacks": [callback]},
    }
    path = tmp_path / "fit.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_forward_net_in_yaml_through_lightning_cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # without it, the run stops at setup with the fix
    with pytest.raises(ConfigError, match="NetOnlyImageClassifier defines no forward.*`forward: net`"):
        main(["fit", "--config", str(cli_config(tmp_path, None))], model_class=pl.LightningModule)
    assert not (tmp_path / "interactions").exists()
    # with `forward: net` the same run works and writes its artifacts
    cli = main(["fit", "--config", str(cli_config(tmp_path, "net"))], model_class=pl.LightningModule)
    (callback,) = [c for c in cli.trainer.callbacks if isinstance(c, InteractionCallback)]
    assert callback.forward == "net" and cli.model.train_steps > 0
    out = tmp_path / "interactions"
    assert json.loads((out / "final.json").read_text())["epoch"] == 1
    final = load_artifact(out / "epoch_001.pt", "interactions")[0]
    assert final["n"] == 3 and final["model"] == "tiny-cnn"
    expected = harsanyi_interactions(cli.model.net, AnnotatedSampleSet.load(out / "annotation.pt"))
    torch.testing.assert_close(final["dividends"], expected.dividends, rtol=0, atol=0)
