"""The worked example ``examples/lightning_image_classifier`` runs as its README says:
``python examples/lightning_image_classifier/main.py fit --config .../config.yaml`` on the unified
``lightning`` package, with the callback in the YAML, native 28x28x1 inputs on a 4x4 grid."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from harsanyi_lightning.interactions import AnnotatedSampleSet, load_artifact
from tests.shared_data import ROOT

EXAMPLE = ROOT / "examples" / "lightning_image_classifier"

pytestmark = pytest.mark.slow


def test_example_runs_and_puts_the_curves_beside_the_loss(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE / "main.py"), "fit", "--config", str(EXAMPLE / "config.yaml"),
         "--trainer.logger.init_args.save_dir", str(tmp_path / "runs"), "--trainer.enable_progress_bar", "false",
         "--trainer.enable_model_summary", "false"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    log_dir = tmp_path / "runs" / "lightning_image_classifier" / "version_0"
    out = log_dir / "interactions"

    # artifacts: 4 evaluations of 8 held-out 28x28x1 images, 8 of 16 patches each
    assert sorted(p.name for p in out.glob("epoch_*.pt")) == [f"epoch_00{e}.pt" for e in range(4)]
    anno = AnnotatedSampleSet.load(out / "annotation.pt")
    assert anno.grid == (4, 4) and anno.n == 8 and anno.inputs["pixels"].shape == (8, 1, 28, 28)
    assert sorted(anno.labels.tolist()) == [0, 0, 1, 1, 2, 2, 3, 3]
    final = load_artifact(out / "epoch_003.pt", "interactions")[0]
    assert final["values"].shape == (8, 256) and final["model"] == "StrokesClassifier"
    assert final["dataset"] == "StrokesDataModule" and final["annotation_hash"] == anno.hash
    jac = json.loads((out / "jaccard.json").read_text())
    assert jac["epochs"] == [0, 1, 2, 3] and jac["jaccard"][-1] == 1.0

    # TensorBoard: the model learns, the curves sit at the loss's steps, figures and dashboard are there
    ea = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    ea.Reload()
    scalars = {tag: {e.step: e.value for e in ea.Scalars(tag)} for tag in ea.Tags()["scalars"]}
    loss_steps = sorted(scalars["train/loss"])
    assert loss_steps == [7, 15, 23]  # 8 batches per epoch
    assert sorted(scalars["val/acc"]) == loss_steps and scalars["val/acc"][23] >= 0.9
    for tag in ("interactions/salient_count", "interactions/strength/order_1", "interactions/strength/order_8",
                "knowledge/jaccard_to_final"):
        assert sorted(scalars[tag]) == [0, *loss_steps], tag
    assert [scalars["knowledge/jaccard_to_final"][s] for s in (0, *loss_steps)] == pytest.approx(jac["jaccard"], rel=1e-6)
    assert [img.step for img in ea.Images("interactions/strength_by_order")] == [0, *loss_steps]
    assert "custom_scalars__config__" in ea.Tags()["tensors"]
