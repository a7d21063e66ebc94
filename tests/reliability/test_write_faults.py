"""Disk full and write errors (ENOSPC, EIO, EACCES) at each write site of a study, then the same command
again: each fault stops the study with a StorageError naming the file and the errno, leaves every earlier
file intact (no temporary file behind), and once the faults are gone the same command finishes with the
result of an uninterrupted run. One sequence of runs of the same tiny study (in-process, as `cli.py study`
runs it), each with one fault further along, then a clean one; one test case per fault.

The faults are raised where the OS raises them (see ``inject/write_faults.py``). During the run of the
7th fault, the probe stage's folder is deleted after probe was found complete and before finetune
starts: it must be redone, not half-read.
"""
from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
import torch

import harsanyi_lightning.study.run.loop as loop
from tests.reliability.harness import assert_same, last_line, run_in_process, snapshot, write_tiny_study
from harsanyi_lightning.interactions.artifacts import load_artifact
from write_faults import fail_write

#: (file, errno, writes of the file let through first): one run of the same command each, in the order
#: the study reaches them
FAULTS = [
    ("study.json", errno.ENOSPC, 0),                          # the manifest, the study's first write
    ("annotation.pt", errno.EIO, 0),                          # the shared annotated sample set
    ("probe/interactions/epoch_001.pt", errno.EACCES, 0),     # an interaction artifact, mid-regime
    ("probe/checkpoints/last.ckpt", errno.ENOSPC, 1),         # a checkpoint: epoch 1's (epoch 0's must survive)
    ("probe/summary.json", errno.EIO, 0),                     # a stage's completion marker
    ("finetune/regime.json", errno.EACCES, 0),                 # a stage's configuration record
    ("scratch/interactions/jaccard.json", errno.ENOSPC, 0),   # end of the last regime (probe deleted meanwhile)
    ("report/report.json", errno.EIO, 0),                     # the report
    ("report/report.md", errno.EACCES, 0),
]
DELETE_BETWEEN_STAGES = "scratch/interactions/jaccard.json"  # the run in which probe's folder is deleted


def valid(path: Path) -> bool:
    """Whether a study file is whole: artifacts pass their hash check, JSON parses, checkpoints load."""
    if path.suffix == ".pt":
        load_artifact(path, "annotation" if path.name == "annotation.pt" else "interactions")
    elif path.suffix == ".json":
        json.loads(path.read_text())
    elif path.suffix == ".ckpt":
        assert "state_dict" in torch.load(path, map_location="cpu", weights_only=False)
    elif path.suffix == ".md":
        assert path.read_text().startswith("#")
    elif path.suffix == ".png":
        assert path.read_bytes().startswith(b"\x89PNG")
    return True


def _epoch_of(ckpt: Path) -> int | None:
    return torch.load(ckpt, map_location="cpu", weights_only=False)["epoch"] if ckpt.is_file() else None


def results(study: Path) -> dict[str, bytes]:
    kinds = (".pt", ".json", ".ckpt", ".md", ".png")
    return {str(p.relative_to(study)): p.read_bytes() for p in study.rglob("*")
            if p.is_file() and p.suffix in kinds and not p.name.startswith(".")}


@pytest.fixture(scope="module")
def sequence(tmp_path_factory) -> dict:
    """Run the sequence once: ``{"study", "steps": [{rc, out, err, hit, before, after, ...}], "final"}``."""
    root = tmp_path_factory.mktemp("write_faults")
    marker = root / "marker"
    marker.write_text("disarmed")  # the same config as the uninterrupted reference (kill callback disarmed)
    cfg = write_tiny_study(root / "configs", root / "study", dict(marker=str(marker)))
    study = root / "study"
    steps = []
    for suffix, err, after in FAULTS:
        before = results(study) if study.exists() else {}
        with pytest.MonkeyPatch.context() as mp:
            fault = fail_write(mp, str(study / suffix), err, after)
            deleted = []
            if suffix == DELETE_BETWEEN_STAGES:
                real_run_regime = loop.run_regime

                def run_regime(plan, index, regime, make_cli, processes=None):
                    summary = real_run_regime(plan, index, regime, make_cli, processes)
                    if regime == "probe" and not deleted:  # probe complete; before finetune's turn
                        shutil.rmtree(study / "probe")
                        deleted.append(True)
                    return summary

                mp.setattr(loop, "run_regime", run_regime)
            rc, out, err_text = run_in_process("study", "--config", str(cfg))
        steps.append(dict(suffix=suffix, errno=err, rc=rc, out=out, err=err_text, hit=fault.hit, before=before,
                          after=results(study), temps=[str(p) for p in study.rglob(".*.tmp")],
                          deleted=bool(deleted), kept_epoch=_epoch_of(study / suffix) if after else None))
    rc, out, err_text = run_in_process("study", "--config", str(cfg))
    return {"study": study, "steps": steps, "final": dict(rc=rc, out=out, err=err_text)}


@pytest.mark.parametrize("suffix, code, after", FAULTS, ids=[f"{s}-{errno.errorcode[e]}" for s, e, _ in FAULTS])
def test_a_failed_write_is_named_and_every_earlier_file_is_intact(sequence, suffix, code, after):
    study = sequence["study"]
    step = next(s for s in sequence["steps"] if s["suffix"] == suffix)
    target = study / suffix
    assert step["hit"] == str(target), (step["hit"], step["err"][-3000:])
    assert step["rc"] == 2 and "Traceback" not in step["err"], step["err"][-3000:]
    msg = last_line(step["err"])
    assert msg.startswith(f"error (StorageError): could not write {target}: {errno.errorcode[code]} (")
    assert "Every file written before is intact" in msg and "run the same command again" in msg
    assert step["temps"] == []  # the failed write's temporary file is gone
    gone_by_design = ("probe/",) if step["deleted"] else ()
    for rel, data in step["before"].items():
        if rel.startswith(gone_by_design):
            continue
        assert rel in step["after"], f"{rel} disappeared"
        assert valid(study / rel) if (study / rel).exists() else True
        if rel == suffix:  # the file the failed write would have replaced is the old one
            assert step["after"][rel] == data, f"{rel} changed"
    for rel in step["after"]:
        if not rel.startswith(gone_by_design) and (study / rel).exists():
            assert valid(study / rel), rel
    if after:  # the file was written before in this run: that version is the one left
        assert step["kept_epoch"] == after - 1, step["kept_epoch"]


def test_a_regime_folder_deleted_between_regimes_is_redone(sequence):
    step = next(s for s in sequence["steps"] if s["suffix"] == DELETE_BETWEEN_STAGES)
    assert step["deleted"]
    assert "[study] regime probe is no longer complete" in step["out"] and "it is redone" in step["out"]
    assert "regime 1/3: probe ->" in step["out"].split("no longer complete", 1)[1]  # run again, from the start
    assert (sequence["study"] / "probe" / "summary.json").is_file()


def test_after_the_faults_the_same_command_finishes_equal_to_an_uninterrupted_run(sequence, uninterrupted):
    final = sequence["final"]
    assert final["rc"] == 0 and "[study] study finished" in final["out"], final["err"][-3000:]
    assert_same(snapshot(sequence["study"]), uninterrupted)
