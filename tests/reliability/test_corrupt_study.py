"""A finished study whose shared annotation.pt was damaged: a rerun of the same command fails with a
clear error naming the file and does not rebuild it (nor redo any regime on a new sample set); a
damaged epoch file of a regime is named by `report`."""
from __future__ import annotations

import shutil

import pytest

from tests.reliability.harness import REGIMES, run_in_process

pytestmark = pytest.mark.slow


def stage_files(study):
    return {str(p): p.stat().st_mtime_ns for s in REGIMES for p in (study / s).rglob("*") if p.is_file()}


def test_rerun_with_corrupt_shared_annotation_fails_clearly_and_rebuilds_nothing(finished_study, tmp_path):
    cfg, study = finished_study
    anno = study / "annotation.pt"
    saved = anno.read_bytes()
    try:
        anno.write_bytes(saved[: len(saved) // 3])
        before = stage_files(study)
        rc, _, stderr = run_in_process("study", "--config", str(cfg))
        assert rc == 2, stderr[-3000:]
        assert "Traceback" not in stderr
        err = stderr.strip().splitlines()[-1]
        assert err.startswith("error (AnnotationError):") and str(anno) in err and "corrupt" in err
        assert "--force" in err
        assert anno.read_bytes() == saved[: len(saved) // 3]  # not rebuilt
        assert stage_files(study) == before  # no regime touched
    finally:
        anno.write_bytes(saved)


def test_report_names_a_corrupt_epoch_file(finished_study, tmp_path):
    _, study = finished_study
    copy = tmp_path / "copy"
    shutil.copytree(study, copy)
    final = copy / "scratch" / "interactions" / "epoch_002.pt"
    final.write_bytes(final.read_bytes()[:100])
    rc, _, err = run_in_process("report", str(copy))
    assert rc == 2 and "Traceback" not in err
    assert str(final) in err and "corrupt" in err
