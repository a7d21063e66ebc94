"""Fixtures shared by every test folder. Hub downloads are switched off for the whole test session.

``tests`` is a package (each folder has an ``__init__.py``): plain helpers are imported by their
module name (``from tests.shared_data import ROOT``, ``from tests.callback_fixtures import ToyModule``),
fixtures come from here and from each folder's own ``conftest.py``."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # one intra-op thread per pytest-xdist worker, and in the processes it starts: two workers with a thread per
    # core each would run four threads on a 2-core machine
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402

from tests.shared_data import require_shared_sst2  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


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
