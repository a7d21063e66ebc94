"""Unwritable folders: a read-only study folder, report folder or regime folder stops `cli.py study` (and
`cli.py report`) before any work with a ConfigError naming the folder and the errno. (A regime folder
deleted between regimes is redone: see test_write_faults.py, whose sequence deletes one.)"""
from __future__ import annotations

import shutil

import pytest

from tests.reliability.harness import last_line, run_in_process
from write_faults import read_only


def nothing_done(study) -> None:
    assert not (study / "study.json").exists() and not (study / "annotation.pt").exists()
    assert not list(study.rglob("regime.json")) and not list(study.rglob("*.ckpt"))


@pytest.mark.parametrize("folder", ["", "report", "probe/checkpoints"], ids=["study", "report", "stage"])
def test_read_only_folder_fails_before_the_study_starts(tiny_study_config, folder):
    cfg, study = tiny_study_config()
    target = study / folder
    target.mkdir(parents=True, exist_ok=True)
    with read_only(target):
        rc, out, err = run_in_process("study", "--config", str(cfg))
    assert rc == 2, err[-3000:]
    msg = last_line(err)
    assert msg.startswith("error (ConfigError): ") and "Traceback" not in err
    assert f"{target} is not writable (EACCES (Permission denied))" in msg and "chmod" in msg
    assert "[study] regime" not in out
    nothing_done(study)


def test_report_into_a_read_only_report_folder_fails_before_reading_the_study(finished_study, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(finished_study[1], copy)
    before = (copy / "report" / "report.md").read_bytes()
    with read_only(copy / "report"):
        rc, _, err = run_in_process("report", str(copy))
    assert rc == 2 and "Traceback" not in err
    msg = last_line(err)
    assert msg.startswith(f"error (ConfigError): the report folder {copy / 'report'} cannot be written")
    assert "EACCES" in msg and (copy / "report" / "report.md").read_bytes() == before
