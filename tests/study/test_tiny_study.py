"""The tiny study as a user runs it: ``python cli.py study --config configs/tiny/study.yaml`` in a subprocess under
umask 0022, from a working folder of its own (the config's relative ``studies/tiny`` lands there), once for the
module. Every file it writes is readable by group and others (docs/troubleshooting.md),
its report says at its top that its models, at chance, did not learn: a smoke test
(docs/study.md#models-that-did-not-learn); and ``cli.py report`` of two copies of it writes one comparison folder,
leaving their reports as they were (docs/study.md#comparing-studies)."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from harsanyi_lightning.cli import run_from_command_line
from tests.reliability.harness import cli_env
from tests.shared_data import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:LightningCLI's args parameter:UserWarning")]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory) -> Path:
    """The study written where the user's working folder is, into the config's relative ``studies/tiny``."""
    work = tmp_path_factory.mktemp("tiny")
    command = [sys.executable, str(ROOT / "cli.py"), "study", "--config", str(ROOT / "configs" / "tiny" / "study.yaml")]
    proc = subprocess.run(command, cwd=work, env=cli_env(), capture_output=True, text=True, preexec_fn=lambda: os.umask(0o022))
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = work / "studies" / "tiny"
    for regime in ("probe", "finetune", "scratch"):  # each regime's logs in its own folder, not nested again
        assert list((study / regime / "tb").glob("events.out.tfevents.*")), regime
    assert not (study / "probe" / "studies").exists()
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
    assert all(c["num_classes"] == 2 and c["classes_from"] == "summary" for c in report["learned"].values())
    md = (tiny_study / "report" / "report.md").read_text()
    top = md.split("## The paper's findings")[0]
    assert "> **Warning: no model learned the task.**" in top and "**This study is a smoke test**" in top
    about_models = [f for f in report["findings"] if f["needs"]]
    assert about_models and all(f["verdict"] == "not measurable" and "did not learn the task" in f["why"]
                                for f in about_models)


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def two_studies(tiny_study, tmp_path) -> tuple[Path, Path]:
    """Two copies of the tiny study side by side, ``studies/a`` and ``studies/b``."""
    a, b = tmp_path / "studies" / "a", tmp_path / "studies" / "b"
    shutil.copytree(tiny_study, a)
    shutil.copytree(tiny_study, b)
    return a, b


def test_report_of_two_studies_writes_one_comparison_and_leaves_their_reports_as_they_were(two_studies, capsys):
    a, b = two_studies
    before = {d: folder_bytes(d / "report") for d in (a, b)}
    assert run_from_command_line(["report", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    folder = a.parent / "comparison"
    assert f"[report] comparison of 2 studies -> {folder}" in out
    for name in ("headline.png", "jaccard.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    md = (folder / "comparison.md").read_text()
    assert "| number | a | b |" in md and "| val acc v_finetune | 50.0% [25.0%, 75.0%] | 50.0% [25.0%, 75.0%] |" in md
    data = json.loads((folder / "comparison.json").read_text())
    assert [s["name"] for s in data["studies"]] == ["a", "b"]
    assert data["studies"][0]["headline"] == data["studies"][1]["headline"]  # two copies of one study
    assert data["studies"][0]["not_learned"] == ["probe", "finetune", "scratch"]
    assert {d: folder_bytes(d / "report") for d in (a, b)} == before  # byte for byte, tb/ events included
    assert out.count("| a |") == 1 and out.count("| b |") == 1  # the table, one row per study


def test_report_with_out_and_study_reports_writes_both(two_studies, tmp_path, capsys):
    a, b = two_studies
    inode = (a / "report" / "report.md").stat().st_ino
    out = tmp_path / "mine"
    assert run_from_command_line(["report", str(a), str(b), "--out", str(out), "--study_reports", "true",
                                 "--figures", "false"]) == 0
    assert (out / "jaccard.png").is_file() and not (a.parent / "comparison").exists()
    assert (a / "report" / "report.md").stat().st_ino != inode  # rewritten, as asked
    assert f"[report] {a / 'report'}" in capsys.readouterr().out


def test_a_comparison_folder_inside_a_study_report_is_refused_before_any_work(two_studies, capsys):
    a, b = two_studies
    before = folder_bytes(a / "report")
    assert run_from_command_line(["report", str(a), str(b), "--out", str(a / "report" / "cmp")]) == 2
    err = capsys.readouterr().err
    assert "error (ConfigError): the comparison folder" in err and "inside the report of" in err
    assert folder_bytes(a / "report") == before
