"""Killed runs: a study SIGKILLed (a) in an interaction evaluation, (b) while an artifact is written, then
started again with the same command, ends with the same artifacts and report as a run that was never interrupted.
A kill in training is the same check inside a LoRA regime (tests/study/test_regime_study.py) and under DDP
(tests/reliability/test_ddp_study.py).

The kill is injected without touching the code under test: (a) by a test-only Lightning
callback added through the study config (``inject/kill_callback.py``), (b) by a ``sitecustomize``
on the subprocess's PYTHONPATH that stops ``atomic_write_bytes`` between the temporary file and
the rename (``inject/sitecustomize.py``). Each kills only once (marker file), so the second run of
the same command goes through; it runs in the test's own process (no interpreter start-up).
"""
from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.reliability.harness import assert_same, cli_env, run_cli, run_in_process, snapshot

pytestmark = pytest.mark.slow


def no_temp_files(study: Path) -> list[Path]:
    return [p for p in study.rglob(".*.tmp")]


def kill_then_rerun(cfg: Path, study: Path, marker: Path, env: dict | None = None) -> str:
    """Run the study until the injected kill, then run the same command again; return its output."""
    first = run_cli("study", "--config", str(cfg), env=env)
    assert first.returncode == -signal.SIGKILL, (first.returncode, first.stdout[-2000:], first.stderr[-2000:])
    assert marker.is_file()
    assert not (study / "report" / "report.md").exists()
    assert (study / "finetune" / "checkpoints" / "last.ckpt").is_file()  # epoch 1 of finetune was checkpointed
    rc, second, err = run_in_process("study", "--config", str(cfg))  # the same command again, in this process
    assert rc == 0, second[-2000:] + err[-3000:]
    assert "[study] study finished" in second
    assert "probe: complete, skipped" in second
    # the interrupted regime resumed from its checkpoint (it was not redone from the start)
    assert f"finetune -> {study / 'finetune'} (resuming from {study / 'finetune' / 'checkpoints' / 'last.ckpt'})" in second
    return second


def test_killed_during_an_interaction_evaluation_resumes_to_the_same_result(tiny_study_config, tmp_path,
                                                                            uninterrupted):
    # after the last epoch of finetune: last.ckpt of that epoch is written, its evaluation is not
    marker = tmp_path / "marker"
    cfg, study = tiny_study_config(dict(marker=str(marker), regime="finetune", at="evaluation", epoch=1, call=2))
    kill_then_rerun(cfg, study, marker)
    assert "interaction evaluation after epoch 1" in marker.read_text()
    assert_same(snapshot(study), uninterrupted)


def test_killed_while_an_artifact_is_written_resumes_to_the_same_result(tiny_study_config, tmp_path,
                                                                        uninterrupted):
    marker = tmp_path / "marker"
    cfg, study = tiny_study_config(dict(marker=str(marker), at="never"))
    env = cli_env(HARSANYI_KILL_WRITE="finetune/interactions/epoch_002.pt", HARSANYI_KILL_MARKER=str(marker))
    first = run_cli("study", "--config", str(cfg), env=env)
    assert first.returncode == -signal.SIGKILL, (first.returncode, first.stderr[-2000:])
    half = no_temp_files(study)
    assert [p.name.startswith(".epoch_002.pt.") for p in half] == [True]  # the half-written temp file
    assert not (study / "finetune" / "interactions" / "epoch_002.pt").exists()
    rc, second, err = run_in_process("study", "--config", str(cfg))  # the same command again, in this process
    assert rc == 0, second[-2000:] + err[-3000:]
    assert "[study] study finished" in second
    assert "(resuming from" in second and "removing" in second
    assert no_temp_files(study) == []
    assert_same(snapshot(study), uninterrupted)
