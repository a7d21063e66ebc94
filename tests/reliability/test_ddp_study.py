"""The study under DDP (docs/study.md#many-devices-and-machines): the tiny study (configs/tiny/study.yaml) on
2 CPU processes (gloo), started the three ways a user starts it:

- ``python cli.py study ... --shared.trainer.devices 2 --shared.trainer.strategy ddp``: Lightning's subprocess
  launcher re-runs the command for rank 1;
- two ``python cli.py study ...`` with the environment ``srun`` gives its tasks (``SLURM_PROCID`` ...):
  Lightning's SLURM environment finds them;
- ``python -m torch.distributed.run --nproc_per_node 2 cli.py study ...``: torchrun starts both ranks.

The reference runs uninterrupted under Lightning's launcher and ends with a complete report. Then the same study
is run with faults, one command after the other, each started another way: under Lightning's launcher rank 0 is
SIGKILLed in the middle of a training epoch of finetune (rank 1 stops by itself with an error naming the regime);
the same command under SLURM's environment resumes it and rank 1 is SIGKILLed inside an interaction evaluation of
scratch (rank 0 stops with an error); the same command under torchrun finishes it. Its result equals the
reference bit for bit, so each launcher trained (and resumed) its regimes to the same numbers. The kills come from
the test-only ``kill_callback.KillOnce`` given on the command line (``--shared.trainer.callbacks``)."""
from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.harness import ROOT, assert_same, cli_env, snapshot

pytestmark = pytest.mark.slow

TINY = ["--config", "configs/tiny/study.yaml", "--figures", "false", "--shared.trainer.devices", "2",
        "--shared.trainer.accelerator", "cpu", "--shared.trainer.strategy", "ddp"]

KILLS = [
    dict(regime="finetune", at="train", epoch=1, batch=0, rank=0),  # run 1: rank 0 (the launcher) dies mid-epoch
    dict(regime="scratch", at="evaluation", epoch=0, call=1, rank=1),  # run 2: rank 1 dies inside an evaluation
]


def run(command: list[str], limit_s: float = 400.0) -> subprocess.CompletedProcess:
    """``command`` from the repository root; returns once every process of the run has ended (rank 1 too when
    rank 0 was killed: its output goes to the same pipes); a process still running after ``limit_s`` fails
    the test as a hang."""
    env = cli_env(CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"a rank was left hanging:\n{out[-2000:]}\n{err[-3000:]}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def slurm_tasks(study_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    """The study as ``srun`` runs it: one process per task, with the environment srun gives each task; the tasks'
    output joined (rank zero's first), the return code rank zero's or, when it succeeded, rank one's."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for task in range(2):
        env = cli_env(CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore", SLURM_NTASKS="2",
                      SLURM_NTASKS_PER_NODE="2", SLURM_NNODES="1", SLURM_JOB_NUM_NODES="1", SLURM_JOB_NAME="study",
                      SLURM_JOB_ID="4242", SLURM_PROCID=str(task), SLURM_LOCALID=str(task), SLURM_NODEID="0",
                      SLURM_NODELIST="localhost", MASTER_PORT=str(port))
        procs.append(subprocess.Popen([sys.executable, "cli.py", "study", *TINY, "--study_dir", str(study_dir), *extra],
                                      cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    done = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=400)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise AssertionError("a SLURM task was left hanging") from None
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    zero, one = done
    return subprocess.CompletedProcess(zero.args, zero.returncode or one.returncode, zero.stdout + one.stdout,
                                       zero.stderr + one.stderr)


def study(study_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "cli.py", "study", *TINY, "--study_dir", str(study_dir), *extra])


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("ddp_study")
    reference = study(root / "reference")
    assert reference.returncode == 0, reference.stdout[-2000:] + reference.stderr[-3000:]
    kills = [dict(k, marker=str(root / f"killed_{i}")) for i, k in enumerate(KILLS, 1)]
    callbacks = json.dumps([{"class_path": "kill_callback.KillOnce", "init_args": k} for k in kills])
    faulty_dir = root / "faulty"
    extra = ("--shared.trainer.callbacks", callbacks)
    launchers = [
        lambda: study(faulty_dir, *extra),  # Lightning's launcher: rank 0 killed in training
        lambda: slurm_tasks(faulty_dir, *extra),  # SLURM's environment: resumes, rank 1 killed in an evaluation
        lambda: run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                     "cli.py", "study", *TINY, "--study_dir", str(faulty_dir), *extra]),  # torchrun: finishes
    ]
    faulty, after = [], []
    for launch in launchers:
        faulty.append(launch())
        after.append({p.relative_to(faulty_dir).as_posix() for p in faulty_dir.rglob("*")
                      if p.name in ("summary.json", "last.ckpt")})  # the files each run left
    return {"root": root, "reference": reference, "faulty": faulty, "after": after}


def test_two_processes_write_a_complete_report_from_rank_zero(runs):
    study_dir = runs["root"] / "reference"
    out = runs["reference"].stdout
    assert out.count("[study] regime 2/3: finetune -> ") == 1  # progress lines from rank zero only
    assert "[study] study finished" in out
    assert "Starting with 2 processes" in runs["reference"].stderr + out
    report = json.loads((study_dir / "report" / "report.json").read_text())
    for key in ("preserve", "discard", "new"):
        assert math.isfinite(report["knowledge_totals"][key]), key
    assert math.isfinite(report["ratio"]["ratio"])
    for regime in ("probe", "finetune", "scratch"):
        summary = json.loads((study_dir / regime / "summary.json").read_text())
        assert summary["final_epoch"] == 2 and 0.0 <= summary["val_acc"] <= 1.0
        assert sorted(p.name for p in (study_dir / regime / "interactions").glob("epoch_*.pt")) == [
            "epoch_000.pt", "epoch_001.pt", "epoch_002.pt"]
    assert (study_dir / "report" / "report.md").is_file()
    assert not list(study_dir.rglob(".*.tmp")) and not (study_dir / ".harsanyi.lock.json").exists()


def test_rank_0_killed_in_training_stops_rank_1_with_an_error_naming_the_regime(runs):
    first = runs["faulty"][0]
    assert "killed in training epoch 1, batch 0" in (runs["root"] / "killed_1").read_text()
    assert first.returncode == -signal.SIGKILL
    assert ("error (WorkerError): regime finetune stopped: another DDP process of this study died"
            in first.stderr), first.stderr[-3000:]
    assert "Rerun the same command to resume the study" in first.stderr
    # probe finished; finetune's epoch 0 was checkpointed, and it did not finish
    assert runs["after"][0] == {"probe/summary.json", "probe/checkpoints/last.ckpt", "finetune/checkpoints/last.ckpt"}


def test_under_slurm_the_study_resumes_and_rank_1_killed_in_an_evaluation_stops_rank_0(runs):
    second = runs["faulty"][1]
    assert "killed in the interaction evaluation after epoch 0" in (runs["root"] / "killed_2").read_text()
    assert "SLURM" in second.stderr + second.stdout  # Lightning's SLURM environment ran the ranks
    assert "probe: complete, skipped" in second.stdout
    assert "(resuming from" in second.stdout  # finetune resumed from run 1's checkpoint
    assert "regime 2/3: finetune done" in second.stdout
    assert "finetune/summary.json" in runs["after"][1] and "scratch/summary.json" not in runs["after"][1]
    # rank 0 stops with the error of its failed collective (no launcher watches the tasks under SLURM)
    assert second.returncode in (2, -signal.SIGKILL) and "error (WorkerError): regime scratch stopped" in second.stderr, (
        second.returncode, second.stderr[-3000:])


def test_under_torchrun_the_same_command_finishes_equal_to_an_uninterrupted_study(runs):
    third = runs["faulty"][2]
    assert third.returncode == 0, third.stdout[-2000:] + third.stderr[-3000:]
    assert third.stdout.count("[study] study finished") == 1  # rank zero alone reports
    assert "finetune: complete, skipped" in third.stdout
    assert_same(snapshot(runs["root"] / "faulty"), snapshot(runs["root"] / "reference"))
