"""The tiny study as a user runs it: ``python cli.py study --config configs/tiny/study.yaml`` in a subprocess under
umask 0022, once for the module. Every file it writes is readable by group and others (docs/troubleshooting.md),
and its report says at its top that its models, at chance, did not learn: a smoke test
(docs/study.md#models-that-did-not-learn)."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.harness import cli_env
from tests.shared_data import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory) -> Path:
    study = tmp_path_factory.mktemp("tiny") / "study"
    proc = subprocess.run([sys.executable, "cli.py", "study", "--config", "configs/tiny/study.yaml", "--study_dir",
                           str(study)], cwd=ROOT, env=cli_env(), capture_output=True, text=True,
                          preexec_fn=lambda: os.umask(0o022))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return study


def test_every_file_of_the_study_is_readable_by_group_and_others(tiny_study):
    files = [p for p in tiny_study.rglob("*") if p.is_file()]
    kinds = {p.suffix or p.name for p in files}
    assert {".pt", ".ckpt", ".json", ".md", ".png", ".yaml"} <= kinds, kinds  # artifacts, checkpoints, report, logs
    unreadable = [f"{stat.filemode(p.stat().st_mode)} {p.relative_to(tiny_study)}" for p in files
                  if p.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH) != (stat.S_IRGRP | stat.S_IROTH)]
    assert not unreadable, unreadable
    folders = [p for p in tiny_study.rglob("*") if p.is_dir()]
    assert all(p.stat().st_mode & 0o055 == 0o055 for p in folders)  # and its folders can be entered


def test_the_report_of_models_at_chance_says_it_is_a_smoke_test(tiny_study):
    report = json.loads((tiny_study / "report" / "report.json").read_text())
    assert report["not_learned"] == ["probe", "finetune", "scratch"]
    assert all(c["num_classes"] == 2 and c["classes_from"] == "summary" for c in report["learning"].values())
    md = (tiny_study / "report" / "report.md").read_text()
    top = md.split("## The paper's findings")[0]
    assert "> **Warning: no model learned the task.**" in top and "**This study is a smoke test**" in top
    about_models = [f for f in report["findings"] if f["needs"]]
    assert about_models and all(f["verdict"] == "not measurable" and "did not learn the task" in f["why"]
                                for f in about_models)
