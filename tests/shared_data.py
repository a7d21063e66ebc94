"""Where the tests find the repository and the shared SST-2 copy (``from tests.shared_data import ROOT``).

The package itself is installed (``pip install -e .``); ``ROOT`` is only the checkout's folder, for
its files (``cli.py``, ``configs/``, ``examples/``, ``docs/``)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["ROOT", "SST2_DIR", "require_shared_sst2"]

#: the repository checkout
ROOT = Path(__file__).resolve().parents[1]

#: the shared SST-2 copy beside the repository (never copied into it)
SST2_DIR = ROOT.parent / "shared" / "data" / "sst2"


def require_shared_sst2() -> Path:
    """``../shared/data/sst2``; skip with a reason when absent, but fail under ``CI=true``."""
    if not (SST2_DIR / "train.tsv").is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the shared SST-2 data is missing at {SST2_DIR}")
        pytest.skip(f"shared SST-2 data not found at {SST2_DIR}")
    return SST2_DIR
