"""A tiny study config for the tests that run a study: a tiny BERT on generated sentences, 2 epochs per regime,
the three paper regimes (``probe``, ``finetune``, ``scratch``) as entries of ``regimes:`` (docs/study.md#regimes).

A module of its own, imported by the study tests and the reliability catalogue (``from tests.tiny_study import``)."""
from __future__ import annotations

import json
from pathlib import Path

from harsanyi_lightning.callbacks.artifact_layout import epoch_files

#: the regimes of the tiny study, in training order, with their kinds
REGIMES = {"probe": "probe", "finetune": "finetune", "scratch": "scratch"}

BASE = """\
seed_everything: 0
trainer:
  max_epochs: 2
  accelerator: cpu
  devices: 1
  deterministic: true
  enable_model_summary: false
  enable_progress_bar: false
  log_every_n_steps: 1
model:
  class_path: harsanyi_lightning.lightning_modules.FinetuneClassifier
  init_args: {backbone: tiny-bert, optimizer: {class_path: torch.optim.AdamW, init_args: {lr: 0.001}}}
data:
  class_path: harsanyi_lightning.datamodules.TinyTextDataModule
  init_args: {num_train: 32, num_val: 16, num_test: 16, batch_size: 16}
"""


def regime_files(folder: Path, kinds: dict[str, str] | None = None) -> dict[str, Path]:
    """``base.yaml`` and one file per regime naming its kind's module (``<regime>.yaml``) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.yaml").write_text(BASE)
    files = {}
    for regime, kind in (kinds or REGIMES).items():
        files[regime] = folder / f"{regime}.yaml"
        files[regime].write_text(f"config: base.yaml\nmodel.class_path: "
                                 f"harsanyi_lightning.lightning_modules.{kind.capitalize()}Classifier\n")
    return files


def write_tiny_study(folder: Path, study_dir: Path, kill: dict | None = None, n: int = 5, *, num_samples: int = 2,
                     num_workers: int = 0, seeds: list[int] | None = None, report: bool = True, test: bool = False,
                     batch_size: int = 16, interactions: str = "", probe_interactions: str = "", extra: str = "",
                     more_regimes: dict[str, tuple[str, str]] | None = None, figures: bool = False) -> Path:
    """A tiny study config at ``folder/study.yaml`` writing into ``study_dir``.

    ``n``: words per sentence (= variables); ``kill``: init args of the test-only ``kill_callback.KillOnce`` added
    to every regime; ``num_workers``: DataLoader worker processes (persistent); ``seeds``: the study's ``seeds``;
    ``report=False``: no report at the end; ``figures``: the report
    draws its figures (off by default: the tests that look at figures ask for them); ``batch_size``: masked inputs per forward pass; ``interactions`` / ``probe_interactions``: extra flow-style items of the
    study's and the probe's ``interactions``; ``extra``: more top-level YAML; ``more_regimes``: ``{name: (kind,
    overrides)}`` regimes beside the paper's three, ``overrides`` a flow-style YAML mapping (``{model: ...}``)."""
    more = more_regimes or {}
    files = regime_files(folder, {**REGIMES, **{name: kind for name, (kind, _) in more.items()}})
    callbacks = ""
    if kill is not None:
        callbacks = f"  trainer: {{callbacks: [{{class_path: kill_callback.KillOnce, init_args: {json.dumps(kill)}}}]}}\n"
    workers = f", num_workers: {num_workers}" if num_workers else ""
    lr = "{model: {init_args: {optimizer: {init_args: {lr: %s}}}}}"
    more_yaml = "".join(f"  {name}: {{kind: {kind}, configs: [{files[name]}], overrides: {overrides}}}\n"
                        for name, (kind, overrides) in more.items())
    cfg = folder / "study.yaml"
    cfg.write_text(f"""\
study_dir: {study_dir}
shared:
  data: {{init_args: {{num_train: 32, words: {n}{workers}}}}}
{callbacks}regimes:
  probe: {{kind: probe, configs: [{files['probe']}], overrides: {lr % 0.01}, interactions: {{{probe_interactions}}}}}
  finetune: {{kind: finetune, configs: [{files['finetune']}]}}
  scratch: {{kind: scratch, configs: [{files['scratch']}], overrides: {lr % 0.003}}}
{more_yaml}sample_set: {{n: {n}, num_samples: {num_samples}, seed: 0}}
interactions: {{batch_size: {batch_size}, progress: false, figures: false{', ' + interactions if interactions else ''}}}
test: {str(test).lower()}
""" + (f"seeds: {json.dumps(seeds)}\n" if seeds is not None else "") + ("" if report else "report: false\n")
           + ("" if figures else "figures: false\n") + extra)
    return cfg


def regime_epochs(root: Path, regime: str) -> dict[int, Path]:
    """``{epoch: path}`` of a regime's epoch artifacts in run folder ``root``."""
    return epoch_files(root / regime / "interactions")


__all__ = ["BASE", "REGIMES", "regime_epochs", "regime_files", "write_tiny_study"]
