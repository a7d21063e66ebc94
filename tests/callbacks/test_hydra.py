"""``configs/callbacks/interactions.yaml``: the callback built by Hydra from a ``_target_`` entry, as
lightning-hydra-template builds its callbacks (docs/use_in_your_project.md#hydra)."""
from __future__ import annotations

import inspect
import json

import pytorch_lightning as pl
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from harsanyi_lightning.callbacks import InteractionCallback
from harsanyi_lightning.interactions import load_artifact
from tests.callback_fixtures import NetOnlyTabularClassifier, tabular_task
from tests.shared_data import ROOT

CONFIG = ROOT / "configs" / "callbacks" / "interactions.yaml"


def instantiate_callbacks(callbacks_cfg: DictConfig) -> list:
    """The template's ``instantiate_callbacks``: every entry with a ``_target_`` becomes a callback."""
    return [instantiate(conf) for conf in callbacks_cfg.values() if isinstance(conf, DictConfig) and "_target_" in conf]


def test_config_defaults_are_the_callbacks_defaults():
    entry = OmegaConf.to_container(OmegaConf.load(CONFIG))["interactions"]
    assert entry.pop("_target_") == "harsanyi_lightning.callbacks.InteractionCallback"
    assert entry.pop("_convert_") == "all"
    defaults = {name: p.default for name, p in inspect.signature(InteractionCallback).parameters.items()}
    assert set(entry) <= set(defaults), set(entry) - set(defaults)
    for name, value in entry.items():  # references: {} in YAML for the signature's None (no references)
        assert value == ({} if name == "references" else defaults[name]), name


def test_hydra_composes_the_callback_and_fits(tmp_path):
    loader, annotation = tabular_task(tmp_path)
    out = tmp_path / "interactions"
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(overrides=[
            "+callbacks=interactions", f"callbacks.interactions.sample_set={annotation}",
            f"callbacks.interactions.output_dir={out}", "callbacks.interactions.forward=net",
            "callbacks.interactions.every_n_epochs=2", "callbacks.interactions.progress=false",
        ])
    (callback,) = instantiate_callbacks(cfg.callbacks)
    assert isinstance(callback, InteractionCallback)
    assert (callback.forward, callback.every_n_epochs, callback.sample_set) == ("net", 2, str(annotation))
    trainer = pl.Trainer(max_epochs=3, callbacks=[callback], default_root_dir=str(tmp_path), accelerator="cpu",
                         enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False,
                         logger=False)
    trainer.fit(NetOnlyTabularClassifier(), loader)
    assert sorted(p.name for p in out.glob("epoch_*.pt")) == ["epoch_000.pt", "epoch_002.pt", "epoch_003.pt"]
    assert json.loads((out / "final.json").read_text())["epoch"] == 3
    assert load_artifact(out / "epoch_003.pt", "interactions")[0]["n"] == 6
