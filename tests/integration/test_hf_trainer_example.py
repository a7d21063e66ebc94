"""The example ``examples/hf_trainer_sst2`` in its small version: the packaged MiniLM fine-tuned with
``transformers.Trainer`` on 64 SST-2 sentences for one epoch, with ``InteractionTrainerCallback``; the
artifacts are written and TensorBoard holds the interaction curves at the loss's step."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from harsanyi_lightning.interactions import AnnotatedSampleSet, load_artifact
from tests.shared_data import ROOT, require_shared_sst2

EXAMPLE = ROOT / "examples" / "hf_trainer_sst2"

pytestmark = pytest.mark.slow


def test_small_example_writes_the_artifacts_and_the_curves(tmp_path):
    data = require_shared_sst2()
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE / "main.py"), "--data_dir", str(data), "--output_dir", str(out),
         "--train_size", "64", "--eval_size", "32", "--epochs", "1", "--num_samples", "2", "--n", "4"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore", "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = out / "interactions"
    assert sorted(p.name for p in folder.glob("epoch_*.pt")) == ["epoch_000.pt", "epoch_001.pt"]
    anno = AnnotatedSampleSet.load(folder / "annotation.pt")
    assert anno.n == 4 and len(anno) == 2 and anno.meta["pool"] == "sst2-dev"
    final = load_artifact(folder / "epoch_001.pt", "interactions")[0]
    assert final["values"].shape == (2, 16) and final["model"] == "BertForSequenceClassification"
    assert final["global_step"] == 2  # 64 sentences, batch 32
    assert json.loads((folder / "jaccard.json").read_text())["epochs"] == [0, 1]

    (events,) = {p.parent for p in (out / "runs").rglob("events.out.tfevents.*")}
    ea = EventAccumulator(str(events), size_guidance={"scalars": 0})
    ea.Reload()
    steps = {tag: sorted(e.step for e in ea.Scalars(tag)) for tag in ea.Tags()["scalars"]}
    assert steps["train/loss"] == [2] and steps["eval/accuracy"] == [2]
    for tag in ("train/interactions/salient_count", "train/interactions/strength/order_4",
                "train/knowledge/jaccard_to_final"):
        assert steps[tag] == [0, 2], tag
