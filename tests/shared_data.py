"""Where the tests find the repository and the shared SST-2 copy (importable by test files)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

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
