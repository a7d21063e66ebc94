"""Shared helpers of the reliability catalogue (tests/reliability): tiny study configs and runners."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INJECT = Path(__file__).resolve().parent / "inject"
STAGES = ("probe", "finetune", "scratch")

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
  class_path: lightning_modules.FinetuneClassifier
  init_args: {backbone: tiny-bert, lr: 0.001}
data:
  class_path: datamodules.TinyTextDataModule
  init_args: {num_train: 32, num_val: 16, num_test: 16, batch_size: 16}
"""


def write_tiny_study(folder: Path, study_dir: Path, kill: dict | None = None, n: int = 5) -> Path:
    """A tiny study config (tiny BERT, generated sentences, 2 epochs per stage) at ``folder/study.yaml``.

    ``kill``: init args of the test-only ``kill_callback.KillOnce`` added to every stage."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.yaml").write_text(BASE)
    for regime in STAGES:
        (folder / f"{regime}.yaml").write_text(
            f"config: base.yaml\nmodel.class_path: lightning_modules.{regime.capitalize()}Classifier\n")
    callbacks = ""
    if kill is not None:
        callbacks = f"  trainer: {{callbacks: [{{class_path: kill_callback.KillOnce, init_args: {json.dumps(kill)}}}]}}\n"
    cfg = folder / "study.yaml"
    cfg.write_text(f"""\
study_dir: {study_dir}
shared:
  data: {{init_args: {{num_train: 32, words: {n}}}}}
{callbacks}probe: {{configs: [{folder / 'probe.yaml'}], overrides: {{model: {{init_args: {{lr: 0.01}}}}}}}}
finetune: {{configs: [{folder / 'finetune.yaml'}]}}
scratch: {{configs: [{folder / 'scratch.yaml'}], overrides: {{model: {{init_args: {{lr: 0.003}}}}}}}}
sample_set: {{n: {n}, num_samples: 2, seed: 0}}
interactions: {{batch_size: 16, progress: false, figures: false}}
test: false
""")
    return cfg


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONHASHSEED="0",
               PYTHONPATH=os.pathsep.join([str(INJECT), str(ROOT)]))
    env.update(extra)
    return env


def run_cli(*args: str, env: dict | None = None, check: bool = False) -> subprocess.CompletedProcess:
    """``python cli.py <args>`` in a subprocess from the repository root; output captured."""
    proc = subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, env=env or cli_env(),
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"cli.py {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture
def tiny_study_config(tmp_path):
    """``make(kill=None) -> (config path, study dir)`` in a fresh temporary folder."""
    def make(kill: dict | None = None, name: str = "study", n: int = 5) -> tuple[Path, Path]:
        study = tmp_path / name
        return write_tiny_study(tmp_path / f"{name}_configs", study, kill, n), study

    return make


@pytest.fixture(scope="session")
def finished_study(tmp_path_factory) -> tuple[Path, Path]:
    """``(config, study dir)`` of the tiny study run once to the end by ``python cli.py study`` (its
    kill callback present but disarmed). Tests that change it must restore it, or work on a copy."""
    root = tmp_path_factory.mktemp("finished")
    marker = root / "marker"
    marker.write_text("disarmed")
    cfg = write_tiny_study(root / "configs", root / "study", dict(marker=str(marker)))
    run_cli("study", "--config", str(cfg), check=True)
    return cfg, root / "study"
