"""Fixtures of the reliability catalogue; the helpers live in harness.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import run_study_with_a_second_attempt, snapshot, write_tiny_study


@pytest.fixture
def tiny_study_config(tmp_path):
    """``make(kill=None) -> (config path, study dir)`` in a fresh temporary folder."""
    def make(kill: dict | None = None, name: str = "study", n: int = 5) -> tuple[Path, Path]:
        study = tmp_path / name
        return write_tiny_study(tmp_path / f"{name}_configs", study, kill, n), study

    return make


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> dict:
    """The tiny study run once to the end by ``python cli.py study`` (its kill callback present but
    disarmed), while the same command was started a second time on the same folder (see
    ``run_study_with_a_second_attempt``): ``{"config", "study", "first", "second"}``."""
    root = tmp_path_factory.mktemp("finished")
    marker = root / "marker"
    marker.write_text("disarmed")
    cfg = write_tiny_study(root / "configs", root / "study", dict(marker=str(marker)))
    first, second = run_study_with_a_second_attempt(cfg, root / "study")
    if first.returncode != 0:
        raise AssertionError(f"the study failed ({first.returncode}):\n{first.stdout[-3000:]}\n{first.stderr[-3000:]}")
    return {"config": cfg, "study": root / "study", "first": first, "second": second}


@pytest.fixture(scope="session")
def finished_study(finished_run) -> tuple[Path, Path]:
    """``(config, study dir)`` of the tiny study run once to the end. Tests that change it must restore
    it, or work on a copy."""
    return finished_run["config"], finished_run["study"]


@pytest.fixture(scope="session")
def uninterrupted(finished_study) -> dict:
    """The reference result: the snapshot of the tiny study never interrupted."""
    return snapshot(finished_study[1])
