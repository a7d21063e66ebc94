"""Fixtures of the reliability catalogue; the helpers live in harness.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness import run_cli, write_tiny_study


@pytest.fixture
def tiny_study_config(tmp_path):
    """``make(kill=None) -> (config path, study dir)`` in a fresh temporary folder."""
    def make(kill: dict | None = None, name: str = "study", n: int = 5) -> tuple[Path, Path]:
        study = tmp_path / name
        return write_tiny_study(tmp_path / f"{name}_configs", study, kill, n), study

    return make


@pytest.fixture(scope="session")
def finished_study(tmp_path_factory) -> tuple[Path, Path]:
    """``(config, study dir)`` of the tiny study run once to the end by ``python cli.py study`` (its
    kill callback present but disarmed). Tests that change it must restore it, or work on a copy."""
    root = tmp_path_factory.mktemp("finished")
    marker = root / "marker"
    marker.write_text("disarmed")
    cfg = write_tiny_study(root / "configs", root / "study", dict(marker=str(marker)))
    run_cli("study", "--config", str(cfg), check=True)
    return cfg, root / "study"
