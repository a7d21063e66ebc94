"""DDP: two CPU processes (gloo, ``strategy="ddp"``) give the interactions of one process.

Each rank evaluates its share of the 5 samples (3 + 2, padded), the values are
gathered, padding dropped and the order restored; rank zero writes the files.
The fits run as subprocesses of ``callback_fixtures.py`` so Lightning can launch
its ranks the normal way.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harsanyi_lightning.interactions import load_artifact

FIXTURES = Path(__file__).resolve().parents[1] / "callback_fixtures.py"


def run_fit(out: Path, devices: int, *extra: str) -> None:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(FIXTURES), "--out", str(out), "--devices", str(devices), *extra],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (out / f"done_rank0_world{devices}").is_file(), proc.stderr[-3000:]


@pytest.mark.slow
def test_ddp_two_processes_equal_one_process(tmp_path):
    """Also with AND-OR on (each rank solves its share of the LPs; the shares are gathered)."""
    run_fit(tmp_path / "ddp", 2, "--and-or", "lp")
    run_fit(tmp_path / "single", 1, "--and-or", "lp")
    a_dir, b_dir = tmp_path / "ddp" / "interactions", tmp_path / "single" / "interactions"
    names = sorted(p.name for p in b_dir.glob("epoch_*.pt"))
    assert names == ["epoch_000.pt", "epoch_001.pt", "epoch_002.pt"]
    assert sorted(p.name for p in a_dir.glob("epoch_*.pt")) == names
    for name in names:
        a, _ = load_artifact(a_dir / name, "interactions")
        b, _ = load_artifact(b_dir / name, "interactions")
        assert a["values"].shape == b["values"].shape == (5, 16)  # no padding duplicates
        assert a["annotation_hash"] == b["annotation_hash"] and a["epoch"] == b["epoch"]
        # same weights at every epoch: equal up to fp32 rounding of differently batched forwards
        torch.testing.assert_close(a["values"], b["values"], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(a["dividends"], b["dividends"], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(a["shapley"], b["shapley"], rtol=1e-6, atol=1e-6)
        assert a["and_or"]["solver"] == b["and_or"]["solver"] == "lp"
        assert a["and_or"]["and_dividends"].shape == a["and_or"]["or_dividends"].shape == (5, 16)
        # the optimum (not necessarily the optimal point) of each sample, in the samples' order
        torch.testing.assert_close(a["and_or"]["objective"], b["and_or"]["objective"], rtol=1e-5, atol=1e-6)
        # each gathered row belongs to its own sample: v'(x_N) = v'(x_∅) + Σ_{S≠∅} I_and(S) + Σ_{S≠∅} I_or(S)
        noisy = a["values"] + a["and_or"]["noise"]
        rebuilt = noisy[:, 0] + a["and_or"]["and_dividends"][:, 1:].sum(1) + a["and_or"]["or_dividends"][:, 1:].sum(1)
        torch.testing.assert_close(rebuilt, noisy[:, -1], rtol=0, atol=1e-9)
    ja = json.loads((a_dir / "jaccard.json").read_text())
    jb = json.loads((b_dir / "jaccard.json").read_text())
    assert ja["epochs"] == jb["epochs"] == [0, 1, 2]
    assert ja["jaccard"] == pytest.approx(jb["jaccard"], abs=1e-4)
    assert ja["jaccard"][0] < 0.99  # the epochs differ, so the comparison above is not trivial
