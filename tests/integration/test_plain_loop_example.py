"""The plain PyTorch loop of ``examples/plain_pytorch_loop`` runs as its README says and writes what the Lightning
callback writes: the artifacts of every scheduled evaluation, the Jaccard curve, and the scalars beside its loss."""
from __future__ import annotations

import json
import subprocess
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from harsanyi_lightning.interactions import load_artifact
from tests.shared_data import ROOT


def test_the_plain_loop_example_records_the_interactions(tmp_path):
    out = tmp_path / "plain"
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "plain_pytorch_loop" / "main.py"), "--out",
                           str(out)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = out / "interactions"
    names = sorted(p.name for p in folder.glob("*.pt"))
    # 16 batches per epoch: step 16 is the end of epoch 1, evaluated once, as that epoch's
    assert names == ["annotation.pt", "epoch_000.pt", "epoch_001.pt", "epoch_002.pt", "epoch_003.pt",
                     "step_0000004.pt", "step_0000008.pt"]
    curve = json.loads((folder / "jaccard.json").read_text())
    assert curve["steps"] == [0, 4, 8, 16, 32, 48] and curve["epoch_fractions"] == [0.0, 0.25, 0.5, 1.0, 2.0, 3.0]
    assert curve["jaccard"][-1] == 1.0 and json.loads((folder / "final.json").read_text())["file"] == "epoch_003.pt"
    final = load_artifact(folder / "epoch_003.pt", "interactions")[0]
    assert final["values"].shape == (8, 64) and final["model"] == "Sequential" and final["global_step"] == 48
    events = EventAccumulator(str(out), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    tags = events.Tags()
    assert {e.step for e in events.Scalars("interactions/salient_count")} == set(curve["steps"])
    assert [e.step for e in events.Scalars("knowledge/jaccard_to_final")] == curve["steps"]
    assert "train/loss" in tags["scalars"] and "interactions/strength_by_order" in tags["images"]
