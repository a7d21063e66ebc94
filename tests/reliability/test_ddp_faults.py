"""DDP faults: a 2-process CPU run (gloo) in which rank 0 is SIGKILLed in the middle of a training epoch,
then (running the same command again, which resumes) rank 1 is SIGKILLed in the middle of an interaction
evaluation; the surviving rank stops by itself each time instead of waiting forever, and the third run of
the same command resumes and ends equal to an uninterrupted 2-process run (values to 1e-6, the same
epochs, the same Jaccard curve). The command is `cli.py fit --ckpt_path last` (resumes from `last.ckpt`
when it exists); the kills come from the test-only `kill_callback.KillOnce` in the config."""
from __future__ import annotations

import json
import signal

import pytest
import torch

from tests.reliability.harness import run_ddp_fit, write_ddp_fit
from harsanyi_lightning.interactions.artifacts import load_artifact

pytestmark = pytest.mark.slow

KILLS = [
    dict(at="train", epoch=1, batch=0, rank=0),  # run 1: rank 0 (Lightning's launcher) dies mid-epoch
    dict(at="evaluation", epoch=1, call=1, rank=1),  # run 2: rank 1 dies inside the evaluation after epoch 1
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("ddp_faults")
    reference = run_ddp_fit(write_ddp_fit(root / "reference.yaml", root / "reference"))
    assert reference.returncode == 0, reference.stderr[-3000:]
    kills = [dict(k, marker=str(root / f"killed_{i}")) for i, k in enumerate(KILLS, 1)]
    cfg = write_ddp_fit(root / "faulty.yaml", root / "faulty", kills)
    return {"root": root, "reference": root / "reference", "out": root / "faulty",
            "runs": [run_ddp_fit(cfg) for _ in range(3)]}


def test_rank_0_killed_mid_epoch_stops_rank_1_with_a_clear_error(runs):
    run = runs["runs"][0]
    assert "killed in training epoch 1, batch 0" in (runs["root"] / "killed_1").read_text()
    assert run.returncode == -signal.SIGKILL
    # rank 1 (now an orphan) noticed and ended by itself (run_ddp_fit waited for it), with one clear line
    assert "error (WorkerError): another DDP process of this run died" in run.stderr, run.stderr[-3000:]
    assert (runs["out"] / "checkpoints" / "last.ckpt").is_file()  # epoch 0 was checkpointed before


def test_rank_1_killed_mid_evaluation_stops_rank_0(runs):
    run = runs["runs"][1]
    assert "killed in the interaction evaluation after epoch 1" in (runs["root"] / "killed_2").read_text()
    assert "Restored all states from the checkpoint" in run.stderr + run.stdout  # it resumed run 1's epoch 0
    # rank 0 stops: with the WorkerError of its failed collective, or killed by Lightning's launcher, which
    # watches its child processes every 5 s
    assert run.returncode == -signal.SIGKILL or (
        run.returncode == 2 and "error (WorkerError): another DDP process of this run died" in run.stderr
    ), (run.returncode, run.stderr[-3000:])
    # the output_dir lock of the killed rank 0 of run 1 was taken over, with a warning
    assert "taking over the lock left by pid" in run.stderr


def test_resumed_ddp_run_equals_an_uninterrupted_one(runs):
    run = runs["runs"][2]
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Restored all states from the checkpoint" in run.stderr + run.stdout
    ref, got = runs["reference"] / "interactions", runs["out"] / "interactions"
    names = sorted(p.name for p in ref.glob("epoch_*.pt"))
    assert names == ["epoch_000.pt", "epoch_001.pt", "epoch_002.pt"]
    assert sorted(p.name for p in got.glob("epoch_*.pt")) == names
    for name in names:
        a, _ = load_artifact(ref / name, "interactions")
        b, _ = load_artifact(got / name, "interactions")
        for key in ("epoch", "global_step", "annotation_hash"):
            assert a[key] == b[key], (name, key)
        torch.testing.assert_close(b["values"], a["values"], rtol=0, atol=1e-6)
        torch.testing.assert_close(b["dividends"], a["dividends"], rtol=0, atol=1e-6)
    ja, jb = (json.loads((d / "jaccard.json").read_text()) for d in (ref, got))
    assert ja["epochs"] == jb["epochs"] == [0, 1, 2] and ja["final_epoch"] == jb["final_epoch"] == 2
    assert jb["jaccard"] == pytest.approx(ja["jaccard"], abs=1e-6)
    assert ja["jaccard"][0] < 0.99  # the epochs differ, so the comparison is not trivial
