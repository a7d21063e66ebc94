"""Helpers of the reliability catalogue (tests/reliability): tiny study configs and runners.

A module of its own (not conftest) so test files can import it: two conftest modules would shadow
each other under ``from conftest import``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
  init_args: {backbone: tiny-bert, optimizer: {class_path: torch.optim.AdamW, init_args: {lr: 0.001}}}
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
{callbacks}probe: {{configs: [{folder / 'probe.yaml'}], overrides: {{model: {{init_args: {{optimizer: {{init_args: {{lr: 0.01}}}}}}}}}}}}
finetune: {{configs: [{folder / 'finetune.yaml'}]}}
scratch: {{configs: [{folder / 'scratch.yaml'}], overrides: {{model: {{init_args: {{optimizer: {{init_args: {{lr: 0.003}}}}}}}}}}}}
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
