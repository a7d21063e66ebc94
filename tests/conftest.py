"""Shared pytest fixtures. Hub downloads are switched off for the whole test session."""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: the shared SST-2 copy beside the repository (never copied into it)
SST2_DIR = ROOT.parent / "shared" / "data" / "sst2"


def require_shared_sst2() -> Path:
    """``../shared/data/sst2``; skip with a reason when absent, but fail under ``CI=true``."""
    if not (SST2_DIR / "train.tsv").is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the shared SST-2 data is missing at {SST2_DIR}")
        pytest.skip(f"shared SST-2 data not found at {SST2_DIR}")
    return SST2_DIR


@pytest.fixture
def sst2_dir() -> Path:
    return require_shared_sst2()


@pytest.fixture
def quick_trainer(tmp_path):
    """``quick_trainer(**kw)``: a CPU Trainer for one short epoch, no checkpoints or progress bars."""
    import pytorch_lightning as pl

    def make(**kwargs) -> pl.Trainer:
        defaults = dict(
            max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(tmp_path),
            num_sanity_val_steps=0,
        )
        defaults.update(kwargs)
        return pl.Trainer(**defaults)

    return make
